// Package expectations keeps a controller from acting twice on one change:
// after asking the API to create or delete n objects, the controller waits
// until its informers have shown those n events (or a timeout passes)
// before it counts objects again, as kube-controller-manager's
// ControllerExpectations do. Without it a ReplicaSet that just created
// three pods would, on its next sync, still see none in its cache and
// create three more.
package expectations

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// TTL after which unmet expectations are forgotten (a lost watch event
// must not stall a controller forever): kube-controller-manager's 5 minutes.
const TTL = 5 * time.Minute

type record struct {
	add, del  int64
	timestamp time.Time
}

// Expectations are per controller key.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*record
}

// New returns empty expectations.
func New(c clock.PassiveClock) *Expectations {
	if c == nil {
		c = clock.RealClock{}
	}
	return &Expectations{clock: c, m: map[string]*record{}}
}

// Expect records that adds creations and dels deletions were asked for.
func (e *Expectations) Expect(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &record{add: int64(adds), del: int64(dels), timestamp: e.clock.Now()}
}

// Observed lowers the expectations when the informer shows a creation (or
// a deletion).
func (e *Expectations) Observed(key string, created bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.m[key]
	if !ok {
		return
	}
	if created {
		r.add--
	} else {
		r.del--
	}
}

// Lower lowers the expectations for requests that failed (they will not
// show up in the informer).
func (e *Expectations) Lower(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.m[key]; ok {
		r.add -= int64(adds)
		r.del -= int64(dels)
	}
}

// Satisfied reports whether the controller may act on its cache: every
// expected event arrived, or none was expected, or they timed out.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.m[key]
	if !ok {
		return true
	}
	if (r.add <= 0 && r.del <= 0) || e.clock.Since(r.timestamp) > TTL {
		delete(e.m, key)
		return true
	}
	return false
}

// Delete forgets a key (its object was deleted).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
