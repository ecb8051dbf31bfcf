package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// podLogs reads a pod's log through the API (GET pods/log).
func podLogs(cs *kubernetes.Clientset, ns, name, container string, previous bool) (string, error) {
	b, err := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: container, Previous: previous}).DoRaw(context.Background())
	return string(b), err
}

// TestNodeAgentRunsPods is the node-agent issue's acceptance 1, 2, 4, 5
// and 6 on one `skiff up` cluster.
func TestNodeAgentRunsPods(t *testing.T) {
	s, cs, node := startUp(t)
	ctx := context.Background()
	img := busybox(t)

	t.Run("user story", func(t *testing.T) {
		k := newKubectl(t, s, "")
		k.must("run", "hello", "--image="+img, "--restart=Never", "--", "sh", "-c", "echo hi; sleep 3600")
		p := waitPod(t, cs, "default", "hello", 60*time.Second, podRunning)
		if p.Status.PodIP == "" || p.Spec.NodeName != node {
			t.Fatalf("pod IP %q node %q", p.Status.PodIP, p.Spec.NodeName)
		}
		wide := k.must("get", "pods", "-o", "wide")
		if !strings.Contains(wide, "hello") || !strings.Contains(wide, "Running") || !strings.Contains(wide, p.Status.PodIP) || !strings.Contains(wide, node) {
			t.Fatalf("kubectl get pods -o wide:\n%s", wide)
		}
		eventually(t, 10*time.Second, func() error {
			if out := k.must("logs", "hello"); out != "hi\n" {
				return fmt.Errorf("kubectl logs: %q", out)
			}
			return nil
		})
		// --tail and -f go through the API server to the agent.
		k.must("run", "counter", "--image="+img, "--restart=Never", "--", "sh", "-c", "for i in 1 2 3; do echo line$i; done; sleep 1; echo late; sleep 3600")
		waitPod(t, cs, "default", "counter", 60*time.Second, podRunning)
		eventually(t, 10*time.Second, func() error {
			if out := k.must("logs", "counter", "--tail=2"); out != "line3\nlate\n" {
				return fmt.Errorf("kubectl logs --tail=2: %q", out)
			}
			return nil
		})
		fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		out, _, _ := cluster.Run(fctx, nil, "", k.bin, "--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "logs", "-f", "counter")
		followed := fctx.Err() != nil // still following when the test stopped it
		cancel()
		if out != "line1\nline2\nline3\nlate\n" || !followed {
			t.Fatalf("kubectl logs -f printed %q, still following at the end: %v", out, followed)
		}
		k.must("delete", "pod", "counter", "--grace-period=0", "--force")
		names := docker(t, "ps", "--filter", "label=skiff.dev/node="+node, "--format", "{{.Names}}")
		if !strings.Contains(names, "skiff_hello_hello_default_") || !strings.Contains(names, "skiff_POD_hello_default_") {
			t.Fatalf("docker ps names:\n%s", names)
		}
		k.must("delete", "pod", "hello", "--grace-period=1")
		if left := docker(t, "ps", "-a", "--filter", "label=skiff.dev/pod-name=hello", "--filter", "label=skiff.dev/node="+node, "-q"); left != "" {
			t.Fatalf("containers left after the pod was deleted: %s", left)
		}
	})

	t.Run("init container, configMap volume, secret env, readiness probe", func(t *testing.T) {
		ns := "story2"
		createNamespace(t, cs, ns)
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "page"}, Data: map[string]string{"index.html": "v1"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, StringData: map[string]string{"token": "s3cr3t"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr.To[int64](1),
				Volumes: []corev1.Volume{
					{Name: "page", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "page"}}}},
					{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				},
				InitContainers: []corev1.Container{{Name: "init", Image: img, Command: []string{"sh", "-c", "echo initialized > /work/init"},
					VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}}},
				Containers: []corev1.Container{{
					Name: "app", Image: img,
					Command:      []string{"sh", "-c", "echo token=$TOKEN; cat /work/init; sleep 3; touch /tmp/ready; while true; do echo page=$(cat /page/index.html); sleep 1; done"},
					Env:          []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}}},
					VolumeMounts: []corev1.VolumeMount{{Name: "page", MountPath: "/page"}, {Name: "work", MountPath: "/work"}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ready"}}},
						PeriodSeconds: 1},
				}},
			},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitPod(t, cs, ns, "web", 60*time.Second, podRunning)
		if podReady(p) == nil {
			t.Fatal("the pod was Ready before its readiness probe could pass")
		}
		if len(p.Status.InitContainerStatuses) != 1 || p.Status.InitContainerStatuses[0].State.Terminated == nil || p.Status.InitContainerStatuses[0].State.Terminated.ExitCode != 0 {
			t.Fatalf("init container status %+v", p.Status.InitContainerStatuses)
		}
		waitPod(t, cs, ns, "web", 30*time.Second, podReady)
		logs, err := podLogs(cs, ns, "web", "app", false)
		if err != nil || !strings.Contains(logs, "token=s3cr3t") || !strings.Contains(logs, "initialized") || !strings.Contains(logs, "page=v1") {
			t.Fatalf("logs %q, %v", logs, err)
		}
		cm, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "page", metav1.GetOptions{})
		cm.Data["index.html"] = "v2"
		if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		changed := time.Now()
		eventually(t, 10*time.Second, func() error {
			logs, err := podLogs(cs, ns, "web", "app", false)
			if err != nil || !strings.Contains(logs, "page=v2") {
				return fmt.Errorf("mounted file not updated yet (%v)", err)
			}
			return nil
		})
		t.Logf("configMap change visible in the pod after %s", time.Since(changed).Round(100*time.Millisecond))
	})

	t.Run("crash loop back-off", func(t *testing.T) {
		ns := "crash"
		createNamespace(t, cs, ns)
		p := sleeperPod("crasher", img)
		p.Spec.Containers[0].Command = []string{"sh", "-c", "echo crashing; exit 1"}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var first, second time.Time
		sawBackoff := false
		eventually(t, 60*time.Second, func() error {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, "crasher", metav1.GetOptions{})
			if err != nil {
				return err
			}
			rc := restartCount(p, "main")
			if waitingReason(p, "main") == "CrashLoopBackOff" {
				sawBackoff = true
			}
			if rc >= 1 && first.IsZero() {
				first = time.Now()
			}
			if rc >= 2 && second.IsZero() {
				second = time.Now()
			}
			if second.IsZero() {
				return fmt.Errorf("restartCount %d", rc)
			}
			return nil
		})
		if !sawBackoff {
			t.Error("never saw the CrashLoopBackOff waiting reason")
		}
		// The kubelet restarts at once the first time, then waits 10 s.
		if gap := second.Sub(first); gap < 8*time.Second {
			t.Fatalf("second restart came %s after the first; the back-off is 10 s", gap)
		}
		prev, err := podLogs(cs, ns, "crasher", "main", true)
		if err != nil || !strings.Contains(prev, "crashing") {
			t.Fatalf("logs --previous: %q %v", prev, err)
		}
		p2, _ := cs.CoreV1().Pods(ns).Get(ctx, "crasher", metav1.GetOptions{})
		for _, s := range p2.Status.ContainerStatuses {
			if s.LastTerminationState.Terminated == nil || s.LastTerminationState.Terminated.ExitCode != 1 || s.LastTerminationState.Terminated.Reason != "Error" {
				t.Fatalf("last state %+v", s.LastTerminationState)
			}
		}
	})

	t.Run("restarted or removed behind the agent's back", func(t *testing.T) {
		ns := "behind"
		createNamespace(t, cs, ns)
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, sleeperPod("victim", img), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitPod(t, cs, ns, "victim", 60*time.Second, podRunning)
		docker(t, "restart", "-t", "0", containerID(p, "main"))
		p = waitPod(t, cs, ns, "victim", 30*time.Second, func(p *corev1.Pod) error {
			if restartCount(p, "main") != 1 || podRunning(p) != nil {
				return fmt.Errorf("restartCount %d phase %s", restartCount(p, "main"), p.Status.Phase)
			}
			return nil
		})
		pause := docker(t, "ps", "-q", "--filter", "label=skiff.dev/pod-name=victim", "--filter", "label=skiff.dev/kind=sandbox", "--filter", "label=skiff.dev/node="+node)
		oldIP := p.Status.PodIP
		docker(t, "rm", "-f", pause)
		p = waitPod(t, cs, ns, "victim", 60*time.Second, func(p *corev1.Pod) error {
			if restartCount(p, "main") != 2 || podRunning(p) != nil || p.Status.PodIP == "" {
				return fmt.Errorf("restartCount %d phase %s ip %q", restartCount(p, "main"), p.Status.Phase, p.Status.PodIP)
			}
			return nil
		})
		t.Logf("pod IP %s → %s after its sandbox was removed", oldIP, p.Status.PodIP)
		if n := docker(t, "ps", "-q", "--filter", "label=skiff.dev/pod-name=victim", "--filter", "label=skiff.dev/node="+node); len(strings.Fields(n)) != 2 {
			t.Fatalf("running containers of the pod: %q, want a sandbox and one app container", n)
		}
	})

	t.Run("image errors", func(t *testing.T) {
		ns := "images"
		createNamespace(t, cs, ns)
		bad := sleeperPod("nosuch", "nosuch:tag")
		never := sleeperPod("never", "missing:img")
		never.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
		for _, p := range []*corev1.Pod{bad, never} {
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		waitPod(t, cs, ns, "nosuch", 60*time.Second, func(p *corev1.Pod) error {
			if r := waitingReason(p, "main"); r != "ErrImagePull" && r != "ImagePullBackOff" {
				return fmt.Errorf("waiting reason %q", r)
			}
			return nil
		})
		waitPod(t, cs, ns, "never", 60*time.Second, func(p *corev1.Pod) error {
			if r := waitingReason(p, "main"); r != "ErrImageNeverPull" {
				return fmt.Errorf("waiting reason %q", r)
			}
			return nil
		})
		eventually(t, 30*time.Second, func() error {
			evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=nosuch"})
			if err != nil {
				return err
			}
			for _, e := range evs.Items {
				if e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, `Failed to pull image "nosuch:tag"`) {
					return nil
				}
			}
			return fmt.Errorf("no readable pull-failure event in %d events", len(evs.Items))
		})
		eventually(t, 40*time.Second, func() error {
			p, _ := cs.CoreV1().Pods(ns).Get(ctx, "nosuch", metav1.GetOptions{})
			if r := waitingReason(p, "main"); r != "ImagePullBackOff" {
				return fmt.Errorf("waiting reason %q, want ImagePullBackOff between retries", r)
			}
			return nil
		})
	})

	t.Run("privileged namespace runs what baseline refuses", func(t *testing.T) {
		ns := "trusted"
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "privileged"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := sleeperPod("priv", img)
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		p.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: t.TempDir()}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitPod(t, cs, ns, "priv", 60*time.Second, podRunning)
		// The same pod in a default (baseline) namespace is refused.
		p.ResourceVersion = ""
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Fatalf("privileged hostPath pod in a baseline namespace: %v", err)
		}
	})
}

// TestAgentRestartAdoptsContainers is acceptance 3: kill -9 the agent with
// 5 pods running and restart it; nothing restarts, nothing is duplicated,
// and pods deleted meanwhile are cleaned up.
func TestAgentRestartAdoptsContainers(t *testing.T) {
	img := busybox(t)
	s := startServer(t)
	id := clusterIDOf(t, s)
	t.Cleanup(func() { removeClusterContainers(t, id) })
	cs := clientset(t, s)
	ctx := context.Background()
	node := uniqueName("adopt")
	agent, err := cluster.StartAgent(cluster.AgentOptions{Bin: skiffBin, Server: s, NodeName: node, DataDir: filepath.Join(t.TempDir(), "agent")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Kill()
		if t.Failed() {
			t.Logf("agent log:\n%s", tail(agent.Log(), 6000))
		}
	})
	waitNodeReady(t, cs, node)
	ids := map[string]string{}
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("p%d", i)
		if _, err := cs.CoreV1().Pods("default").Create(ctx, sleeperPod(name, img), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("p%d", i)
		ids[name] = containerID(waitPod(t, cs, "default", name, 60*time.Second, podRunning), "main")
	}
	agent.Kill()
	// While the agent is down: one pod deleted gracefully (it waits for
	// the agent), one deleted by force (gone from the API at once).
	if err := cs.CoreV1().Pods("default").Delete(ctx, "p3", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods("default").Delete(ctx, "p4", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if err := agent.Restart(); err != nil {
		t.Fatal(err)
	}
	waitNodeReady(t, cs, node)
	eventually(t, 60*time.Second, func() error {
		for _, name := range []string{"p3", "p4"} {
			if out := docker(t, "ps", "-aq", "--filter", "label=skiff.dev/pod-name="+name, "--filter", "label=skiff.dev/node="+node); out != "" {
				return fmt.Errorf("containers of deleted pod %s still there: %s", name, out)
			}
		}
		if _, err := cs.CoreV1().Pods("default").Get(ctx, "p3", metav1.GetOptions{}); err == nil {
			return fmt.Errorf("gracefully deleted pod p3 still in the API")
		}
		return nil
	})
	// Give the agent a few sync rounds to do anything it should not.
	time.Sleep(3 * time.Second)
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("p%d", i)
		p := waitPod(t, cs, "default", name, 30*time.Second, podRunning)
		if got := containerID(p, "main"); got != ids[name] || restartCount(p, "main") != 0 {
			t.Fatalf("%s: container %s restartCount %d, want the adopted %s with 0 restarts", name, got, restartCount(p, "main"), ids[name])
		}
		out := docker(t, "ps", "-aq", "--filter", "label=skiff.dev/pod-name="+name, "--filter", "label=skiff.dev/node="+node)
		if n := len(strings.Fields(out)); n != 2 {
			t.Fatalf("%s has %d containers after the restart, want 2 (sandbox + app)", name, n)
		}
	}
}

// TestTwoAgentsOnOneEngine is acceptance 7: a 4-replica workload spreads
// across two agents sharing one Docker engine, and logs work on both.
func TestTwoAgentsOnOneEngine(t *testing.T) {
	img := busybox(t)
	s := startServer(t)
	id := clusterIDOf(t, s)
	t.Cleanup(func() { removeClusterContainers(t, id) })
	cs := clientset(t, s)
	ctx := context.Background()
	var nodes []string
	for i := 0; i < 2; i++ {
		node := uniqueName(fmt.Sprintf("n%d", i))
		a, err := cluster.StartAgent(cluster.AgentOptions{Bin: skiffBin, Server: s, NodeName: node, DataDir: filepath.Join(t.TempDir(), node)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Kill)
		nodes = append(nodes, node)
	}
	for _, n := range nodes {
		waitNodeReady(t, cs, n)
	}
	// The ReplicaSet controller makes the pods; the scheduler spreads them.
	tmpl := sleeperPod("x", img).Spec
	tmpl.Containers[0].Command = []string{"sh", "-c", "echo hello from $(hostname); trap 'exit 0' TERM; while true; do sleep 1; done"}
	_, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](4), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: tmpl}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	eventually(t, 60*time.Second, func() error {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(l.Items) != 4 {
			return fmt.Errorf("%d pods, want 4", len(l.Items))
		}
		for _, p := range l.Items {
			if err := podRunning(&p); err != nil {
				return fmt.Errorf("%s: %v", p.Name, err)
			}
		}
		pods = l.Items
		return nil
	})
	per := map[string]int{}
	for _, p := range pods {
		per[p.Spec.NodeName]++
		eventually(t, 10*time.Second, func() error {
			logs, err := podLogs(cs, "default", p.Name, "", false)
			if err != nil || !strings.Contains(logs, "hello from "+p.Name) {
				return fmt.Errorf("logs of %s on %s: %q %v", p.Name, p.Spec.NodeName, logs, err)
			}
			return nil
		})
	}
	if per[nodes[0]] != 2 || per[nodes[1]] != 2 {
		t.Fatalf("4 replicas landed %v, want 2 and 2", per)
	}
}
