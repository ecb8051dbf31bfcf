package schedperf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/scheduler"
)

// Config describes one run.
type Config struct {
	Nodes, Pods int
	// Namespace for the pods (default "schedperf"); created if missing.
	Namespace string
	// SchedulerName goes into the pods' spec.schedulerName (default
	// "schedperf-scheduler", or "default-scheduler" with UseRunning).
	SchedulerName string
	// UseRunning measures a scheduler that already serves SchedulerName
	// instead of starting one.
	UseRunning bool
	// Workers create nodes and pods concurrently (default 16).
	Workers int
	// SchedulerClient is the client the started scheduler uses (default:
	// the client given to Run). Give the pod creators and the scheduler
	// separate clients, as in a real cluster, so they do not share one
	// client-side rate limiter.
	SchedulerClient kubernetes.Interface
	// KeepObjects leaves the nodes and pods in place after the run.
	KeepObjects bool
	Logger      *slog.Logger
}

// Result is what a run measured.
type Result struct {
	Nodes, Pods int
	// Elapsed runs from the first pod create to the last bind seen.
	Elapsed       time.Duration
	PodsPerSecond float64
	// LatencyP50 and LatencyP99 are per pod, from its create to its bind
	// as seen by a watch (what a user waiting for the pod sees).
	LatencyP50, LatencyP99 time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("%d nodes / %d pods: %.0f pods/s (%v), latency p50 %v p99 %v",
		r.Nodes, r.Pods, r.PodsPerSecond, r.Elapsed.Round(time.Millisecond), r.LatencyP50.Round(time.Millisecond), r.LatencyP99.Round(time.Millisecond))
}

func (c *Config) defaults() {
	if c.Namespace == "" {
		c.Namespace = "schedperf"
	}
	if c.SchedulerName == "" {
		c.SchedulerName = "schedperf-scheduler"
		if c.UseRunning {
			c.SchedulerName = scheduler.DefaultSchedulerName
		}
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run performs one measurement. ctx bounds the whole run.
func Run(ctx context.Context, client kubernetes.Interface, cfg Config) (Result, error) {
	cfg.defaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := cfg.Logger.With("component", "schedperf")

	if _, err := client.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cfg.Namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return Result{}, fmt.Errorf("create namespace %s: %w", cfg.Namespace, err)
	}
	nodeNames := make([]string, cfg.Nodes)
	for i := range nodeNames {
		nodeNames[i] = fmt.Sprintf("schedperf-node-%05d", i)
	}
	podNames := make([]string, cfg.Pods)
	for i := range podNames {
		podNames[i] = fmt.Sprintf("schedperf-pod-%06d", i)
	}
	if !cfg.KeepObjects {
		defer cleanup(client, cfg, nodeNames, podNames, log)
	}
	if err := parallel(ctx, cfg.Workers, nodeNames, func(name string) error { return createNode(ctx, client, name) }); err != nil {
		return Result{}, err
	}
	log.Info("nodes ready", "nodes", cfg.Nodes)

	watch := newBindWatch(client, cfg.Namespace)
	watch.factory.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), watch.synced) {
		return Result{}, fmt.Errorf("pod watch did not sync: %w", context.Cause(ctx))
	}

	schedDone := make(chan error, 1)
	if !cfg.UseRunning {
		sc := cfg.SchedulerClient
		if sc == nil {
			sc = client
		}
		factory := informers.NewSharedInformerFactory(sc, 0)
		s, err := scheduler.New(sc, factory, scheduler.Options{SchedulerName: cfg.SchedulerName, Logger: cfg.Logger})
		if err != nil {
			return Result{}, err
		}
		go func() { schedDone <- s.Start(ctx) }()
		defer func() { cancel(); <-schedDone }()
		factory.Start(ctx.Done())
		for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return Result{}, fmt.Errorf("scheduler informer %v did not sync: %w", typ, context.Cause(ctx))
			}
		}
	}

	created := make([]time.Time, cfg.Pods)
	index := make(map[string]int, cfg.Pods)
	for i, name := range podNames {
		index[name] = i
	}
	start := time.Now()
	err := parallel(ctx, cfg.Workers, podNames, func(name string) error {
		created[index[name]] = time.Now()
		_, err := client.CoreV1().Pods(cfg.Namespace).Create(ctx, benchPod(cfg, name), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("create pods: %w", err)
	}
	bound, err := watch.wait(ctx, podNames)
	if err != nil {
		return Result{}, err
	}

	res := Result{Nodes: cfg.Nodes, Pods: cfg.Pods}
	latencies := make([]time.Duration, cfg.Pods)
	var last time.Time
	for i, name := range podNames {
		b := bound[name]
		if b.After(last) {
			last = b
		}
		latencies[i] = max(b.Sub(created[i]), 0)
	}
	res.Elapsed = last.Sub(start)
	if res.Elapsed > 0 {
		res.PodsPerSecond = float64(cfg.Pods) / res.Elapsed.Seconds()
	}
	slices.Sort(latencies)
	res.LatencyP50, res.LatencyP99 = percentile(latencies, 50), percentile(latencies, 99)
	log.Info("run done", "result", res.String())
	return res, nil
}

// percentile of sorted values, nearest-rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// createNode creates a node and then writes its status, which the API
// server ignores on create: allocatable as scheduler_perf's default node
// and a Ready condition.
func createNode(ctx context.Context, client kubernetes.Interface, name string) error {
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}}}
	created, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create node %s: %w", name, err)
	}
	capacity := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("4"),
		v1.ResourceMemory: resource.MustParse("32Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	created.Status = v1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       v1.NodeRunning,
		Conditions: []v1.NodeCondition{{
			Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}},
	}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("write status of node %s: %w", name, err)
	}
	return nil
}

// benchPod is scheduler_perf's default pod.
func benchPod(cfg Config, name string) *v1.Pod {
	req := v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("500Mi")}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: cfg.Namespace, Name: name, Labels: map[string]string{"app": "schedperf"}},
		Spec: v1.PodSpec{
			SchedulerName: cfg.SchedulerName,
			Containers: []v1.Container{{
				Name:      "pause",
				Image:     "registry.k8s.io/pause:3.10",
				Ports:     []v1.ContainerPort{{ContainerPort: 80}},
				Resources: v1.ResourceRequirements{Requests: req, Limits: req},
			}},
		},
	}
}

// bindWatch records when each benchmark pod is first seen bound.
type bindWatch struct {
	factory informers.SharedInformerFactory
	synced  toolscache.InformerSynced

	mu    sync.Mutex
	bound map[string]time.Time
	added chan struct{}
}

func newBindWatch(client kubernetes.Interface, ns string) *bindWatch {
	w := &bindWatch{
		factory: informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns)),
		bound:   map[string]time.Time{},
		added:   make(chan struct{}, 1),
	}
	see := func(obj any) {
		pod, ok := obj.(*v1.Pod)
		if !ok || pod.Spec.NodeName == "" {
			return
		}
		now := time.Now()
		w.mu.Lock()
		if _, seen := w.bound[pod.Name]; !seen {
			w.bound[pod.Name] = now
		}
		w.mu.Unlock()
		select {
		case w.added <- struct{}{}:
		default:
		}
	}
	informer := w.factory.Core().V1().Pods().Informer()
	// The error only says the informer has stopped, which it has not yet.
	_, _ = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    see,
		UpdateFunc: func(_, obj any) { see(obj) },
	})
	w.synced = informer.HasSynced
	return w
}

// wait returns the bind times once every named pod is bound.
func (w *bindWatch) wait(ctx context.Context, names []string) (map[string]time.Time, error) {
	for {
		w.mu.Lock()
		missing := 0
		for _, n := range names {
			if _, ok := w.bound[n]; !ok {
				missing++
			}
		}
		if missing == 0 {
			out := w.bound
			w.mu.Unlock()
			return out, nil
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d pods not bound: %w", missing, len(names), context.Cause(ctx))
		case <-w.added:
		}
	}
}

// parallel runs f on every item with the given number of workers and
// returns the first error.
func parallel(ctx context.Context, workers int, items []string, f func(string) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(workers, max(len(items), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range work {
				if err := f(item); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, item := range items {
		select {
		case work <- item:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// cleanup deletes what the run created, on a fresh context: the run's may
// be done.
func cleanup(client kubernetes.Interface, cfg Config, nodes, pods []string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	zero := int64(0)
	del := metav1.DeleteOptions{GracePeriodSeconds: &zero}
	ignoreMissing := func(err error) error {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if err := parallel(ctx, cfg.Workers, pods, func(name string) error {
		return ignoreMissing(client.CoreV1().Pods(cfg.Namespace).Delete(ctx, name, del))
	}); err != nil {
		log.Warn("delete benchmark pods", "err", err)
	}
	if err := parallel(ctx, cfg.Workers, nodes, func(name string) error {
		return ignoreMissing(client.CoreV1().Nodes().Delete(ctx, name, del))
	}); err != nil {
		log.Warn("delete benchmark nodes", "err", err)
	}
}
