package score

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

func TestDefaultNormalize(t *testing.T) {
	tests := []struct {
		in      []int64
		reverse bool
		want    []int64
	}{
		{[]int64{0, 5, 10}, false, []int64{0, 50, 100}},
		{[]int64{0, 5, 10}, true, []int64{100, 50, 0}},
		{[]int64{0, 0}, false, []int64{0, 0}},
		{[]int64{0, 0}, true, []int64{100, 100}},
		{[]int64{1, 3}, false, []int64{33, 100}},
	}
	for _, tt := range tests {
		got := append([]int64(nil), tt.in...)
		DefaultNormalize(got, tt.reverse)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("DefaultNormalize(%v, %v) = %v, want %v", tt.in, tt.reverse, got, tt.want)
		}
	}
}

func podInfo(cpu, mem string) *framework.PodInfo {
	req := v1.ResourceList{}
	if cpu != "" {
		req[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		req[v1.ResourceMemory] = resource.MustParse(mem)
	}
	return framework.NewPodInfo(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1.PodSpec{
		Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{Requests: req}}},
	}})
}

func nodeInfo(cpu, mem string) *framework.NodeInfo {
	return framework.NewNodeInfo(&v1.Node{Status: v1.NodeStatus{Allocatable: v1.ResourceList{
		v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(mem),
	}}})
}

func TestResourceScores(t *testing.T) {
	tests := []struct {
		name           string
		pod            *framework.PodInfo
		node           *framework.NodeInfo
		least          int64
		balanced       int64
		balancedScored bool
	}{
		{"half of both", podInfo("2", "4Gi"), nodeInfo("4", "8Gi"), 50, 100, true},
		{"lopsided", podInfo("3", "1Gi"), nodeInfo("4", "4Gi"), (25 + 75) / 2, 75, true},
		// More than the node has scores 0 for that resource, and the
		// fraction is capped at 1.
		{"over capacity", podInfo("8", "2Gi"), nodeInfo("4", "4Gi"), (0 + 50) / 2, 75, true},
		// Best-effort pods count the 100m / 200Mi defaults for
		// LeastAllocated and are not scored by BalancedAllocation.
		{"best effort", podInfo("", ""), nodeInfo("1", "1000Mi"), (90 + 80) / 2, 0, false},
	}
	for _, tt := range tests {
		if got := LeastAllocated(tt.pod, tt.node); got != tt.least {
			t.Errorf("%s: LeastAllocated = %d, want %d", tt.name, got, tt.least)
		}
		got, ok := BalancedAllocation(tt.pod, tt.node)
		if got != tt.balanced || ok != tt.balancedScored {
			t.Errorf("%s: BalancedAllocation = %d, %v, want %d, %v", tt.name, got, ok, tt.balanced, tt.balancedScored)
		}
	}
}

func TestUntoleratedPreferNoSchedule(t *testing.T) {
	n := framework.NewNodeInfo(&v1.Node{
		Spec: v1.NodeSpec{Taints: []v1.Taint{
			{Key: "a", Effect: v1.TaintEffectPreferNoSchedule},
			{Key: "b", Effect: v1.TaintEffectPreferNoSchedule},
			{Key: "c", Effect: v1.TaintEffectNoSchedule},
		}},
		Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}},
	})
	pod := framework.NewPodInfo(&v1.Pod{Spec: v1.PodSpec{Tolerations: []v1.Toleration{
		{Key: "a", Operator: v1.TolerationOpExists},                                   // no effect: counts
		{Key: "b", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}, // wrong effect
	}}})
	if got := UntoleratedPreferNoSchedule(pod, n); got != 1 {
		t.Errorf("got %d untolerated PreferNoSchedule taints, want 1 (b)", got)
	}
}

func TestWeightsAreTheDefaultProfile(t *testing.T) {
	want := map[string]int64{
		"NodeResourcesFit": 1, "NodeResourcesBalancedAllocation": 1, "TaintToleration": 3,
		"NodeAffinity": 2, "PodTopologySpread": 2, "InterPodAffinity": 2,
	}
	for p := Plugin(0); p < NumPlugins; p++ {
		if p.Weight() != want[p.String()] {
			t.Errorf("%s weight %d, want %d", p, p.Weight(), want[p.String()])
		}
	}
}
