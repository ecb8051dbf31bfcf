package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-dev/skiff/scheduler/internal/fakecluster"
)

// env is a scheduler running against a fake API server, with a fake
// clock: nothing that depends on time passing happens unless the test
// steps the clock, so anything that does happen was caused by an event.
type env struct {
	t       *testing.T
	cluster *fakecluster.Cluster
	sched   *Scheduler
	clock   *clocktesting.FakeClock
	ctx     context.Context
}

func start(t *testing.T, objects ...runtime.Object) *env {
	t.Helper()
	c := fakecluster.New(objects...)
	factory := informers.NewSharedInformerFactory(c, 0)
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := New(c, factory, Options{
		Clock:    clk,
		Tiebreak: func(int) int { return 0 },
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start returned %v", err)
		}
	})
	return &env{t: t, cluster: c, sched: s, clock: clk, ctx: ctx}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// eventually waits for cond. The generous limit only guards against a
// hang; no test asserts how long anything takes.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) create(objs ...runtime.Object) {
	e.t.Helper()
	for _, obj := range objs {
		var err error
		switch o := obj.(type) {
		case *v1.Pod:
			_, err = e.cluster.CoreV1().Pods(o.Namespace).Create(e.ctx, o, metav1.CreateOptions{})
		case *v1.Node:
			_, err = e.cluster.CoreV1().Nodes().Create(e.ctx, o, metav1.CreateOptions{})
		default:
			e.t.Fatalf("create %T: unsupported", obj)
		}
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) pods() []v1.Pod {
	e.t.Helper()
	list, err := e.cluster.CoreV1().Pods("").List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

func (e *env) pod(ns, name string) *v1.Pod {
	e.t.Helper()
	p, err := e.cluster.CoreV1().Pods(ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) bound() map[string][]v1.Pod {
	out := map[string][]v1.Pod{}
	for _, p := range e.pods() {
		if p.Spec.NodeName != "" {
			out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p)
		}
	}
	return out
}

func (e *env) countBound() int {
	n := 0
	for _, ps := range e.bound() {
		n += len(ps)
	}
	return n
}

func (e *env) events() []eventsv1.Event {
	e.t.Helper()
	list, err := e.cluster.EventsV1().Events("").List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

func (e *env) eventFor(pod, reason string) *eventsv1.Event {
	for _, ev := range e.events() {
		if ev.Regarding.Name == pod && ev.Reason == reason {
			return &ev
		}
	}
	return nil
}

func scheduledCondition(p *v1.Pod) *v1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == v1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// statusPatches counts the writes to a pod's status subresource.
func (e *env) statusPatches(name string) int {
	n := 0
	for _, a := range e.cluster.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetResource().Resource == "pods" && a.GetSubresource() == "status" && p.GetName() == name {
			n++
		}
	}
	return n
}

var small = fakecluster.Resources("cpu", "4", "memory", "8Gi", "pods", "110")

func TestReplicaSetPodsSpreadEvenly(t *testing.T) {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-5d8f", UID: "rs-uid"},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		},
	}
	e := start(t, rs,
		fakecluster.Node("node-a", small), fakecluster.Node("node-b", small), fakecluster.Node("node-c", small))
	yes := true
	for i := range 30 {
		p := fakecluster.Pod("default", fmt.Sprintf("web-5d8f-%02d", i), fakecluster.Resources("cpu", "100m", "memory", "128Mi"))
		p.Labels = map[string]string{"app": "web"}
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes}}
		e.create(p)
	}
	e.eventually("30 pods bound", func() bool { return e.countBound() == 30 })
	for node, pods := range e.bound() {
		if len(pods) != 10 {
			t.Errorf("node %s got %d pods, want 10", node, len(pods))
		}
	}
	e.eventually("Scheduled events", func() bool { return e.eventFor("web-5d8f-00", "Scheduled") != nil })
	ev := e.eventFor("web-5d8f-00", "Scheduled")
	p := e.pod("default", "web-5d8f-00")
	if want := fmt.Sprintf("Successfully assigned default/web-5d8f-00 to %s", p.Spec.NodeName); ev.Note != want || ev.Type != v1.EventTypeNormal || ev.Action != "Binding" || ev.ReportingController != "default-scheduler" {
		t.Errorf("Scheduled event = %q %s %s %s, want note %q, Normal, Binding, default-scheduler", ev.Note, ev.Type, ev.Action, ev.ReportingController, want)
	}
}

func TestBurstDoesNotOvercommit(t *testing.T) {
	// 4 nodes of 100 cpu; 500 pods of 1 cpu, all pending when the
	// scheduler starts: exactly 400 fit.
	big := fakecluster.Resources("cpu", "100", "memory", "1Ti", "pods", "200")
	objs := []runtime.Object{}
	for i := range 4 {
		objs = append(objs, fakecluster.Node(fmt.Sprintf("node-%d", i), big))
	}
	for i := range 500 {
		objs = append(objs, fakecluster.Pod("burst", fmt.Sprintf("p-%03d", i), fakecluster.Resources("cpu", "1", "memory", "1Gi")))
	}
	e := start(t, objs...)
	const msg = "0/4 nodes are available: 4 Insufficient cpu."
	pending := func() int {
		n := 0
		for _, p := range e.pods() {
			if c := scheduledCondition(&p); p.Spec.NodeName == "" && c != nil &&
				c.Status == v1.ConditionFalse && c.Reason == v1.PodReasonUnschedulable && c.Message == msg {
				n++
			}
		}
		return n
	}
	e.eventually("every pod bound or pending with the reason", func() bool { return e.countBound()+pending() == 500 })
	if bound := e.countBound(); bound != 400 {
		t.Fatalf("%d pods bound, want exactly 400", bound)
	}
	for node, pods := range e.bound() {
		var cpu int64
		for _, p := range pods {
			cpu += p.Spec.Containers[0].Resources.Requests.Cpu().MilliValue()
		}
		if cpu > 100_000 || len(pods) != 100 {
			t.Errorf("node %s: %d pods requesting %dm cpu, want 100 pods within 100000m", node, len(pods), cpu)
		}
	}
	// The pending pods wait for an event instead of being retried.
	e.eventually("pending pods parked", func() bool {
		st := e.sched.queue.Stats()
		return st.Unschedulable == 100 && st.Active == 0 && st.Backoff == 0 && st.InFlight == 0
	})
	if got := e.cluster.Binds(); got != 400 {
		t.Errorf("%d binds, want 400", got)
	}
}

func TestTooBigPodWaitsForBiggerNode(t *testing.T) {
	e := start(t, fakecluster.Node("node-a", small), fakecluster.Node("node-b", small), fakecluster.Node("node-c", small))
	e.create(fakecluster.Pod("default", "huge", fakecluster.Resources("cpu", "1", "memory", "64Gi")))
	const msg = "0/3 nodes are available: 3 Insufficient memory."
	e.eventually("PodScheduled=False", func() bool {
		c := scheduledCondition(e.pod("default", "huge"))
		return c != nil && c.Status == v1.ConditionFalse
	})
	c := scheduledCondition(e.pod("default", "huge"))
	if c.Reason != v1.PodReasonUnschedulable || c.Message != msg {
		t.Errorf("condition = %s %q, want Unschedulable %q", c.Reason, c.Message, msg)
	}
	e.eventually("FailedScheduling event", func() bool { return e.eventFor("huge", "FailedScheduling") != nil })
	ev := e.eventFor("huge", "FailedScheduling")
	if ev.Note != msg || ev.Type != v1.EventTypeWarning || ev.Action != "Scheduling" || ev.ReportingController != "default-scheduler" {
		t.Errorf("FailedScheduling event = %q %s %s %s, want %q Warning Scheduling default-scheduler", ev.Note, ev.Type, ev.Action, ev.ReportingController, msg)
	}

	// Time alone (short of the 5-minute flush) does not retry it, and a
	// node it does not fit on does not either.
	e.clock.Step(2 * time.Minute)
	e.create(fakecluster.Node("node-d", small))
	e.eventually("node-d in cache", func() bool { return e.sched.cache.NodeInfo("node-d") != nil })
	if st := e.sched.queue.Stats(); st.Unschedulable != 1 {
		t.Fatalf("queue = %+v, want the pod parked in unschedulable", st)
	}

	// A node it fits on brings it back at once: the clock does not move.
	e.create(fakecluster.Node("node-big", fakecluster.Resources("cpu", "8", "memory", "128Gi", "pods", "110")))
	e.eventually("pod bound", func() bool { return e.pod("default", "huge").Spec.NodeName != "" })
	if got := e.pod("default", "huge").Spec.NodeName; got != "node-big" {
		t.Errorf("pod went to %s, want node-big", got)
	}
	if n := e.statusPatches("huge"); n != 1 {
		t.Errorf("%d status patches, want 1", n)
	}
}

func TestUnchangedReasonIsNotRewritten(t *testing.T) {
	e := start(t, fakecluster.Node("node-a", small))
	e.create(fakecluster.Pod("default", "huge", fakecluster.Resources("memory", "64Gi")))
	e.eventually("PodScheduled=False", func() bool { return scheduledCondition(e.pod("default", "huge")) != nil })
	// Relabelling the pod retries it (after its backoff) and it fails
	// for the same reason: no second status write.
	p := e.pod("default", "huge")
	p.Labels = map[string]string{"retry": "1"}
	if _, err := e.cluster.CoreV1().Pods("default").Update(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("retry queued", func() bool { return e.sched.queue.Stats().Backoff == 1 })
	e.clock.Step(time.Second)
	e.eventually("second attempt parked", func() bool {
		st := e.sched.queue.Stats()
		return st.Unschedulable == 1 && st.Backoff == 0 && st.Active == 0 && st.InFlight == 0
	})
	if n := e.statusPatches("huge"); n != 1 {
		t.Errorf("%d status patches, want 1", n)
	}
}

func TestTaintedNodeGetsOnlyTolerantPods(t *testing.T) {
	gpu := fakecluster.Node("gpu", small)
	gpu.Spec.Taints = []v1.Taint{{Key: "dedicated", Value: "gpu", Effect: v1.TaintEffectNoSchedule}}
	e := start(t, gpu, fakecluster.Node("plain-a", small), fakecluster.Node("plain-b", small))
	for i := range 30 {
		p := fakecluster.Pod("default", fmt.Sprintf("p-%02d", i), fakecluster.Resources("cpu", "100m"))
		if i%2 == 0 {
			p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "gpu", Effect: v1.TaintEffectNoSchedule}}
		}
		e.create(p)
	}
	e.eventually("30 pods bound", func() bool { return e.countBound() == 30 })
	onGPU := e.bound()["gpu"]
	if len(onGPU) == 0 {
		t.Errorf("no pod on the gpu node; tolerating pods may go there")
	}
	for _, p := range onGPU {
		if len(p.Spec.Tolerations) == 0 {
			t.Errorf("pod %s without toleration landed on the tainted node", p.Name)
		}
	}
}

func TestNodeSelectorPodsLandOnLabelledNode(t *testing.T) {
	ssd := fakecluster.Node("ssd", small)
	ssd.Labels["disk"] = "ssd"
	e := start(t, fakecluster.Node("hdd-a", small), ssd, fakecluster.Node("hdd-b", small))
	for i := range 6 {
		p := fakecluster.Pod("default", fmt.Sprintf("db-%d", i), fakecluster.Resources("cpu", "100m"))
		p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
		e.create(p)
	}
	e.eventually("6 pods bound", func() bool { return e.countBound() == 6 })
	if got := len(e.bound()["ssd"]); got != 6 {
		t.Errorf("%d pods on ssd, want all 6", got)
	}
}

func TestFailedBindIsForgottenAndRetried(t *testing.T) {
	// One node with room for exactly one pod: if the failed bind were
	// still counted, the retry could not fit.
	e := start(t, fakecluster.Node("only", fakecluster.Resources("cpu", "1", "memory", "1Gi", "pods", "110")))
	failed := make(chan struct{})
	e.cluster.FailBinds(func(b *v1.Binding) error {
		select {
		case <-failed:
			return nil
		default:
			close(failed)
			return apierrors.NewInternalError(fmt.Errorf("etcd timeout"))
		}
	})
	e.create(fakecluster.Pod("default", "web", fakecluster.Resources("cpu", "1")))
	e.eventually("bind failure reported", func() bool {
		c := scheduledCondition(e.pod("default", "web"))
		return c != nil && c.Reason == v1.PodReasonSchedulerError
	})
	e.eventually("pod backing off", func() bool { return e.sched.queue.Stats().Backoff == 1 })
	if e.sched.cache.IsAssumed(e.pod("default", "web")) {
		t.Fatalf("failed bind still assumed")
	}
	e.clock.Step(time.Second)
	e.eventually("pod bound on retry", func() bool { return e.pod("default", "web").Spec.NodeName == "only" })
}

func TestPodsNotOursAreLeftAlone(t *testing.T) {
	e := start(t, fakecluster.Node("node-a", small))
	other := fakecluster.Pod("default", "other", nil)
	other.Spec.SchedulerName = "custom-scheduler"
	now := metav1.Now()
	dying := fakecluster.Pod("default", "dying", nil)
	dying.DeletionTimestamp = &now
	dying.Finalizers = []string{"example.com/hold"}
	gated := fakecluster.Pod("default", "gated", nil)
	gated.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/wait"}}
	mine := fakecluster.Pod("default", "mine", nil)
	e.create(other, dying, gated, mine)
	e.eventually("own pod bound", func() bool { return e.pod("default", "mine").Spec.NodeName != "" })
	for _, name := range []string{"other", "dying", "gated"} {
		if p := e.pod("default", name); p.Spec.NodeName != "" || scheduledCondition(p) != nil {
			t.Errorf("pod %s was touched: node %q, conditions %v", name, p.Spec.NodeName, p.Status.Conditions)
		}
	}
	// Lifting the gate makes the pod schedulable.
	g := e.pod("default", "gated")
	g.Spec.SchedulingGates = nil
	if _, err := e.cluster.CoreV1().Pods("default").Update(e.ctx, g, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("ungated pod bound", func() bool { return e.pod("default", "gated").Spec.NodeName != "" })
}

func TestDeletedPodFreesRoomForWaitingPod(t *testing.T) {
	e := start(t, fakecluster.Node("only", fakecluster.Resources("cpu", "2", "memory", "4Gi", "pods", "110")))
	e.create(fakecluster.Pod("default", "first", fakecluster.Resources("cpu", "2")))
	e.eventually("first bound", func() bool { return e.pod("default", "first").Spec.NodeName != "" })
	e.create(fakecluster.Pod("default", "second", fakecluster.Resources("cpu", "2")))
	e.eventually("second parked", func() bool { return e.sched.queue.Stats().Unschedulable == 1 })
	// Past its backoff, so the event alone decides when it runs.
	e.clock.Step(10 * time.Second)
	if err := e.cluster.CoreV1().Pods("default").Delete(e.ctx, "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("second bound", func() bool { return e.pod("default", "second").Spec.NodeName == "only" })
}
