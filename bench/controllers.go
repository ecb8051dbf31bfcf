package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	dockerclient "github.com/docker/docker/client"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/e2e/images"
	"github.com/skiff-dev/skiff/nodeagent"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
	"github.com/skiff-dev/skiff/reconcile"
	"github.com/skiff-dev/skiff/scheduler"
)

// benchDeploymentStartup is the user's loop: `kubectl apply` of a
// 3-replica Deployment until a watch sees all three pods Running. The
// baseline, in the same run, is the same six containers (three sandboxes,
// three apps) started straight through the Docker API.
func benchDeploymentStartup(e *env) ([]Result, error) {
	ctx := context.Background()
	img, err := images.Busybox(ctx)
	if err != nil {
		return nil, err
	}
	kubectl, err := cluster.Kubectl("")
	if err != nil {
		return nil, err
	}
	node := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e6)
	s, err := cluster.Start(cluster.Options{Bin: e.skiffBin, DataDir: filepath.Join(e.tmp, "deploy-startup"), Subcommand: "up", Args: []string{"--node-name", node}})
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
		d, err := applyDeployment(ctx, cs, kubectl, s.Kubeconfig(), img, i)
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
	d50, d99 := percentile(direct, 50), percentile(direct, 99)
	ratio := float64(p50) / float64(d50)
	return []Result{{Scenario: "controllers/deployment-startup", Metric: "kubectl apply 3-replica Deployment → 3 pods Running (watch), p50", Unit: "ms",
		Ours: ms(p50), Baseline: ms(d50), BaselineName: "docker API: 3 pause + 3 app containers, same run", Ratio: ratio,
		Target: "≤ 1.5× direct, p50 ≤ 1.5 s", Met: ratio <= 1.5 && p50 <= 1500*time.Millisecond,
		Note: fmt.Sprintf("p99 %.0f ms vs direct p99 %.0f ms (%.2f×) over %d runs; includes the kubectl process", ms(p99), ms(d99), float64(p99)/float64(d99), runs)}}, nil
}

// applyDeployment times one `kubectl apply` of a fresh 3-replica
// Deployment until all its pods are Running; then deletes it and waits
// for its pods to go (not timed).
func applyDeployment(ctx context.Context, cs kubernetes.Interface, kubectl, kubeconfig, img string, run int) (time.Duration, error) {
	name := fmt.Sprintf("web-%d", run)
	sel := "app=" + name
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 3
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: %[2]s
        command: [sleep, "3600"]
`, name, img)
	start := time.Now()
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("kubectl apply: %v: %s", err, out)
	}
	running := map[string]bool{}
	timeout := time.After(60 * time.Second)
	for len(running) < 3 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("watch closed")
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				running[p.Name] = true
			}
		case <-timeout:
			return 0, fmt.Errorf("run %d: only %d of 3 pods Running after 60 s", run, len(running))
		}
	}
	took := time.Since(start)
	if err := cs.AppsV1().Deployments("default").Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		return 0, err
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err == nil && len(l.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("run %d: pods of %s not gone 60 s after delete", run, name)
		}
	}
	return took, nil
}

// benchFakeDeployment scales the controllers: a 1,000-replica Deployment
// on 100 simulated nodes (fake runtime, in-process agents) until the
// Deployment reports all replicas available, then a rolling update of it
// (default 25 % surge / 25 % unavailable) until every replica is new and
// available. Everything runs in this process, as in nodeagent/fake-scale.
func benchFakeDeployment(e *env) ([]Result, error) {
	r, stop, err := inProcess(e, "fakedeploy")
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
	sched, err := scheduler.New(schedClient, informers.NewSharedInformerFactory(schedClient, 0), scheduler.Options{})
	if err != nil {
		return nil, err
	}
	go func() { _ = sched.Start(ctx) }()
	if err := reconcile.Start(ctx, r.RESTConfig(), reconcile.Options{}); err != nil {
		return nil, err
	}
	fake := runtime.NewFake(runtime.FakeOptions{CIDR: "100.64.0.0/10"})
	const nodes, replicas = 100, 1000
	var ready atomic.Int32
	for i := 0; i < nodes; i++ {
		a, err := nodeagent.New(ctx, nodeagent.Options{
			Server: r.URL, Token: r.NodeToken, NodeName: fmt.Sprintf("sim-%03d", i), Runtime: fake,
			DataDir: filepath.Join(e.tmp, "fakedeploy-agents", fmt.Sprint(i)), Workers: 2, Listen: "127.0.0.1:0",
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
	labels := map[string]string{"app": "big"}
	start := time.Now()
	d, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "big"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	if err := waitDeploymentDone(ctx, cs, d.Name, d.Generation, replicas, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("scale-up: %w", err)
	}
	up := time.Since(start)

	start = time.Now()
	d, err = cs.AppsV1().Deployments("default").Get(ctx, "big", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	d.Spec.Template.Spec.Containers[0].Image = "registry.example/app:2"
	if d, err = cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		return nil, err
	}
	if err := waitDeploymentDone(ctx, cs, d.Name, d.Generation, replicas, 10*time.Minute); err != nil {
		return nil, fmt.Errorf("rolling update: %w", err)
	}
	roll := time.Since(start)
	return []Result{
		{Scenario: "controllers/fake-deployment", Metric: "1,000-replica Deployment on 100 fake nodes: created → all Available", Unit: "s",
			Ours: up.Seconds(), Target: "report", Met: true,
			Note: fmt.Sprintf("%.0f pods/s (Deployment → ReplicaSet → pods → scheduled → Running → Available)", replicas/up.Seconds())},
		{Scenario: "controllers/fake-deployment", Metric: "rolling update of it (25% surge/unavailable) → all new and Available", Unit: "s",
			Ours: roll.Seconds(), Target: "report", Met: true,
			Note: fmt.Sprintf("%.0f pods/s replaced (1,000 created, 1,000 deleted)", replicas/roll.Seconds())},
	}, nil
}

// waitDeploymentDone waits until a Deployment's status shows generation
// gen observed with every replica updated and available and no old ones
// left: what `kubectl rollout status` waits for.
func waitDeploymentDone(ctx context.Context, cs kubernetes.Interface, name string, gen int64, replicas int32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last appsv1.DeploymentStatus
	for time.Now().Before(deadline) {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = d.Status
			st := d.Status
			if st.ObservedGeneration >= gen && st.UpdatedReplicas == replicas && st.Replicas == replicas && st.AvailableReplicas == replicas {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("deployment %s not done after %s: %+v", name, timeout, last)
}
