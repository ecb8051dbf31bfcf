package job

import (
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Pod-failure back-off: a failed pod is replaced after 10 s, then 20 s,
// 40 s… up to 6 minutes, counting the failures since the last success.
const (
	podFailureBackoffBase = 10 * time.Second
	podFailureBackoffMax  = 6 * time.Minute
)

// backoffRecord is what the back-off of one Job depends on.
type backoffRecord struct {
	failuresSinceSuccess int32
	lastFailure          time.Time
}

// nextBackoff folds newly finished pods into a record. A success resets the
// count, and only failures that ended after the newest success count.
func nextBackoff(old backoffRecord, succeeded, failed []*corev1.Pod) backoffRecord {
	if len(succeeded) == 0 && len(failed) == 0 {
		return old
	}
	failedAt := finishTimes(failed)
	if len(succeeded) == 0 {
		return backoffRecord{failuresSinceSuccess: old.failuresSinceSuccess + int32(len(failed)), lastFailure: failedAt[len(failedAt)-1]}
	}
	succeededAt := finishTimes(succeeded)
	lastSuccess := succeededAt[len(succeededAt)-1]
	var rec backoffRecord
	for _, t := range failedAt {
		if t.After(lastSuccess) {
			rec.failuresSinceSuccess++
			rec.lastFailure = t
		}
	}
	return rec
}

func finishTimes(pods []*corev1.Pod) []time.Time {
	out := make([]time.Time, len(pods))
	for i, p := range pods {
		out[i] = finishedAt(p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// delay is how long after the last failure a replacement may start:
// base·2^(n-1), at most max.
func (r backoffRecord) delay() time.Duration {
	if r.failuresSinceSuccess == 0 {
		return 0
	}
	d := podFailureBackoffBase
	for i := int32(1); i < r.failuresSinceSuccess && d < podFailureBackoffMax; i++ {
		d *= 2
	}
	return min(d, podFailureBackoffMax)
}

// remaining is how long from now until the next pod may be created.
func (r backoffRecord) remaining(now time.Time) time.Duration {
	d := r.delay()
	if d == 0 {
		return 0
	}
	return max(0, d-now.Sub(r.lastFailure))
}

// backoffStore keeps the records in memory. It is rebuilt from nothing
// after a restart, as upstream's is: pods already counted in the Job's
// status no longer say when they failed, so a restarted controller may
// replace a failed pod a little early, never late.
type backoffStore struct {
	mu sync.Mutex
	m  map[string]backoffRecord
}

func newBackoffStore() *backoffStore { return &backoffStore{m: map[string]backoffRecord{}} }

func (s *backoffStore) get(key string) backoffRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}

func (s *backoffStore) set(key string, r backoffRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = r
}

func (s *backoffStore) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}
