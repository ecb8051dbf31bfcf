package queue

import (
	"container/heap"
	"context"
	"reflect"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/scheduler/filter"
	"github.com/skiff-dev/skiff/scheduler/framework"
)

// Options tune the queue; zero values take kube-scheduler's defaults.
type Options struct {
	// InitialBackoff is the wait after the first failed attempt (1 s).
	InitialBackoff time.Duration
	// MaxBackoff caps the doubling (10 s).
	MaxBackoff time.Duration
	// MaxUnschedulable is how long a pod may wait in unschedulable
	// without any event before it is retried anyway (5 min).
	MaxUnschedulable time.Duration
}

func (o *Options) defaults() {
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.MaxUnschedulable <= 0 {
		o.MaxUnschedulable = 5 * time.Minute
	}
}

// QueuedPod is a pod in the queue with its scheduling history.
type QueuedPod struct {
	Pod *v1.Pod
	// Attempts counts scheduling attempts, including the current one.
	Attempts int
	// Timestamp is when the pod was last put in the queue; backoff and
	// the unschedulable flush count from it.
	Timestamp time.Time
	// FirstQueued is when the pod first entered the queue, for latency.
	FirstQueued time.Time
	// RejectedBy lists the filters that rejected the pod last time; nil
	// when no node existed at all.
	RejectedBy filter.PluginSet
}

// Event is a cluster change. Hint reports whether it may make a pod that
// failed its last attempt schedulable.
type Event struct {
	Name string
	Hint func(*QueuedPod) bool
}

type where uint8

const (
	inActive where = iota + 1
	inBackoff
	inUnschedulable
	inFlight
)

type entry struct {
	qp    *QueuedPod
	where where
	index int   // position in its heap
	seq   int64 // insertion order, the last tie-breaker

	// For in-flight pods: the event count when popped, and whether the
	// pod itself changed or was deleted meanwhile.
	popSeq  int64
	updated bool
	deleted bool
}

// Queue is the scheduling queue. Create it with New.
type Queue struct {
	clock clock.Clock
	opts  Options

	mu            sync.Mutex
	entries       map[string]*entry
	active        entryHeap
	backoff       entryHeap
	unschedulable map[string]*entry
	// inFlight holds the popped pods whose attempt has not ended; binds
	// run asynchronously, so there can be many.
	inFlight map[string]*entry
	// events that happened while pods were in flight; events[i] has
	// sequence number eventBase+i+1.
	events    []Event
	eventBase int64
	eventSeq  int64
	seq       int64
	// wake has a token when Pop should look again.
	wake chan struct{}
}

// New returns an empty queue.
func New(clk clock.Clock, opts Options) *Queue {
	opts.defaults()
	q := &Queue{
		clock:         clk,
		opts:          opts,
		entries:       map[string]*entry{},
		unschedulable: map[string]*entry{},
		inFlight:      map[string]*entry{},
		wake:          make(chan struct{}, 1),
	}
	q.active.less = func(a, b *entry) bool {
		pa, pb := priority(a.qp.Pod), priority(b.qp.Pod)
		if pa != pb {
			return pa > pb
		}
		if !a.qp.Timestamp.Equal(b.qp.Timestamp) {
			return a.qp.Timestamp.Before(b.qp.Timestamp)
		}
		return a.seq < b.seq
	}
	q.backoff.less = func(a, b *entry) bool {
		ea, eb := q.backoffExpiry(a.qp), q.backoffExpiry(b.qp)
		if !ea.Equal(eb) {
			return ea.Before(eb)
		}
		return a.seq < b.seq
	}
	return q
}

func priority(pod *v1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// backoffDuration is InitialBackoff doubled per attempt after the first,
// capped at MaxBackoff.
func (q *Queue) backoffDuration(attempts int) time.Duration {
	d := q.opts.InitialBackoff
	for i := 1; i < attempts; i++ {
		if d >= q.opts.MaxBackoff/2 {
			return q.opts.MaxBackoff
		}
		d *= 2
	}
	return min(d, q.opts.MaxBackoff)
}

func (q *Queue) backoffExpiry(qp *QueuedPod) time.Time {
	if qp.Attempts == 0 {
		return qp.Timestamp
	}
	return qp.Timestamp.Add(q.backoffDuration(qp.Attempts))
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Add queues a new pending pod, or updates it if already queued.
func (q *Queue) Add(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e, ok := q.entries[framework.PodKey(pod)]; ok {
		q.updateLocked(e, pod)
		return
	}
	now := q.clock.Now()
	q.seq++
	e := &entry{qp: &QueuedPod{Pod: pod, Timestamp: now, FirstQueued: now}, seq: q.seq}
	q.entries[framework.PodKey(pod)] = e
	q.pushActive(e)
}

// Update records a change to a pending pod (queuing it if it is new).
func (q *Queue) Update(pod *v1.Pod) {
	q.Add(pod)
}

func (q *Queue) updateLocked(e *entry, pod *v1.Pod) {
	changed := podChanged(e.qp.Pod, pod)
	e.qp.Pod = pod
	switch e.where {
	case inActive:
		heap.Fix(&q.active, e.index)
	case inBackoff:
		heap.Fix(&q.backoff, e.index)
	case inFlight:
		e.updated = e.updated || changed
	case inUnschedulable:
		// A pod whose spec or labels changed may fit now; one whose
		// status changed (our own PodScheduled condition) may not.
		if changed {
			delete(q.unschedulable, framework.PodKey(pod))
			q.requeueLocked(e)
		}
	}
}

// podChanged reports whether anything but status and bookkeeping
// metadata differs, as kube-scheduler's isPodUpdated does.
func podChanged(old, new *v1.Pod) bool {
	strip := func(p *v1.Pod) *v1.Pod {
		c := p.DeepCopy()
		c.ResourceVersion = ""
		c.Generation = 0
		c.ManagedFields = nil
		c.Finalizers = nil
		c.Status = v1.PodStatus{}
		return c
	}
	return !reflect.DeepEqual(strip(old), strip(new))
}

// Delete removes a pod that is deleted, bound, or no longer ours.
func (q *Queue) Delete(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := framework.PodKey(pod)
	e, ok := q.entries[key]
	if !ok {
		return
	}
	switch e.where {
	case inActive:
		heap.Remove(&q.active, e.index)
	case inBackoff:
		heap.Remove(&q.backoff, e.index)
	case inUnschedulable:
		delete(q.unschedulable, key)
	case inFlight:
		// The attempt finishes on its own; it must not requeue the pod.
		e.deleted = true
		return
	}
	delete(q.entries, key)
}

// Pop returns the next pod to schedule, waiting until there is one or
// ctx ends. The pod stays in flight until Done, AddUnschedulable or
// AddBackoff.
func (q *Queue) Pop(ctx context.Context) (*QueuedPod, error) {
	for {
		// Drop a stale wake-up: the state read below is newer than it.
		select {
		case <-q.wake:
		default:
		}
		qp, next := q.tryPop()
		if qp != nil {
			return qp, nil
		}
		var timer clock.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = q.clock.NewTimer(next.Sub(q.clock.Now()))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil, ctx.Err()
		case <-q.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// TryPop is Pop without waiting: nil when no pod is ready now.
func (q *Queue) TryPop() *QueuedPod {
	qp, _ := q.tryPop()
	return qp
}

// tryPop moves due pods to active and pops one; if there is none it
// returns when the next one falls due (zero: only an event can help).
func (q *Queue) tryPop() (*QueuedPod, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	q.flushLocked(now)
	if q.active.Len() == 0 {
		return nil, q.nextDueLocked()
	}
	e := heap.Pop(&q.active).(*entry)
	e.where = inFlight
	e.popSeq = q.eventSeq
	e.updated, e.deleted = false, false
	e.qp.Attempts++
	q.inFlight[framework.PodKey(e.qp.Pod)] = e
	// Hand out a copy: the queue keeps updating its own record.
	qp := *e.qp
	return &qp, time.Time{}
}

// flushLocked moves backoff pods whose time has come, and unschedulable
// pods that waited MaxUnschedulable, to active.
func (q *Queue) flushLocked(now time.Time) {
	for q.backoff.Len() > 0 {
		e := q.backoff.items[0]
		if q.backoffExpiry(e.qp).After(now) {
			break
		}
		heap.Pop(&q.backoff)
		q.pushActive(e)
	}
	for key, e := range q.unschedulable {
		if !e.qp.Timestamp.Add(q.opts.MaxUnschedulable).After(now) {
			delete(q.unschedulable, key)
			q.requeueLocked(e)
		}
	}
}

// nextDueLocked is when the next backoff or unschedulable pod falls due.
func (q *Queue) nextDueLocked() time.Time {
	var next time.Time
	if q.backoff.Len() > 0 {
		next = q.backoffExpiry(q.backoff.items[0].qp)
	}
	for _, e := range q.unschedulable {
		if t := e.qp.Timestamp.Add(q.opts.MaxUnschedulable); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

func (q *Queue) pushActive(e *entry) {
	e.where = inActive
	heap.Push(&q.active, e)
	q.signal()
}

// requeueLocked puts a pod that may now fit back: to backoff if its
// backoff has not run out, else straight to active.
func (q *Queue) requeueLocked(e *entry) {
	if q.backoffExpiry(e.qp).After(q.clock.Now()) {
		e.where = inBackoff
		heap.Push(&q.backoff, e)
		// The earliest backoff expiry may have moved forward.
		q.signal()
		return
	}
	q.pushActive(e)
}

// finishLocked ends the in-flight state of a pod and returns its entry,
// or nil if the pod was deleted meanwhile.
func (q *Queue) finishLocked(qp *QueuedPod) *entry {
	key := framework.PodKey(qp.Pod)
	e, ok := q.entries[key]
	if !ok || e.where != inFlight {
		return nil
	}
	delete(q.inFlight, key)
	q.pruneEventsLocked(e.popSeq)
	if e.deleted {
		delete(q.entries, key)
		return nil
	}
	e.qp.RejectedBy = qp.RejectedBy
	return e
}

// Done ends a successful attempt: the pod leaves the queue.
func (q *Queue) Done(qp *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e := q.finishLocked(qp); e != nil {
		delete(q.entries, framework.PodKey(qp.Pod))
	}
}

// AddUnschedulable parks a pod no node could take, rejected by
// rejectedBy. If an event that may help it, or a change to the pod,
// happened during the attempt, it is requeued right away instead.
func (q *Queue) AddUnschedulable(qp *QueuedPod, rejectedBy filter.PluginSet) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp.RejectedBy = rejectedBy
	popSeq, updated := q.inFlightState(qp)
	e := q.finishLocked(qp)
	if e == nil {
		return
	}
	e.qp.Timestamp = q.clock.Now()
	if updated || q.missedEventLocked(e.qp, popSeq) {
		q.requeueLocked(e)
		return
	}
	e.where = inUnschedulable
	q.unschedulable[framework.PodKey(qp.Pod)] = e
	// The next leftover flush may now be due earlier.
	q.signal()
}

// AddBackoff requeues a pod whose attempt failed for another reason (an
// API error, a failed bind), after its backoff.
func (q *Queue) AddBackoff(qp *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.finishLocked(qp)
	if e == nil {
		return
	}
	e.qp.Timestamp = q.clock.Now()
	e.where = inBackoff
	heap.Push(&q.backoff, e)
	q.signal()
}

func (q *Queue) inFlightState(qp *QueuedPod) (popSeq int64, updated bool) {
	if e, ok := q.entries[framework.PodKey(qp.Pod)]; ok && e.where == inFlight {
		return e.popSeq, e.updated
	}
	return 0, false
}

// missedEventLocked reports whether an event after popSeq may help qp.
func (q *Queue) missedEventLocked(qp *QueuedPod, popSeq int64) bool {
	for i := popSeq - q.eventBase; i < int64(len(q.events)); i++ {
		if i >= 0 && q.events[i].Hint(qp) {
			return true
		}
	}
	return false
}

// pruneEventsLocked drops events no in-flight pod can still need; keep
// is the pop sequence of the attempt being finished, whose events are
// still to be replayed.
func (q *Queue) pruneEventsLocked(keep int64) {
	oldest := min(q.eventSeq, keep)
	for _, e := range q.inFlight {
		oldest = min(oldest, e.popSeq)
	}
	if drop := oldest - q.eventBase; drop > 0 {
		q.events = append(q.events[:0:0], q.events[drop:]...)
		q.eventBase = oldest
	}
}

// Move applies a cluster event: every unschedulable pod it may help goes
// back to backoff or active. The event is also kept for the pods in
// flight.
func (q *Queue) Move(ev Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, e := range q.unschedulable {
		if ev.Hint(e.qp) {
			delete(q.unschedulable, key)
			q.requeueLocked(e)
		}
	}
	if len(q.inFlight) > 0 {
		q.eventSeq++
		q.events = append(q.events, ev)
	} else {
		q.eventSeq++
		q.eventBase = q.eventSeq
		q.events = q.events[:0]
	}
}

// Stats counts the pods in each part of the queue.
type Stats struct{ Active, Backoff, Unschedulable, InFlight int }

// Stats returns the queue's current sizes.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Active: q.active.Len(), Backoff: q.backoff.Len(), Unschedulable: len(q.unschedulable), InFlight: len(q.inFlight)}
}

// NextDue is when the next waiting pod falls due without any event
// (zero when none will).
func (q *Queue) NextDue() time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.nextDueLocked()
}

// entryHeap is a binary heap of entries ordered by less.
type entryHeap struct {
	items []*entry
	less  func(a, b *entry) bool
}

func (h *entryHeap) Len() int           { return len(h.items) }
func (h *entryHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *entryHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(h.items)
	h.items = append(h.items, e)
}
func (h *entryHeap) Pop() any {
	n := len(h.items)
	e := h.items[n-1]
	h.items[n-1] = nil
	h.items = h.items[:n-1]
	return e
}
