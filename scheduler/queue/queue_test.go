package queue

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-dev/skiff/scheduler/filter"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func pod(name string) *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
}

func newQueue() (*Queue, *clocktesting.FakeClock) {
	clk := clocktesting.NewFakeClock(t0)
	return New(clk, Options{}), clk
}

func mustPop(t *testing.T, q *Queue, want string) *QueuedPod {
	t.Helper()
	qp := q.TryPop()
	if qp == nil {
		t.Fatalf("nothing to pop, want %s (queue %+v)", want, q.Stats())
	}
	if qp.Pod.Name != want {
		t.Fatalf("popped %s, want %s", qp.Pod.Name, want)
	}
	return qp
}

func mustBeEmpty(t *testing.T, q *Queue) {
	t.Helper()
	if qp := q.TryPop(); qp != nil {
		t.Fatalf("popped %s, want nothing ready", qp.Pod.Name)
	}
}

func TestBackoffDoublesUpToTenSeconds(t *testing.T) {
	q, clk := newQueue()
	q.Add(pod("p"))
	for _, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
		qp := mustPop(t, q, "p")
		q.AddBackoff(qp)
		if got := q.NextDue().Sub(clk.Now()); got != want*time.Second {
			t.Fatalf("attempt %d: backoff %v, want %v", qp.Attempts, got, want*time.Second)
		}
		clk.Step(want*time.Second - time.Millisecond)
		mustBeEmpty(t, q)
		clk.Step(time.Millisecond)
	}
	mustPop(t, q, "p")
}

func TestActiveOrderIsPriorityThenAge(t *testing.T) {
	q, clk := newQueue()
	high := int32(100)
	q.Add(pod("old"))
	clk.Step(time.Millisecond)
	q.Add(pod("young"))
	urgent := pod("urgent")
	urgent.Spec.Priority = &high
	q.Add(urgent)
	for _, want := range []string{"urgent", "old", "young"} {
		mustPop(t, q, want)
	}
}

func TestUnschedulableWaitsForRelevantEvent(t *testing.T) {
	q, clk := newQueue()
	q.Add(pod("p"))
	q.AddUnschedulable(mustPop(t, q, "p"), filter.Of(filter.NodeResourcesFit))

	clk.Step(time.Minute)
	q.Move(Event{Name: "irrelevant", Hint: func(*QueuedPod) bool { return false }})
	mustBeEmpty(t, q)
	if st := q.Stats(); st.Unschedulable != 1 {
		t.Fatalf("queue %+v, want the pod unschedulable", st)
	}

	var saw filter.PluginSet
	q.Move(Event{Name: "helps", Hint: func(qp *QueuedPod) bool { saw = qp.RejectedBy; return true }})
	if saw != filter.Of(filter.NodeResourcesFit) {
		t.Errorf("hint saw rejectedBy %v", saw)
	}
	// Its 1 s backoff ran out long ago: straight to active.
	mustPop(t, q, "p")
}

func TestEventDuringBackoffWaitsForBackoff(t *testing.T) {
	q, clk := newQueue()
	q.Add(pod("p"))
	q.AddUnschedulable(mustPop(t, q, "p"), filter.Of(filter.TaintToleration))
	clk.Step(400 * time.Millisecond)
	q.Move(Event{Name: "helps", Hint: func(*QueuedPod) bool { return true }})
	if st := q.Stats(); st.Backoff != 1 {
		t.Fatalf("queue %+v, want the pod backing off", st)
	}
	clk.Step(599 * time.Millisecond)
	mustBeEmpty(t, q)
	clk.Step(time.Millisecond)
	mustPop(t, q, "p")
}

func TestLeftoverFlushAfterFiveMinutes(t *testing.T) {
	q, clk := newQueue()
	q.Add(pod("p"))
	q.AddUnschedulable(mustPop(t, q, "p"), filter.Of(filter.NodeAffinity))
	if got := q.NextDue(); !got.Equal(t0.Add(5 * time.Minute)) {
		t.Fatalf("next due %v, want the 5-minute flush", got)
	}
	clk.Step(5*time.Minute - time.Second)
	mustBeEmpty(t, q)
	clk.Step(time.Second)
	mustPop(t, q, "p")
}

func TestEventDuringAttemptIsNotLost(t *testing.T) {
	q, _ := newQueue()
	q.Add(pod("a"))
	q.Add(pod("b"))
	a := mustPop(t, q, "a")
	b := mustPop(t, q, "b")
	// While both attempts run, a node appears that helps a, not b.
	q.Move(Event{Name: "NodeAdd", Hint: func(qp *QueuedPod) bool { return qp.Pod.Name == "a" }})
	q.AddUnschedulable(a, filter.Of(filter.NodeAffinity))
	q.AddUnschedulable(b, filter.Of(filter.NodeAffinity))
	if st := q.Stats(); st.Unschedulable != 1 || st.Backoff != 1 {
		t.Fatalf("queue %+v, want a backing off and b unschedulable", st)
	}
	// Events before the next attempt do not leak into it.
	q.Add(pod("c"))
	c := mustPop(t, q, "c")
	q.AddUnschedulable(c, filter.Of(filter.NodeAffinity))
	if st := q.Stats(); st.Unschedulable != 2 {
		t.Fatalf("queue %+v, want c unschedulable too", st)
	}
}

func TestPodUpdates(t *testing.T) {
	q, clk := newQueue()
	p := pod("p")
	q.Add(p)
	q.AddUnschedulable(mustPop(t, q, "p"), filter.Of(filter.NodeAffinity))
	clk.Step(10 * time.Second)

	// Our own status write must not retry the pod, or it would loop.
	withStatus := p.DeepCopy()
	withStatus.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse}}
	withStatus.ResourceVersion = "2"
	q.Update(withStatus)
	mustBeEmpty(t, q)

	relabelled := withStatus.DeepCopy()
	relabelled.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	q.Update(relabelled)
	got := mustPop(t, q, "p")
	if got.Pod.Spec.NodeSelector["disk"] != "ssd" {
		t.Errorf("popped the old pod object")
	}

	// A change during the attempt requeues it when the attempt fails.
	q.Update(p)
	q.AddUnschedulable(got, filter.Of(filter.NodeAffinity))
	if st := q.Stats(); st.Backoff != 1 {
		t.Fatalf("queue %+v, want the changed pod backing off", st)
	}
}

func TestDeleteDuringAttempt(t *testing.T) {
	q, _ := newQueue()
	q.Add(pod("p"))
	qp := mustPop(t, q, "p")
	q.Delete(qp.Pod)
	q.AddUnschedulable(qp, filter.Of(filter.NodeAffinity))
	if st := q.Stats(); st != (Stats{}) {
		t.Fatalf("queue %+v, want empty", st)
	}
}

func TestPopSleepsOnOneTimerUntilDue(t *testing.T) {
	q, clk := newQueue()
	if !q.NextDue().IsZero() {
		t.Fatalf("empty queue has a due time")
	}
	q.Add(pod("p"))
	q.AddBackoff(mustPop(t, q, "p"))

	got := make(chan *QueuedPod)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		qp, _ := q.Pop(ctx)
		got <- qp
	}()
	// Pop is blocked on exactly one timer, the backoff expiry.
	deadline := time.Now().Add(10 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("Pop did not wait on the clock")
		}
		time.Sleep(time.Millisecond)
	}
	if n := clk.Waiters(); n != 1 {
		t.Fatalf("%d timers, want 1", n)
	}
	clk.Step(time.Second)
	if qp := <-got; qp == nil || qp.Pod.Name != "p" {
		t.Fatalf("Pop returned %v", qp)
	}
}

func TestPopWakesOnAdd(t *testing.T) {
	q, _ := newQueue()
	got := make(chan *QueuedPod)
	go func() {
		qp, _ := q.Pop(context.Background())
		got <- qp
	}()
	q.Add(pod("p"))
	if qp := <-got; qp.Pod.Name != "p" {
		t.Fatalf("Pop returned %s", qp.Pod.Name)
	}
}
