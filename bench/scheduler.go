package main

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/scheduler"
	"github.com/skiff-dev/skiff/scheduler/schedperf"
)

// benchScheduler measures SchedulingBasic as kube-scheduler's
// scheduler_perf does: create N nodes (objects only) and M pods through
// the real API server, time from the first create to the last bind.
func benchScheduler(e *env) ([]Result, error) {
	sizes := []struct{ nodes, pods int }{{100, 1000}, {1000, 5000}}
	if e.quick {
		sizes = sizes[:1]
	}
	var out []Result
	for i, size := range sizes {
		r, stop, err := inProcess(e, fmt.Sprintf("sched-%d", i))
		if err != nil {
			return nil, err
		}
		// The scheduler gets its own client with the settings skiff server
		// gives it; the pods are created by an unthrottled client, like
		// scheduler_perf's.
		schedClient, err := kubernetes.NewForConfig(scheduler.RESTConfig(r.RESTConfig()))
		if err != nil {
			stop()
			return nil, err
		}
		client, err := kubernetes.NewForConfig(unthrottled(r.RESTConfig()))
		if err != nil {
			stop()
			return nil, err
		}
		res, err := schedperf.Run(context.Background(), client, schedperf.Config{Nodes: size.nodes, Pods: size.pods, SchedulerClient: schedClient})
		stop()
		if err != nil {
			return nil, err
		}
		out = append(out, Result{
			Scenario: "scheduler/basic", Metric: fmt.Sprintf("pods bound/s, %d nodes / %d pods", size.nodes, size.pods), Unit: "/s",
			Ours: res.PodsPerSecond, Target: "≥ 500 /s (kube-scheduler's scheduler_perf threshold: 270 /s)", Met: res.PodsPerSecond >= 500,
			Note: fmt.Sprintf("create→bind latency p50 %.0f ms, p99 %.0f ms; %s total", ms(res.LatencyP50), ms(res.LatencyP99), res.Elapsed.Round(1e6)),
		})
	}
	return out, nil
}
