package prober

import (
	"context"
	"log/slog"
	"net"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Kind is the kind of a probe.
type Kind int

const (
	Liveness Kind = iota
	Readiness
	Startup
)

// String is the word the kubelet starts its probe messages with.
func (k Kind) String() string {
	switch k {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	case Startup:
		return "Startup"
	}
	return "Unknown"
}

// kinds is every Kind, in the order workers are created.
var kinds = [...]Kind{Startup, Liveness, Readiness}

// Result is the thresholded outcome of a probe.
type Result int

const (
	// Unknown is a startup probe's result until it succeeds or fails
	// failureThreshold times.
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	}
	return "Unknown"
}

// ContainerInfo identifies one running container instance.
type ContainerInfo struct {
	// ID is the runtime's container ID; a new ID is a new container and
	// gets fresh probe workers.
	ID string
	// StartedAt is when the container started; initialDelaySeconds counts
	// from here.
	StartedAt time.Time
}

// Update says that one probe result of one container changed.
type Update struct {
	PodUID      types.UID
	Container   string
	ContainerID string
	Kind        Kind
	Result      Result
	// Message is the last failure, phrased as the kubelet phrases its event
	// ("Liveness probe failed: HTTP probe failed with statuscode: 500");
	// empty for Success.
	Message string
}

// Restart says a container failed its liveness or startup probe and must be
// restarted.
type Restart struct {
	// Kind is Liveness or Startup.
	Kind Kind
	// Message is the failure that crossed the threshold, as in Update.
	Message string
	// TerminationGracePeriodSeconds is the probe's own grace period for
	// the kill; nil means the pod's terminationGracePeriodSeconds.
	TerminationGracePeriodSeconds *int64
}

// Recorder receives the probe events. client-go's record.EventRecorder
// satisfies it; the object is an *ObjectReference to the container
// (fieldPath spec.containers{name}), as the kubelet's events carry.
type Recorder interface {
	Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any)
}

// Event reasons, as the kubelet names them (pkg/kubelet/events).
const (
	ReasonUnhealthy    = "Unhealthy"
	ReasonProbeWarning = "ProbeWarning"
)

// DefaultUserAgent is what httpGet and grpc probes send, as kubelet 1.33 does.
const DefaultUserAgent = "kube-probe/1.33"

// Options configure a Manager. The zero value works.
type Options struct {
	// Clock drives probe periods and initial delays (default: the real
	// clock). Probe timeouts are wall-clock time, as the network's are.
	Clock clock.WithTicker
	// Logger receives one line per result change (default: discard).
	Logger *slog.Logger
	// Recorder receives an event for every failed probe (default: none).
	Recorder Recorder
	// DialContext, if set, opens the connections of httpGet, tcpSocket and
	// grpc probes, e.g. to reach pod IPs through another network namespace.
	// The default is a net.Dialer that lingers 1 s on close, as the
	// kubelet's, so probes do not pile up sockets in TIME-WAIT.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// UserAgent overrides DefaultUserAgent (an httpGet probe's own
	// User-Agent header still wins).
	UserAgent string
}
