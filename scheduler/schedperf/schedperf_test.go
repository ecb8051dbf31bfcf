package schedperf

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/scheduler/internal/fakecluster"
)

// The fake API server makes the figures meaningless; this checks that a
// run creates what scheduler_perf creates, gets every pod bound within
// node capacity, measures every pod, and cleans up.
func TestRunAgainstFakeAPI(t *testing.T) {
	c := fakecluster.New()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, c, Config{Nodes: 5, Pods: 120, KeepObjects: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Nodes != 5 || res.Pods != 120 || c.Binds() != 120 {
		t.Errorf("result %+v with %d binds, want 5 nodes, 120 pods, 120 binds", res, c.Binds())
	}
	if res.Elapsed <= 0 || res.PodsPerSecond <= 0 || res.LatencyP50 > res.LatencyP99 || res.LatencyP99 > res.Elapsed {
		t.Errorf("implausible measurement %v", res)
	}
	pods, err := c.CoreV1().Pods("schedperf").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, p := range pods.Items {
		if p.Spec.SchedulerName != "schedperf-scheduler" {
			t.Errorf("pod %s has schedulerName %q", p.Name, p.Spec.SchedulerName)
		}
		perNode[p.Spec.NodeName]++
	}
	// 4 cpu / 100m = 40 pods per node at most; 120 pods over 5 nodes
	// spread by LeastAllocated land 24 each.
	for node, n := range perNode {
		if node == "" || n > 40 {
			t.Errorf("node %q holds %d pods", node, n)
		}
	}
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if n.Status.Allocatable.Cpu().String() != "4" || len(n.Status.Conditions) == 0 {
			t.Errorf("node %s status not written: %+v", n.Name, n.Status)
		}
	}
}

func TestRunCleansUp(t *testing.T) {
	c := fakecluster.New()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Run(ctx, c, Config{Nodes: 2, Pods: 10}); err != nil {
		t.Fatal(err)
	}
	pods, _ := c.CoreV1().Pods("schedperf").List(ctx, metav1.ListOptions{})
	nodes, _ := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 0 || len(nodes.Items) != 0 {
		t.Errorf("left %d pods and %d nodes behind", len(pods.Items), len(nodes.Items))
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p50, p99 := percentile(d, 50), percentile(d, 99); p50 != 50 || p99 != 99 {
		t.Errorf("p50 %v p99 %v, want 50 and 99", p50, p99)
	}
	if p := percentile(d[:1], 99); p != 1 {
		t.Errorf("p99 of one value = %v", p)
	}
}
