package servicepods

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TriggerTimes computes the endpoints.kubernetes.io/last-change-trigger-time
// annotation: the earliest time of a change (a pod's Ready transition, the
// Service's creation) that the endpoints written now are the first to
// show. Latency tooling subtracts it from the time a proxy programs the
// change. Like upstream's tracker it can report a later time when one pod
// changes twice between two syncs; that rare error is accepted.
//
// Compute is safe for concurrent use with different Services; the
// workqueue never hands one Service to two workers at once.
type TriggerTimes struct {
	mu     sync.Mutex
	states map[types.NamespacedName]triggerState
}

type triggerState struct {
	service time.Time
	pods    map[string]time.Time
}

// NewTriggerTimes returns an empty tracker.
func NewTriggerTimes() *TriggerTimes {
	return &TriggerTimes{states: map[types.NamespacedName]triggerState{}}
}

// Compute records the state seen now for svc and returns the trigger time
// to publish; zero means publish none (nothing changed since the last
// sync). The first sync of a Service publishes its creation time.
func (t *TriggerTimes) Compute(svc *corev1.Service, pods []*corev1.Pod) time.Time {
	key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	t.mu.Lock()
	prev, known := t.states[key]
	t.mu.Unlock()

	var earliest time.Time
	consider := func(ts time.Time) {
		if earliest.IsZero() || ts.Before(earliest) {
			earliest = ts
		}
	}
	next := triggerState{service: svc.CreationTimestamp.Time, pods: make(map[string]time.Time, len(pods))}
	for _, p := range pods {
		ts := readySince(p)
		if ts.IsZero() {
			continue
		}
		next.pods[p.Name] = ts
		if ts.After(prev.pods[p.Name]) {
			consider(ts)
		}
	}
	if next.service.After(prev.service) {
		consider(next.service)
	}
	t.mu.Lock()
	t.states[key] = next
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

// Forget drops what is known of a deleted Service.
func (t *TriggerTimes) Forget(namespace, name string) {
	t.mu.Lock()
	delete(t.states, types.NamespacedName{Namespace: namespace, Name: name})
	t.mu.Unlock()
}
