// Package schedperf measures scheduling throughput and latency the way
// kube-scheduler's scheduler_perf SchedulingBasic does: create N nodes
// (node objects only, Ready, 4 cpu / 32Gi / 110 pods), start a scheduler,
// create M pods (100m cpu, 500Mi memory), and time from the first pod
// create to the last bind, through a real API server.
//
// It talks to the API only through the kubernetes.Interface it is given,
// which should be built with scheduler.RESTConfig so that client-side
// rate limiting does not cap the result. By default it runs its own
// scheduler in-process under a separate schedulerName, so a scheduler
// already running in the server ignores the benchmark pods; UseRunning
// measures the one already running instead. bench/ calls Run; the tests
// run it against client-go's fake clientset, which checks the mechanics,
// not the figures.
package schedperf
