package filter

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

func TestFitErrorMessage(t *testing.T) {
	statuses := map[string]*Status{}
	// 10 nodes short of memory and 2 tainted: the histogram sorts as
	// strings, so "10 ..." comes before "2 ...", as in kube-scheduler.
	for i := range 10 {
		statuses[fmt.Sprintf("m%d", i)] = newStatus(Unschedulable, NodeResourcesFit, "Insufficient memory")
	}
	statuses["t1"] = newStatus(UnschedulableAndUnresolvable, TaintToleration, "node(s) had untolerated taint {dedicated: gpu}")
	statuses["t2"] = statuses["t1"]
	// A node short of two resources counts in both.
	statuses["both"] = newStatus(Unschedulable, NodeResourcesFit, "Insufficient cpu", "Insufficient memory")
	fe := &FitError{NumAllNodes: 13, Statuses: statuses}
	want := "0/13 nodes are available: 1 Insufficient cpu, 11 Insufficient memory, 2 node(s) had untolerated taint {dedicated: gpu}."
	if got := fe.Error(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	pre := &FitError{NumAllNodes: 3, PreFilterMsg: ReasonNodeAffinityConflict, Statuses: statuses}
	if got, want := pre.Error(), "0/3 nodes are available: pod affinity terms conflict."; got != want {
		t.Errorf("prefilter: got %q, want %q", got, want)
	}

	unchecked := &FitError{NumAllNodes: 5, Statuses: map[string]*Status{"a": statuses["t1"]}, Unchecked: NotCandidate()}
	if got, want := unchecked.Error(), "0/5 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 4 node(s) didn't satisfy plugin(s) [NodeAffinity]."; got != want {
		t.Errorf("unchecked: got %q, want %q", got, want)
	}
}

func node(mutate func(*v1.Node)) *framework.NodeInfo {
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"disk": "ssd"}},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1"), v1.ResourcePods: resource.MustParse("10")},
			Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
	mutate(n)
	return framework.NewNodeInfo(n)
}

// TestFirstFailingFilterWins checks the order: a node that fails several
// filters is reported by the first, so it counts once in the message.
func TestFirstFailingFilterWins(t *testing.T) {
	pod := framework.NewPodInfo(&v1.Pod{Spec: v1.PodSpec{
		NodeSelector: map[string]string{"disk": "hdd"},
		Containers:   []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2")}}}},
	}})
	tests := []struct {
		name   string
		mutate func(*v1.Node)
		want   Plugin
	}{
		{"cordoned and tainted", func(n *v1.Node) {
			n.Spec.Unschedulable = true
			n.Spec.Taints = []v1.Taint{{Key: "k", Effect: v1.TaintEffectNoSchedule}}
		}, NodeUnschedulable},
		{"not ready", func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse }, TaintToleration},
		{"selector and resources", func(*v1.Node) {}, NodeAffinity},
		{"resources", func(n *v1.Node) { n.Labels["disk"] = "hdd" }, NodeResourcesFit},
	}
	for _, tt := range tests {
		st := NodeLocal(pod, node(tt.mutate))
		if st == nil || st.Plugin != tt.want {
			t.Errorf("%s: got %v, want a %v rejection", tt.name, st, tt.want)
		}
	}
}

func TestPluginSet(t *testing.T) {
	s := Of(NodePorts, InterPodAffinity)
	if !s.Has(NodePorts) || s.Has(NodeAffinity) || !s.HasAny(Of(InterPodAffinity, TaintToleration)) || s.HasAny(Of(TaintToleration)) {
		t.Errorf("set %v misbehaves", s)
	}
	if got := s.String(); got != "[NodePorts InterPodAffinity]" {
		t.Errorf("String() = %s", got)
	}
}
