package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// The Deployment tests drive the real skiff server with the stock kubectl.
// The user story and the broken-image case run on a real Docker node
// (`skiff up`); the kill -9 case uses simulated nodes, whose pods are
// Running and Ready at once, so the restart lands mid-rollout reliably.
// Outputs kubectl prints are logged and asserted in the test.

// tagBusybox gives the local busybox image the tags the user story
// rolls between (no registry here: IfNotPresent finds them locally),
// and removes the tags when the test ends.
func tagBusybox(t *testing.T, tags ...string) {
	t.Helper()
	img := busybox(t)
	for _, tag := range tags {
		docker(t, "tag", img, tag)
		t.Cleanup(func() { _, _ = exec.Command("docker", "rmi", tag).CombinedOutput() })
	}
}

// webManifest is the user story's web.yaml.
func webManifest(replicas int, image, strategy string, minReadySeconds int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: %d
  minReadySeconds: %d
  selector:
    matchLabels: {app: web}
  strategy:
%s
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        command: ["sh", "-c", "sleep 3600"]
`, replicas, minReadySeconds, strategy, image)
}

// kubectlOK runs kubectl, logs what it printed and fails unless it exits 0.
func kubectlOK(t *testing.T, k *kubectl, args ...string) string {
	t.Helper()
	out, errOut, code := k.run(args...)
	t.Logf("$ kubectl %s\n%s%s(exit %d)", strings.Join(args, " "), out, errOut, code)
	if code != 0 {
		t.Fatalf("kubectl %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// expectOutput compares kubectl output, with ages, times and table
// padding masked, to what Kubernetes prints.
func expectOutput(t *testing.T, got, want string) {
	t.Helper()
	if g, w := normalize(got), normalize(want); g != w {
		t.Fatalf("kubectl printed\n%s\nwant\n%s", g, w)
	}
}

// podBounds follows a Deployment's pods through a watch and checks, after
// every event (each event is one change of the cluster's state), that no
// more than hi pods exist and no fewer than lo are available. Pods being
// deleted do not count as existing, as for Kubernetes's maxSurge: a
// replacement may start as soon as the old pod is told to stop.
type podBounds struct {
	lo, hi          int
	minReadySeconds time.Duration

	mu                 sync.Mutex
	pods               map[string]*corev1.Pod
	events             int
	minAvail, maxLive  int
	maxWithTerminating int
	violations         []string
	done               chan struct{}
	cancel             context.CancelFunc
}

func watchPodBounds(t *testing.T, cs kubernetes.Interface, ns, selector string, lo, hi int, minReady time.Duration) *podBounds {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	b := &podBounds{lo: lo, hi: hi, minReadySeconds: minReady, pods: map[string]*corev1.Pod{}, minAvail: 1 << 30,
		done: make(chan struct{}), cancel: cancel}
	for i := range list.Items {
		b.pods[list.Items[i].Name] = &list.Items[i]
	}
	b.check("initial list")
	// A RetryWatcher resumes from the last resourceVersion it saw, so a
	// server restart loses no event.
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return cs.CoreV1().Pods(ns).Watch(ctx, o)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(b.done)
		defer rw.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-rw.ResultChan():
				if !ok {
					return
				}
				p, isPod := ev.Object.(*corev1.Pod)
				if !isPod {
					if ev.Type == watch.Error {
						b.mu.Lock()
						b.violations = append(b.violations, fmt.Sprintf("watch error: %v", ev.Object))
						b.mu.Unlock()
					}
					continue
				}
				b.mu.Lock()
				if ev.Type == watch.Deleted {
					delete(b.pods, p.Name)
				} else {
					b.pods[p.Name] = p
				}
				b.mu.Unlock()
				b.check(fmt.Sprintf("%s %s", ev.Type, p.Name))
			}
		}
	}()
	return b
}

func (b *podBounds) check(what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events++
	now := time.Now()
	live, avail, all := 0, 0, len(b.pods)
	for _, p := range b.pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		live++
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.Add(b.minReadySeconds).After(now) {
				avail++
			}
		}
	}
	b.maxLive = max(b.maxLive, live)
	b.maxWithTerminating = max(b.maxWithTerminating, all)
	if live > b.hi {
		b.violations = append(b.violations, fmt.Sprintf("after %s: %d pods exist, more than %d", what, live, b.hi))
	}
	b.minAvail = min(b.minAvail, avail)
	if avail < b.lo {
		b.violations = append(b.violations, fmt.Sprintf("after %s: %d pods available, fewer than %d", what, avail, b.lo))
	}
}

// stop ends the watch and fails the test if a bound was ever crossed.
func (b *podBounds) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	t.Logf("watched %d pod events: at most %d pods existed (%d counting terminating ones), at least %d were available; bounds [%d, %d]",
		b.events, b.maxLive, b.maxWithTerminating, b.minAvail, b.lo, b.hi)
	if len(b.violations) > 0 {
		t.Fatalf("rollout bounds violated:\n%s", strings.Join(b.violations, "\n"))
	}
	if b.events < 2 {
		t.Fatalf("the watch saw %d events: the rollout was not observed", b.events)
	}
}

func writeManifest(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// replicaSetsOf lists the ReplicaSets a Deployment controls.
func replicaSetsOf(t *testing.T, cs kubernetes.Interface, ns, name string) []appsv1.ReplicaSet {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := cs.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []appsv1.ReplicaSet
	for _, rs := range list.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == d.UID {
			out = append(out, rs)
		}
	}
	return out
}

// noDuplicateReplicaSets fails if two ReplicaSets of a Deployment carry
// the same template: a controller that lost track (after a restart) and
// made a second one.
func noDuplicateReplicaSets(t *testing.T, rss []appsv1.ReplicaSet) {
	t.Helper()
	for i := range rss {
		for j := i + 1; j < len(rss); j++ {
			a, b := rss[i].Spec.Template.DeepCopy(), rss[j].Spec.Template.DeepCopy()
			delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
			delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
			if apiequality.Semantic.DeepEqual(a, b) {
				t.Fatalf("ReplicaSets %s and %s have the same template", rss[i].Name, rss[j].Name)
			}
		}
		if h := rss[i].Labels[appsv1.DefaultDeploymentUniqueLabelKey]; h == "" || rss[i].Name != "web-"+h ||
			rss[i].Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != h ||
			rss[i].Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != h {
			t.Fatalf("ReplicaSet %s: name, label, selector and template hash disagree: %v %v", rss[i].Name, rss[i].Labels, rss[i].Spec.Selector)
		}
	}
}

func revisions(rss []appsv1.ReplicaSet) map[string]string {
	out := map[string]string{}
	for _, rs := range rss {
		out[rs.Spec.Template.Spec.Containers[0].Image] = rs.Annotations["deployment.kubernetes.io/revision"]
	}
	return out
}

func waitRolledOut(t *testing.T, k *kubectl, name string) string {
	t.Helper()
	out := kubectlOK(t, k, "rollout", "status", "deploy/"+name, "--timeout=50s")
	if !strings.HasSuffix(out, fmt.Sprintf("deployment %q successfully rolled out\n", name)) {
		t.Fatalf("rollout status printed %q", out)
	}
	return out
}

// TestDeploymentUserStory is acceptance 1 of the controllers issue, as it
// concerns Deployments, with the stock kubectl against skiff server.
func TestDeploymentUserStory(t *testing.T) {
	s, _, _ := startUp(t)
	tagBusybox(t, "busybox:v1", "busybox:v2", "busybox:v3")
	cs := clientset(t, s)
	k := newKubectl(t, s, "")
	ctx := context.Background()

	// Default strategy: maxSurge 25% of 3 rounds up to 1, maxUnavailable
	// 25% rounds down to 0.
	web := writeManifest(t, "web.yaml", webManifest(3, "busybox:v1", "    type: RollingUpdate", 0))
	expectOutput(t, kubectlOK(t, k, "apply", "-f", web), "deployment.apps/web created\n")
	waitRolledOut(t, k, "web")
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 3 || d.Status.UpdatedReplicas != 3 || d.Status.ObservedGeneration != d.Generation ||
		d.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Fatalf("after the first rollout: annotations %v status %+v", d.Annotations, d.Status)
	}

	t.Run("set image keeps within maxSurge and maxUnavailable", func(t *testing.T) {
		b := watchPodBounds(t, cs, "default", "app=web", 3, 4, 0)
		expectOutput(t, kubectlOK(t, k, "set", "image", "deploy/web", "web=busybox:v2"), "deployment.apps/web image updated\n")
		waitRolledOut(t, k, "web")
		b.stop(t)
		kubectlOK(t, k, "annotate", "deploy/web", "kubernetes.io/change-cause=image v2")
		// The change-cause reaches the new ReplicaSet, where history reads it.
		eventually(t, 20*time.Second, func() error {
			out, _, _ := k.run("rollout", "history", "deploy/web")
			if !strings.Contains(out, "image v2") {
				return fmt.Errorf("history: %s", out)
			}
			return nil
		})
		expectOutput(t, kubectlOK(t, k, "rollout", "history", "deploy/web"), `deployment.apps/web 
REVISION  CHANGE-CAUSE
1         <none>
2         image v2

`)
		events := kubectlOK(t, k, "get", "events", "--field-selector", "involvedObject.kind=Deployment,involvedObject.name=web", "-o", "custom-columns=REASON:.reason,MESSAGE:.message", "--sort-by=.metadata.creationTimestamp")
		for _, want := range []string{"ScalingReplicaSet  Scaled up replica set web-", "from 0 to 3", "Scaled down replica set web-"} {
			if !strings.Contains(normalize(events), want) {
				t.Errorf("events lack %q:\n%s", want, events)
			}
		}
	})

	t.Run("rollout undo brings revision 1 back as revision 3", func(t *testing.T) {
		expectOutput(t, kubectlOK(t, k, "rollout", "undo", "deploy/web"), "deployment.apps/web rolled back\n")
		waitRolledOut(t, k, "web")
		expectOutput(t, kubectlOK(t, k, "rollout", "history", "deploy/web"), `deployment.apps/web 
REVISION  CHANGE-CAUSE
2         image v2
3         <none>

`)
		rss := replicaSetsOf(t, cs, "default", "web")
		noDuplicateReplicaSets(t, rss)
		if got := revisions(rss); len(rss) != 2 || got["busybox:v1"] != "3" || got["busybox:v2"] != "2" {
			t.Fatalf("revisions by image %v", got)
		}
		for _, rs := range rss {
			if rs.Spec.Template.Spec.Containers[0].Image == "busybox:v1" && rs.Annotations["deployment.kubernetes.io/revision-history"] != "1" {
				t.Fatalf("revision-history of the reused ReplicaSet: %v", rs.Annotations)
			}
		}
		out := kubectlOK(t, k, "rollout", "history", "deploy/web", "--revision=3")
		if !strings.Contains(out, "deployment.apps/web with revision #3") || !strings.Contains(out, "Image:\tbusybox:v1") {
			t.Fatalf("history --revision=3:\n%s", out)
		}
		out = kubectlOK(t, k, "get", "deploy", "web", "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision} {.spec.template.spec.containers[0].image}")
		expectOutput(t, out, "3 busybox:v1")
	})

	t.Run("scale, restart, wait", func(t *testing.T) {
		expectOutput(t, kubectlOK(t, k, "scale", "deploy/web", "--replicas=5"), "deployment.apps/web scaled\n")
		waitRolledOut(t, k, "web")
		// A resize is no rollout: same ReplicaSet, same revision.
		rss := replicaSetsOf(t, cs, "default", "web")
		if got := revisions(rss); len(rss) != 2 || got["busybox:v1"] != "3" {
			t.Fatalf("after scale: %v", got)
		}
		// 5 replicas: maxSurge 2 (25% up), maxUnavailable 1 (25% down).
		b := watchPodBounds(t, cs, "default", "app=web", 4, 7, 0)
		expectOutput(t, kubectlOK(t, k, "rollout", "restart", "deploy/web"), "deployment.apps/web restarted\n")
		waitRolledOut(t, k, "web")
		b.stop(t)
		expectOutput(t, kubectlOK(t, k, "wait", "--for=condition=Available", "deploy/web", "--timeout=30s"), "deployment.apps/web condition met\n")
		out := kubectlOK(t, k, "get", "deploy", "web")
		expectOutput(t, out, "NAME  READY  UP-TO-DATE  AVAILABLE  AGE\nweb  5/5  5  5  <age>\n")
		// The restart is a new template (restartedAt annotation): a third
		// ReplicaSet, revision 4.
		rss = replicaSetsOf(t, cs, "default", "web")
		noDuplicateReplicaSets(t, rss)
		var revs []string
		for _, rs := range rss {
			revs = append(revs, rs.Annotations["deployment.kubernetes.io/revision"])
		}
		slices.Sort(revs)
		if !slices.Equal(revs, []string{"2", "3", "4"}) {
			t.Fatalf("revisions %v", revs)
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		expectOutput(t, kubectlOK(t, k, "rollout", "pause", "deploy/web"), "deployment.apps/web paused\n")
		kubectlOK(t, k, "set", "image", "deploy/web", "web=busybox:v3")
		eventually(t, 20*time.Second, func() error {
			d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, c := range d.Status.Conditions {
				if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionUnknown && c.Reason == "DeploymentPaused" && d.Status.ObservedGeneration == d.Generation {
					return nil
				}
			}
			return fmt.Errorf("conditions %+v", d.Status.Conditions)
		})
		// Paused: no rollout, but a resize still applies.
		kubectlOK(t, k, "scale", "deploy/web", "--replicas=2")
		eventually(t, 20*time.Second, func() error {
			d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if d.Status.ObservedGeneration != d.Generation || d.Status.Replicas != 2 || d.Status.AvailableReplicas != 2 {
				return fmt.Errorf("status %+v", d.Status)
			}
			return nil
		})
		rss := replicaSetsOf(t, cs, "default", "web")
		if got := revisions(rss); len(rss) != 3 || got["busybox:v3"] != "" {
			t.Fatalf("a paused Deployment rolled out: %v", got)
		}
		expectOutput(t, kubectlOK(t, k, "rollout", "resume", "deploy/web"), "deployment.apps/web resumed\n")
		waitRolledOut(t, k, "web")
		rss = replicaSetsOf(t, cs, "default", "web")
		noDuplicateReplicaSets(t, rss)
		if got := revisions(rss); got["busybox:v3"] != "5" {
			t.Fatalf("after resume: %v", got)
		}
		out := kubectlOK(t, k, "get", "deploy", "web", "-o", "jsonpath={.status.replicas} {.status.updatedReplicas} {.status.availableReplicas}")
		expectOutput(t, out, "2 2 2")
	})
}

// TestDeploymentSurvivesServerKill is acceptance 2: kill -9 the server in
// the middle of a rolling update; the restarted controllers finish it
// within maxSurge/maxUnavailable and without a second ReplicaSet.
func TestDeploymentSurvivesServerKill(t *testing.T) {
	s := startServer(t)
	fakeNodes(t, s, 2)
	cs := clientset(t, s)
	k := newKubectl(t, s, "")
	ctx := context.Background()

	// minReadySeconds slows each step down to two seconds, so the kill
	// lands mid-rollout. 6 replicas, maxSurge 2, maxUnavailable 1: between
	// 5 available and 8 pods at every moment.
	strategy := "    type: RollingUpdate\n    rollingUpdate: {maxSurge: 2, maxUnavailable: 1}"
	kubectlOK(t, k, "apply", "-f", writeManifest(t, "web.yaml", webManifest(6, "busybox:v1", strategy, 2)))
	waitRolledOut(t, k, "web")

	b := watchPodBounds(t, cs, "default", "app=web", 5, 8, 2*time.Second)
	kubectlOK(t, k, "apply", "-f", writeManifest(t, "web2.yaml", webManifest(6, "busybox:v2", strategy, 2)))

	// Kill once the new ReplicaSet has started and the old one still has
	// pods: the middle of the rollout.
	eventually(t, 30*time.Second, func() error {
		var newReady, oldPods int32
		for _, rs := range replicaSetsOf(t, cs, "default", "web") {
			if rs.Spec.Template.Spec.Containers[0].Image == "busybox:v2" {
				newReady = rs.Status.ReadyReplicas
			} else {
				oldPods = rs.Status.Replicas
			}
		}
		if newReady > 0 && oldPods > 0 {
			return nil
		}
		return fmt.Errorf("new ReplicaSet has %d ready pods, old one %d pods", newReady, oldPods)
	})
	rsBefore := replicaSetsOf(t, cs, "default", "web")
	s.Kill()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("server killed and restarted with %d ReplicaSets", len(rsBefore))

	waitRolledOut(t, k, "web")
	b.stop(t)

	rss := replicaSetsOf(t, cs, "default", "web")
	noDuplicateReplicaSets(t, rss)
	if got := revisions(rss); len(rss) != 2 || got["busybox:v1"] != "1" || got["busybox:v2"] != "2" {
		t.Fatalf("after the restart: %d ReplicaSets, revisions by image %v", len(rss), got)
	}
	for _, rs := range rss {
		if want := int32(0); rs.Spec.Template.Spec.Containers[0].Image == "busybox:v1" && (*rs.Spec.Replicas != want || rs.Status.Replicas != want) {
			t.Fatalf("old ReplicaSet %s still has %d/%d replicas", rs.Name, *rs.Spec.Replicas, rs.Status.Replicas)
		}
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			if p.Spec.Containers[0].Image != "busybox:v2" {
				t.Fatalf("pod %s still runs %s", p.Name, p.Spec.Containers[0].Image)
			}
			running++
		}
	}
	if running != 6 {
		t.Fatalf("%d pods after the rollout, want 6", running)
	}
	expectOutput(t, kubectlOK(t, k, "rollout", "history", "deploy/web"), `deployment.apps/web 
REVISION  CHANGE-CAUSE
1         <none>
2         <none>

`)
}

// TestDeploymentProgressDeadlineDocker: an image that cannot be pulled
// never becomes available, and kubectl rollout status fails once
// progressDeadlineSeconds pass without progress. Needs Docker: on
// simulated nodes every image "runs".
func TestDeploymentProgressDeadlineDocker(t *testing.T) {
	s, cs, _ := startUp(t)
	k := newKubectl(t, s, "")
	ctx := context.Background()
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replicas: 1
  progressDeadlineSeconds: 10
  selector:
    matchLabels: {app: broken}
  template:
    metadata:
      labels: {app: broken}
    spec:
      containers:
      - name: main
        image: nosuch:tag
`
	kubectlOK(t, k, "apply", "-f", writeManifest(t, "broken.yaml", manifest))
	start := time.Now()
	out, errOut, code := k.run("rollout", "status", "deploy/broken", "--timeout=55s")
	t.Logf("$ kubectl rollout status deploy/broken --timeout=55s\n%s%s(exit %d after %s)", out, errOut, code, time.Since(start).Round(time.Second))
	if code != 1 || errOut != "error: deployment \"broken\" exceeded its progress deadline\n" {
		t.Fatalf("rollout status: exit %d, stderr %q", code, errOut)
	}
	if since := time.Since(start); since < 5*time.Second {
		t.Fatalf("failed after %s, before the 10 s deadline could pass", since)
	}
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "broken", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var progressing *appsv1.DeploymentCondition
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == appsv1.DeploymentProgressing {
			progressing = &d.Status.Conditions[i]
		}
	}
	rss := replicaSetsOf(t, cs, "default", "broken")
	if progressing == nil || progressing.Status != corev1.ConditionFalse || len(rss) != 1 ||
		progressing.Message != fmt.Sprintf("ReplicaSet %q has timed out progressing.", rss[0].Name) {
		t.Fatalf("Progressing condition %+v", progressing)
	}
	out = kubectlOK(t, k, "get", "deploy", "broken", "-o", `jsonpath={range .status.conditions[*]}{.type}={.status}/{.reason}{"\n"}{end}`)
	expectOutput(t, out, "Available=False/MinimumReplicasUnavailable\nProgressing=False/ProgressDeadlineExceeded\n")
}
