package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/e2e/images"
	"github.com/skiff-dev/skiff/nodeagent"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
	"github.com/skiff-dev/skiff/scheduler"
)

func benchPodStartup(e *env) ([]Result, error) {
	ctx := context.Background()
	img, err := images.Busybox(ctx)
	if err != nil {
		return nil, err
	}
	node := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e6)
	s, err := cluster.Start(cluster.Options{Bin: e.skiffBin, DataDir: filepath.Join(e.tmp, "startup"), Subcommand: "up", Args: []string{"--node-name", node}})
	if err != nil {
		return nil, err
	}
	defer s.Kill()
	cfg, err := s.RESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(unthrottled(cfg))
	if err != nil {
		return nil, err
	}
	dc, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	// The same sandbox image the agent uses: built from the same binary.
	rt, err := runtime.NewDocker(runtime.DockerOptions{PauseBinary: e.skiffBin})
	if err != nil {
		return nil, err
	}
	pause, err := rt.EnsurePauseImage(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if id, err := clusterID(s); err == nil {
			removeLabelled(ctx, rt, map[string]string{runtime.LabelManaged: "true", runtime.LabelCluster: id})
		}
		removeLabelled(ctx, rt, map[string]string{"skiff.dev/bench": "startup"})
	}()
	if err := waitNode(ctx, cs, node); err != nil {
		return nil, err
	}
	runs := 20
	if e.quick {
		runs = 5
	}
	var ours, direct []time.Duration
	for i := 0; i < runs; i++ {
		d, err := startThreePods(ctx, cs, img, i)
		if err != nil {
			return nil, err
		}
		ours = append(ours, d)
		d, err = startSixContainers(ctx, dc, pause, img, i)
		if err != nil {
			return nil, err
		}
		direct = append(direct, d)
	}
	p50, p99 := percentile(ours, 50), percentile(ours, 99)
	d50 := percentile(direct, 50)
	ratio := float64(p50) / float64(d50)
	return []Result{
		{Scenario: "nodeagent/pod-startup", Metric: "3 pods created → all Running (watch), p50", Unit: "ms",
			Ours: ms(p50), Baseline: ms(d50), BaselineName: "docker API: 3 pause + 3 app containers, same run", Ratio: ratio,
			Target: "≤ 1.5× direct, p50 ≤ 1.5 s", Met: ratio <= 1.5 && p50 <= 1500*time.Millisecond,
			Note: fmt.Sprintf("p99 %.0f ms (direct p99 %.0f ms) over %d runs; Kubernetes SLO p99 ≤ 5 s", ms(p99), ms(percentile(direct, 99)), runs)},
	}, nil
}

func clusterID(s *cluster.Server) (string, error) {
	b, err := readFile(filepath.Join(s.DataDir(), "node-token"))
	if err != nil {
		return "", err
	}
	return nodeagent.ClusterIDOfToken(strings.TrimSpace(string(b)))
}

func removeLabelled(ctx context.Context, rt *runtime.Docker, match map[string]string) {
	cs, _ := rt.ListContainers(ctx, match)
	for _, c := range cs {
		_ = rt.RemoveContainer(ctx, c.ID)
	}
}

func waitNode(ctx context.Context, cs kubernetes.Interface, node string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("node %s not Ready", node)
}

// startThreePods creates three pods and returns the time until a watch
// has seen all three Running; then it deletes them (not timed).
func startThreePods(ctx context.Context, cs kubernetes.Interface, img string, run int) (time.Duration, error) {
	ns := "default"
	sel := fmt.Sprintf("bench-run=r%d", run)
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	start := time.Now()
	for i := 0; i < 3; i++ {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("start-%d-%d", run, i), Labels: map[string]string{"bench-run": fmt.Sprintf("r%d", run)}},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "app", Image: img, Command: []string{"sleep", "3600"}}}},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return 0, err
		}
	}
	running := map[string]bool{}
	timeout := time.After(60 * time.Second)
	for len(running) < 3 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("watch closed")
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted && p.Status.Phase == corev1.PodRunning {
				running[p.Name] = true
			}
		case <-timeout:
			return 0, fmt.Errorf("run %d: only %d of 3 pods Running after 60 s", run, len(running))
		}
	}
	took := time.Since(start)
	for i := 0; i < 3; i++ {
		_ = cs.CoreV1().Pods(ns).Delete(ctx, fmt.Sprintf("start-%d-%d", run, i), metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}
	// Let the agent finish removing them before the next measurement.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err == nil && len(l.Items) == 0 {
			break
		}
	}
	return took, nil
}

// startSixContainers is the baseline: the same six containers started
// straight through the Docker API, sandboxes first then apps, in parallel.
func startSixContainers(ctx context.Context, dc *dockerclient.Client, pause, img string, run int) (time.Duration, error) {
	labels := map[string]string{"skiff.dev/bench": "startup"}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	ids := make([]string, 0, 6)
	var mu sync.Mutex
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p, err := dc.ContainerCreate(ctx, &container.Config{Image: pause, Labels: labels},
				&container.HostConfig{NetworkMode: container.NetworkMode(nodeagent.NetworkName), IpcMode: "shareable"}, nil, nil, fmt.Sprintf("bench-pause-%d-%d", run, i))
			if err == nil {
				err = dc.ContainerStart(ctx, p.ID, container.StartOptions{})
			}
			if err != nil {
				errs <- err
				return
			}
			a, err := dc.ContainerCreate(ctx, &container.Config{Image: img, Cmd: []string{"sleep", "3600"}, Labels: labels},
				&container.HostConfig{NetworkMode: container.NetworkMode("container:" + p.ID), IpcMode: container.IpcMode("container:" + p.ID)}, nil, nil, fmt.Sprintf("bench-app-%d-%d", run, i))
			if err == nil {
				err = dc.ContainerStart(ctx, a.ID, container.StartOptions{})
			}
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			ids = append(ids, p.ID, a.ID)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for _, id := range ids {
		_ = dc.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	}
	if err := <-errs; err != nil {
		return 0, err
	}
	return took, nil
}

// benchAgentRSS measures a `skiff agent` process with 10 pods running.
func benchAgentRSS(e *env) ([]Result, error) {
	ctx := context.Background()
	img, err := images.Busybox(ctx)
	if err != nil {
		return nil, err
	}
	s, err := cluster.Start(cluster.Options{Bin: e.skiffBin, DataDir: filepath.Join(e.tmp, "rss-server")})
	if err != nil {
		return nil, err
	}
	defer s.Kill()
	rt, err := runtime.NewDocker(runtime.DockerOptions{})
	if err != nil {
		return nil, err
	}
	defer func() {
		if id, err := clusterID(s); err == nil {
			removeLabelled(ctx, rt, map[string]string{runtime.LabelManaged: "true", runtime.LabelCluster: id})
		}
	}()
	node := fmt.Sprintf("rss-%d", time.Now().UnixNano()%1e6)
	a, err := cluster.StartAgent(cluster.AgentOptions{Bin: e.skiffBin, Server: s, NodeName: node, DataDir: filepath.Join(e.tmp, "rss-agent")})
	if err != nil {
		return nil, err
	}
	defer a.Kill()
	cfg, _ := s.RESTConfig()
	cs, err := kubernetes.NewForConfig(unthrottled(cfg))
	if err != nil {
		return nil, err
	}
	if err := waitNode(ctx, cs, node); err != nil {
		return nil, err
	}
	for i := 0; i < 10; i++ {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rss-%d", i)},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "app", Image: img, Command: []string{"sleep", "3600"}}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("status.phase", "Running").String()})
		if err == nil && len(l.Items) == 10 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("10 pods not Running after 90 s")
		}
	}
	wait := time.Minute
	if e.quick {
		wait = 10 * time.Second
	}
	time.Sleep(wait)
	rss, err := rssMiB(a.PID())
	if err != nil {
		return nil, err
	}
	anon, _ := statusMiB(a.PID(), "RssAnon:")
	return []Result{{Scenario: "nodeagent/idle-rss", Metric: fmt.Sprintf("skiff agent RSS with 10 pods, %s idle", wait), Unit: "MiB",
		Ours: rss, Target: "≤ 40 MiB (kubelet ~50 MiB, k3s agent 275 MiB)", Met: rss <= 40,
		Note: fmt.Sprintf("of which %.1f MiB private (RssAnon); the rest are clean pages of the skiff binary it runs, shared with every other skiff process", anon)}}, nil
}

// benchFakeScale: 1,000 pods on 100 simulated nodes (fake runtime), all
// in this process with the API server and the scheduler.
func benchFakeScale(e *env) ([]Result, error) {
	r, stop, err := inProcess(e, "fakescale")
	if err != nil {
		return nil, err
	}
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	schedClient, err := kubernetes.NewForConfig(scheduler.RESTConfig(r.RESTConfig()))
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactory(schedClient, 0)
	sched, err := scheduler.New(schedClient, factory, scheduler.Options{})
	if err != nil {
		return nil, err
	}
	go func() { _ = sched.Start(ctx) }()
	fake := runtime.NewFake(runtime.FakeOptions{CIDR: "100.64.0.0/10"})
	const nodes, pods = 100, 1000
	var ready atomic.Int32
	for i := 0; i < nodes; i++ {
		a, err := nodeagent.New(ctx, nodeagent.Options{
			Server: r.URL, Token: r.NodeToken, NodeName: fmt.Sprintf("sim-%03d", i), Runtime: fake,
			DataDir: filepath.Join(e.tmp, "fakescale-agents", fmt.Sprint(i)), Workers: 2, Listen: "127.0.0.1:0",
		})
		if err != nil {
			return nil, err
		}
		go func() { _ = a.Run(ctx) }()
		go func() { <-a.Ready(); ready.Add(1) }()
	}
	cs, err := kubernetes.NewForConfig(unthrottled(r.RESTConfig()))
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(120 * time.Second); ready.Load() < nodes; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d fake nodes ready", ready.Load(), nodes)
		}
	}
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "bench=fakescale"})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int32
	errc := make(chan error, 1)
	for wkr := 0; wkr < 32; wkr++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= pods {
					return
				}
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fake-%04d", i), Labels: map[string]string{"bench": "fakescale"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
				if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
			}
		}()
	}
	running := map[string]bool{}
	timeout := time.After(5 * time.Minute)
	for len(running) < pods {
		select {
		case err := <-errc:
			return nil, err
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, fmt.Errorf("watch closed")
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodRunning {
				running[p.Name] = true
			}
		case <-timeout:
			return nil, fmt.Errorf("%d of %d pods Running after 5 min", len(running), pods)
		}
	}
	took := time.Since(start)
	wg.Wait()
	return []Result{{Scenario: "nodeagent/fake-scale", Metric: "1,000 pods on 100 fake nodes: created → all Running", Unit: "s",
		Ours: took.Seconds(), Target: "≤ 10 s", Met: took <= 10*time.Second,
		Note: fmt.Sprintf("%.0f pods/s end to end (create, schedule, agent sync, status)", float64(pods)/took.Seconds())}}, nil
}
