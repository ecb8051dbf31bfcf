package podstate

import "time"

// Back-off of failed containers and failed pulls, as the kubelet's:
// 10 s, doubling to 5 min, forgotten after 10 min without a new failure.
const (
	InitialBackoff = 10 * time.Second
	MaxBackoff     = 5 * time.Minute
	// backoffReset: an entry not bumped for this long starts over.
	backoffReset = 2 * MaxBackoff
)

// Backoff is one container's (or image's) back-off state. The zero value
// is "never failed".
type Backoff struct {
	Period     time.Duration
	LastUpdate time.Time
}

// Next records a failure at now and returns the new state: the first
// failure (or the first after a long healthy run) waits InitialBackoff,
// each further one twice the last, capped at MaxBackoff.
func (b Backoff) Next(now time.Time) Backoff {
	if b.Period == 0 || now.Sub(b.LastUpdate) > backoffReset {
		return Backoff{Period: InitialBackoff, LastUpdate: now}
	}
	return Backoff{Period: min(2*b.Period, MaxBackoff), LastUpdate: now}
}

// Until returns when a container that finished at finished may be
// restarted; zero when it may be at once.
func (b Backoff) Until(finished, now time.Time) time.Time {
	if b.Period == 0 || now.Sub(b.LastUpdate) > backoffReset {
		return time.Time{}
	}
	t := finished.Add(b.Period)
	if !t.After(now) {
		return time.Time{}
	}
	return t
}
