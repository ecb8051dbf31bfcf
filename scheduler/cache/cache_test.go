package cache

import (
	"errors"
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-dev/skiff/scheduler/filter"
	"github.com/skiff-dev/skiff/scheduler/framework"
)

const ttl = 15 * time.Minute

func node(name, cpu string) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourcePods: resource.MustParse("110")},
			Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
}

func pod(name, nodeName, cpu string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: v1.PodSpec{
			NodeName: nodeName,
			Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{
				Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)},
			}}},
		},
	}
}

func newCache() (*Cache, *clocktesting.FakeClock) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return New(clk, ttl), clk
}

// usedCPU is the cpu the snapshot counts on a node.
func usedCPU(t *testing.T, s *framework.Snapshot, name string) int64 {
	t.Helper()
	n := s.Node(name)
	if n == nil {
		t.Fatalf("node %s not in snapshot", name)
	}
	return n.Requested().MilliCPU
}

func TestAssumedBurstDoesNotOvercommit(t *testing.T) {
	c, _ := newCache()
	c.AddNode(node("n1", "4"))
	// Decide pod after pod as the scheduler does, each against a fresh
	// snapshot, assuming before any bind is confirmed.
	placed := 0
	for i := range 10 {
		p := pod(fmt.Sprintf("p%d", i), "", "1")
		if filter.CheckResources(framework.NewPodInfo(p), c.Snapshot().Node("n1")) != nil {
			continue
		}
		p.Spec.NodeName = "n1"
		if err := c.AssumePod(p); err != nil {
			t.Fatal(err)
		}
		placed++
	}
	if placed != 4 {
		t.Fatalf("placed %d pods of 1 cpu on a 4-cpu node before any bind landed, want 4", placed)
	}
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 4000 {
		t.Errorf("node counts %dm, want 4000m", got)
	}
}

func TestSnapshotIsImmutable(t *testing.T) {
	c, _ := newCache()
	c.AddNode(node("n1", "4"))
	before := c.Snapshot()
	if err := c.AssumePod(pod("p", "n1", "1")); err != nil {
		t.Fatal(err)
	}
	if got := usedCPU(t, before, "n1"); got != 0 {
		t.Errorf("old snapshot changed: %dm used", got)
	}
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 1000 {
		t.Errorf("new snapshot shows %dm, want 1000m", got)
	}
}

func TestForgetAfterFailedBind(t *testing.T) {
	c, _ := newCache()
	c.AddNode(node("n1", "4"))
	p := pod("p", "n1", "1")
	if err := c.AssumePod(p); err != nil {
		t.Fatal(err)
	}
	if err := c.AssumePod(p); !errors.Is(err, ErrAlreadyKnown) {
		t.Errorf("second assume: %v, want ErrAlreadyKnown", err)
	}
	c.ForgetPod(p)
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 0 || c.IsAssumed(p) {
		t.Errorf("after forget: %dm used, assumed=%v", got, c.IsAssumed(p))
	}
	// Forget never drops a pod the informer confirmed.
	c.AddPod(p)
	c.ForgetPod(p)
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 1000 {
		t.Errorf("confirmed pod forgotten: %dm used", got)
	}
}

func TestConfirmationReplacesAssumption(t *testing.T) {
	c, _ := newCache()
	c.AddNode(node("n1", "4"))
	c.AddNode(node("n2", "4"))
	assumed := pod("p", "n1", "1")
	if err := c.AssumePod(assumed); err != nil {
		t.Fatal(err)
	}
	// The API server put it elsewhere (another scheduler won the race).
	c.AddPod(pod("p", "n2", "1"))
	s := c.Snapshot()
	if usedCPU(t, s, "n1") != 0 || usedCPU(t, s, "n2") != 1000 || c.IsAssumed(assumed) {
		t.Errorf("n1 %dm, n2 %dm, assumed %v; want the pod counted once, on n2", usedCPU(t, s, "n1"), usedCPU(t, s, "n2"), c.IsAssumed(assumed))
	}
}

func TestUnconfirmedAssumptionExpires(t *testing.T) {
	c, clk := newCache()
	c.AddNode(node("n1", "4"))
	inFlight, bound := pod("in-flight", "n1", "1"), pod("bound", "n1", "1")
	for _, p := range []*v1.Pod{inFlight, bound} {
		if err := c.AssumePod(p); err != nil {
			t.Fatal(err)
		}
	}
	// Only a pod whose bind returned starts the expiry clock.
	c.FinishBinding(bound)
	clk.Step(ttl)
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 2000 {
		t.Fatalf("at the TTL: %dm used, want both pods counted", got)
	}
	clk.Step(time.Second)
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 1000 || c.IsAssumed(bound) {
		t.Fatalf("after the TTL: %dm used, want only the in-flight pod", got)
	}
	// A confirmed pod never expires.
	c.AddPod(inFlight)
	clk.Step(24 * time.Hour)
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 1000 {
		t.Errorf("confirmed pod expired: %dm used", got)
	}
}

func TestPodsOutliveTheirNode(t *testing.T) {
	c, _ := newCache()
	// A bound pod can arrive before its node.
	c.AddPod(pod("early", "n1", "1"))
	if s := c.Snapshot(); len(s.Nodes()) != 0 {
		t.Fatalf("snapshot has %d nodes, want none", len(s.Nodes()))
	}
	c.AddNode(node("n1", "4"))
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 1000 {
		t.Errorf("node arrived with %dm used, want the early pod counted", got)
	}
	c.RemoveNode("n1")
	if s := c.Snapshot(); len(s.Nodes()) != 0 || c.NodeInfo("n1") != nil {
		t.Fatalf("removed node still listed")
	}
	c.AddNode(node("n1", "4"))
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 1000 {
		t.Errorf("node came back with %dm used, want its pod still counted", got)
	}
	c.RemovePod(pod("early", "n1", "1"))
	if got := usedCPU(t, c.Snapshot(), "n1"); got != 0 {
		t.Errorf("deleted pod still counted: %dm", got)
	}
}

func TestNodesAreOrderedByName(t *testing.T) {
	c, _ := newCache()
	for _, n := range []string{"c", "a", "b"} {
		c.AddNode(node(n, "1"))
	}
	var names []string
	for _, n := range c.Snapshot().Nodes() {
		names = append(names, n.Name())
	}
	if fmt.Sprint(names) != "[a b c]" {
		t.Errorf("nodes %v, want [a b c]", names)
	}
}
