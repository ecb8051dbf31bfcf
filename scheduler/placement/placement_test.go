package placement

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

func TestNumToFind(t *testing.T) {
	tests := []struct {
		nodes int
		pct   int32
		want  int
	}{
		{50, 0, 50},
		{100, 0, 100},
		{1000, 0, 420},   // 50% - 1000/125 = 42%
		{5000, 0, 500},   // 50% - 40 = 10%
		{20000, 0, 1000}, // floored at 5%
		{1000, 30, 300},
		{300, 10, 100}, // never fewer than 100
		{1000, 200, 1000},
	}
	for _, tt := range tests {
		if got := (&Placer{PercentageOfNodesToScore: tt.pct}).numToFind(tt.nodes); got != tt.want {
			t.Errorf("numToFind(%d nodes, %d%%) = %d, want %d", tt.nodes, tt.pct, got, tt.want)
		}
	}
}

// cluster builds n ready nodes named n000..; node i holds i%7 pods of
// app=web with 100m cpu each, so scores differ.
func cluster(n int) *framework.Snapshot {
	var infos []*framework.NodeInfo
	for i := range n {
		name := fmt.Sprintf("n%03d", i)
		node := &v1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
			Status: v1.NodeStatus{
				Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("8Gi"), v1.ResourcePods: resource.MustParse("110")},
				Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
			},
		}
		var pods []*framework.PodInfo
		for j := range i % 7 {
			pods = append(pods, framework.NewPodInfo(webPod(fmt.Sprintf("%s-%d", name, j), name)))
		}
		infos = append(infos, framework.NewNodeInfo(node, pods...))
	}
	return framework.NewSnapshot(infos, nil)
}

func webPod(name, node string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": "web"}},
		Spec: v1.PodSpec{NodeName: node, Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")},
		}}}},
	}
}

func TestRotationOnLargeClusters(t *testing.T) {
	snap := cluster(150)
	in := Input{Pod: framework.NewPodInfo(webPod("new", "")), Snapshot: snap}
	res, err := (&Placer{}).Place(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// 150 nodes: stop after 100 feasible, next time start after them.
	if res.Evaluated != 100 || res.Feasible != 100 || res.Next != 100 {
		t.Fatalf("first decision evaluated %d, feasible %d, next %d; want 100, 100, 100", res.Evaluated, res.Feasible, res.Next)
	}
	in.Start = res.Next
	res, err = (&Placer{}).Place(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Next != 50 {
		t.Errorf("second decision next %d, want 50 (wrapped around)", res.Next)
	}
}

func TestParallelDecidesLikeSequential(t *testing.T) {
	snap := cluster(90)
	in := Input{Pod: framework.NewPodInfo(webPod("new", "")), Snapshot: snap, DefaultSpread: labels.SelectorFromSet(labels.Set{"app": "web"})}
	seq, err := (&Placer{}).Place(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	par, err := (&Placer{Parallelism: 8}).Place(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seq, par) {
		t.Errorf("parallel decision differs:\nsequential %v %v\nparallel   %v %v", seq.Node, seq.Scores[:3], par.Node, par.Scores[:3])
	}
	// Nodes n000, n007, n014 ... hold no web pods and tie; without a
	// tiebreak the first name wins.
	if seq.Node != "n000" {
		t.Errorf("chose %s, want n000", seq.Node)
	}
}

func TestTiebreakIsInjected(t *testing.T) {
	in := Input{Pod: framework.NewPodInfo(webPod("new", "")), Snapshot: cluster(15)}
	var offered int
	res, err := (&Placer{Tiebreak: func(n int) int { offered = n; return n - 1 }}).Place(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// n000 and n007 and n014 are empty and tie.
	if offered != 3 || res.Node != "n014" {
		t.Errorf("tiebreak offered %d nodes and chose %s, want 3 and n014", offered, res.Node)
	}
}

// BenchmarkPlace1000Nodes is one decision on a cluster the size of the
// 1,000-node benchmark, half full: the cost the scheduling loop pays per
// pod before any API call.
func BenchmarkPlace1000Nodes(b *testing.B) {
	var infos []*framework.NodeInfo
	for i := range 1000 {
		name := fmt.Sprintf("n%04d", i)
		node := &v1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
			Status: v1.NodeStatus{
				Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("32Gi"), v1.ResourcePods: resource.MustParse("110")},
				Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
			},
		}
		var pods []*framework.PodInfo
		for j := range 5 {
			pods = append(pods, framework.NewPodInfo(webPod(fmt.Sprintf("%s-%d", name, j), name)))
		}
		infos = append(infos, framework.NewNodeInfo(node, pods...))
	}
	in := Input{Pod: framework.NewPodInfo(webPod("new", "")), Snapshot: framework.NewSnapshot(infos, nil)}
	p := &Placer{Parallelism: 2}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := p.Place(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		in.Start = res.Next
	}
}
