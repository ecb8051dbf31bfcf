package scheduler

import (
	"log/slog"
	"math/rand/v2"
	"runtime"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// DefaultSchedulerName is the spec.schedulerName the API server defaults
// pods to.
const DefaultSchedulerName = "default-scheduler"

// Options configure a Scheduler. The zero value is ready for production.
type Options struct {
	// SchedulerName is the spec.schedulerName of the pods to schedule,
	// and the reportingController of the events (default
	// "default-scheduler").
	SchedulerName string
	// Parallelism is how many goroutines filter and score nodes (default
	// GOMAXPROCS).
	Parallelism int
	// Clock drives backoff, the unschedulable flush, assumed-pod expiry
	// and condition timestamps (default the real clock). It must make
	// timers, not just tell the time, so it is a clock.Clock rather than
	// a PassiveClock; k8s.io/utils/clock/testing.FakeClock fits.
	Clock clock.Clock
	// Logger receives structured logs (default: discarded).
	Logger *slog.Logger
	// PercentageOfNodesToScore caps the share of nodes searched for
	// feasible ones on large clusters (0: kube-scheduler's adaptive share).
	PercentageOfNodesToScore int32
	// Tiebreak picks among n equally scored nodes (default: at random,
	// as kube-scheduler). Tests set it for determinism.
	Tiebreak func(n int) int
	// InitialBackoff, MaxBackoff and MaxUnschedulable tune the queue
	// (defaults 1 s, 10 s, 5 min, as kube-scheduler).
	InitialBackoff, MaxBackoff, MaxUnschedulable time.Duration
	// AssumedPodTTL is how long a pod whose bind succeeded may stay
	// unconfirmed by the informer before the cache stops counting it
	// (default 15 min; negative: never).
	AssumedPodTTL time.Duration
}

func (o *Options) defaults() {
	if o.SchedulerName == "" {
		o.SchedulerName = DefaultSchedulerName
	}
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tiebreak == nil {
		o.Tiebreak = rand.IntN
	}
	if o.AssumedPodTTL == 0 {
		o.AssumedPodTTL = 15 * time.Minute
	}
}

// Client-side rate limits for the scheduler's API client; see RESTConfig.
const (
	ClientQPS   = 5000
	ClientBurst = 5000
)

// RESTConfig returns a copy of base with the rate limits the scheduler
// needs. client-go's default of 5 QPS would cap scheduling at 5 pods/s,
// since every scheduled pod costs at least two requests: the binding and
// the Scheduled event (plus a status patch and an event for each pod that
// does not fit). At 1000 QPS the limiter itself would cap a burst at 500
// pods/s, the very target; 5000 QPS (what kube-scheduler's scheduler_perf
// runs with) leaves the API server, not the limiter, as the bound, while
// still stopping a runaway loop from flooding it.
func RESTConfig(base *rest.Config) *rest.Config {
	cfg := rest.CopyConfig(base)
	cfg.QPS = ClientQPS
	cfg.Burst = ClientBurst
	cfg.RateLimiter = nil
	return cfg
}
