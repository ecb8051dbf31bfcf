package nodelifecycle

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/manager"
)

func TestZoneStateAndRate(t *testing.T) {
	o := Options{}
	o.defaults()
	cases := []struct {
		ready, notReady, size int
		allDown               bool
		state                 ZoneState
		rate                  float64
	}{
		{3, 0, 3, false, StateNormal, 0.1},
		{2, 1, 3, false, StateNormal, 0.1},
		{1, 3, 4, false, StatePartialDisruption, 0}, // small cluster, most down: stop
		{40, 60, 100, false, StatePartialDisruption, 0.01},
		{0, 2, 2, true, StateFullDisruption, 0}, // everything down: the control plane is suspect
		{1, 1, 2, false, StateNormal, 0.1},      // one of two: still normal (TestTaintBasedEvictions' setup)
	}
	for _, c := range cases {
		s := zoneState(c.ready, c.notReady, o.UnhealthyZoneThreshold)
		r := evictionRate(s, c.size, o, c.allDown)
		if s != c.state || r != c.rate {
			t.Errorf("ready %d notReady %d size %d: %s %.2f, want %s %.2f", c.ready, c.notReady, c.size, s, r, c.state, c.rate)
		}
	}
}

func TestEvictAt(t *testing.T) {
	added := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: added}}
	tol := func(sec *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: sec}
	}
	pod := func(tols ...corev1.Toleration) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tols}}
	}
	if at, ok := EvictAt(pod(), []corev1.Taint{unreachable}); !ok || !at.IsZero() {
		t.Errorf("no toleration: %v %v, want now", at, ok)
	}
	if at, ok := EvictAt(pod(tol(ptr.To[int64](300))), []corev1.Taint{unreachable}); !ok || !at.Equal(added.Add(300*time.Second)) {
		t.Errorf("300 s toleration: %v %v", at, ok)
	}
	if _, ok := EvictAt(pod(tol(nil)), []corev1.Taint{unreachable}); ok {
		t.Error("a toleration without seconds tolerates forever")
	}
	noSchedule := corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoSchedule}
	if _, ok := EvictAt(pod(), []corev1.Taint{noSchedule}); ok {
		t.Error("NoSchedule taints never evict")
	}
}

// A node whose lease stops being renewed goes Unknown after the grace
// period, gets the unreachable taints, and its pods are evicted when their
// toleration runs out.
func TestSilentNodeIsTaintedAndItsPodsEvicted(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(start)}
	n1 := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.NewTime(start)}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}
	n2 := n1.DeepCopy()
	n2.Name = "n2"
	lease := func(name string, at time.Time) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: at}}}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u"}, Spec: corev1.PodSpec{NodeName: "n1",
		Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](30)}}}}
	client := fake.NewClientset(n1, n2, lease("n1", start), lease("n2", start), pod)
	d := manager.NewDeps(client, nil, nil, clk, 0)
	c, err := New(d, Options{MonitorPeriod: time.Second, GracePeriod: 10 * time.Second, EvictionRate: 100})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Informers.Start(ctx.Done())
	d.Informers.WaitForCacheSync(ctx.Done())

	// n2 keeps renewing; n1 goes silent.
	clk.SetTime(start.Add(11 * time.Second))
	if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, lease("n2", clk.Now()), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		l, _ := c.leases.Leases(corev1.NamespaceNodeLease).Get("n2")
		return l.Spec.RenewTime.Time.Equal(clk.Now())
	})
	if err := c.monitor(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if readyStatus(got) != corev1.ConditionUnknown {
		t.Fatalf("n1 Ready is %s, want Unknown", readyStatus(got))
	}
	if other, _ := client.CoreV1().Nodes().Get(ctx, "n2", metav1.GetOptions{}); readyStatus(other) != corev1.ConditionTrue {
		t.Fatal("n2 was marked too")
	}
	waitFor(t, func() bool { n, _ := c.nodes.Get("n1"); return readyStatus(n) == corev1.ConditionUnknown })
	if err := c.monitor(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	var noExec, noSched bool
	for _, tn := range got.Spec.Taints {
		noExec = noExec || (tn.Key == corev1.TaintNodeUnreachable && tn.Effect == corev1.TaintEffectNoExecute)
		noSched = noSched || (tn.Key == corev1.TaintNodeUnreachable && tn.Effect == corev1.TaintEffectNoSchedule)
	}
	if !noExec || !noSched {
		t.Fatalf("taints %+v", got.Spec.Taints)
	}
	waitFor(t, func() bool { n, _ := c.nodes.Get("n1"); return hasNoExecute(n) })
	// Within the toleration the pod stays.
	if err := c.maybeEvict(ctx, "default/p"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); err != nil {
		t.Fatal("pod evicted before its toleration ran out")
	}
	clk.SetTime(clk.Now().Add(31 * time.Second))
	if err := c.maybeEvict(ctx, "default/p"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); err == nil {
		t.Fatal("pod not evicted after its toleration ran out")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("informer did not catch up")
}

// A node that registered but has not posted status yet gets no taints
// within its grace period (its agent is about to write status, and a
// taint update now would only race it), and is marked Unknown —
// "Kubelet never posted node status." — after it.
func TestNewNodeWithoutStatusIsLeftAloneUntilGraceEnds(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "fresh", CreationTimestamp: metav1.NewTime(start)}}
	client := fake.NewClientset(n)
	d := manager.NewDeps(client, nil, nil, clk, 0)
	c, err := New(d, Options{MonitorPeriod: time.Second, GracePeriod: 10 * time.Second, EvictionRate: 100})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Informers.Start(ctx.Done())
	d.Informers.WaitForCacheSync(ctx.Done())

	clk.SetTime(start.Add(5 * time.Second))
	client.ClearActions()
	if err := c.monitor(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" || a.GetVerb() == "patch" {
			t.Fatalf("wrote to a node still in its grace period: %v", a)
		}
	}

	clk.SetTime(start.Add(11 * time.Second))
	if err := c.monitor(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoreV1().Nodes().Get(ctx, "fresh", metav1.GetOptions{})
	if readyStatus(got) != corev1.ConditionUnknown {
		t.Fatalf("after the grace period Ready is %q, want Unknown: %+v", readyStatus(got), got.Status.Conditions)
	}
	if got.Status.Conditions[0].Reason != "NodeStatusNeverUpdated" {
		t.Errorf("reason %q, want NodeStatusNeverUpdated", got.Status.Conditions[0].Reason)
	}
}
