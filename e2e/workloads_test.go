package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

// The DaemonSet and StatefulSet tests drive a real skiff server with the
// stock kubectl and simulated nodes (skiff agent --runtime fake: pods are
// Running and Ready as soon as they are bound). Pod order and
// availability are checked on a watch of the pods, replayed event by
// event: each event is one change of the cluster's state.

// wlRun runs kubectl with stdin, logs what it printed, and fails unless
// it exits 0.
func wlRun(t *testing.T, k *kubectl, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := k.runIn(stdin, args...)
	t.Logf("$ kubectl %s\n%s%s(exit %d)", strings.Join(args, " "), out, errOut, code)
	if code != 0 {
		t.Fatalf("kubectl %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// wlRevisions reads the REVISION column of `kubectl rollout history`.
func wlRevisions(t *testing.T, out string) []string {
	t.Helper()
	var revs []string
	header := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "REVISION":
			header = true
		case header:
			revs = append(revs, f[0])
		}
	}
	if !header {
		t.Fatalf("no REVISION table in %q", out)
	}
	return revs
}

// wlTimeline records every event of a pod watch, in order.
type wlTimeline struct {
	mu     sync.Mutex
	events []watch.Event
}

func wlWatchPods(t *testing.T, cs kubernetes.Interface, ns, selector string) *wlTimeline {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	tl := &wlTimeline{}
	for i := range list.Items {
		tl.events = append(tl.events, watch.Event{Type: watch.Added, Object: &list.Items[i]})
	}
	// A RetryWatcher resumes from the last resourceVersion it saw: no
	// event is lost to a closed stream.
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return cs.CoreV1().Pods(ns).Watch(ctx, o)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range rw.ResultChan() {
			if _, ok := ev.Object.(*corev1.Pod); !ok {
				continue
			}
			tl.mu.Lock()
			tl.events = append(tl.events, ev)
			tl.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); rw.Stop(); <-done })
	return tl
}

// mark is the position to replay from.
func (tl *wlTimeline) mark() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.events)
}

// replay calls f after each event from position from on, with the pods
// as they stood after it (pods being deleted included).
func (tl *wlTimeline) replay(from int, f func(ev watch.Event, pods map[string]*corev1.Pod)) {
	tl.mu.Lock()
	events := slices.Clone(tl.events)
	tl.mu.Unlock()
	pods := map[string]*corev1.Pod{}
	for i, ev := range events {
		p := ev.Object.(*corev1.Pod)
		if ev.Type == watch.Deleted {
			delete(pods, p.Name)
		} else {
			pods[p.Name] = p
		}
		if i >= from {
			f(ev, pods)
		}
	}
}

func wlReady(p *corev1.Pod) bool {
	if p == nil || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// wlSkippedRollback undoes to the current revision with the oldest and
// newest supported kubectl and the default one. kubectl compares the
// revision's bytes with its own rendering of the live template, so
// "skipped rollback" proves the revision data is what kubectl writes.
func wlSkippedRollback(t *testing.T, s *cluster.Server, obj string, revision int) {
	t.Helper()
	for _, minor := range []string{"1.27", "1.33", ""} {
		out := wlRun(t, newKubectl(t, s, minor), "", "rollout", "undo", obj, fmt.Sprintf("--to-revision=%d", revision))
		if !strings.Contains(out, fmt.Sprintf("skipped rollback (current template already matches revision %d)", revision)) {
			t.Fatalf("kubectl %s: undo to the current revision printed %q", minor, out)
		}
	}
}

func wlImages(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name+"="+p.Spec.Containers[0].Image)
	}
	return out
}

func wlEvents(t *testing.T, cs kubernetes.Interface, ns, kind, name string) []corev1.Event {
	t.Helper()
	list, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out
}

const wlDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {skiff-test/agent: "yes"}
      terminationGracePeriodSeconds: 1
      containers:
      - name: agent
        image: agent:v1
        command: ["sh", "-c", "sleep 3600"]
`

// TestDaemonSetRollout: one pod per eligible node (never on a node
// tainted NoSchedule), kubectl rollout status, an image change that
// rolls through with at most one node unavailable, history and undo, and
// a node that stops matching losing its pod.
func TestDaemonSetRollout(t *testing.T) {
	s := startServer(t)
	nodes := fakeNodes(t, s, 3)
	cs := clientset(t, s)
	k := newKubectl(t, s, "")
	ctx := context.Background()
	for _, n := range nodes {
		wlRun(t, k, "", "label", "node", n, "skiff-test/agent=yes")
	}
	wlRun(t, k, "", "taint", "node", nodes[2], "dedicated=infra:NoSchedule")
	pods := wlWatchPods(t, cs, "default", "app=agent")

	wlRun(t, k, wlDaemonSet, "apply", "-f", "-")
	out := wlRun(t, k, "", "rollout", "status", "ds/agent", "--timeout=50s")
	if !strings.HasSuffix(out, "daemon set \"agent\" successfully rolled out\n") {
		t.Fatalf("rollout status printed %q", out)
	}
	byNode := func() map[string][]corev1.Pod {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]corev1.Pod{}
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil {
				m[p.Spec.NodeName] = append(m[p.Spec.NodeName], p)
			}
		}
		return m
	}
	placed := byNode()
	if len(placed) != 2 || len(placed[nodes[0]]) != 1 || len(placed[nodes[1]]) != 1 {
		t.Fatalf("pods by node %v, want one on each of %s and %s and none on the tainted %s", placed, nodes[0], nodes[1], nodes[2])
	}
	ds, err := cs.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := ds.Status; st.DesiredNumberScheduled != 2 || st.NumberReady != 2 || st.NumberAvailable != 2 || st.UpdatedNumberScheduled != 2 || st.ObservedGeneration != ds.Generation {
		t.Fatalf("status %+v", st)
	}
	firstHash := placed[nodes[0]][0].Labels["controller-revision-hash"]

	// The image change, watched: never more than maxUnavailable (1) of
	// the two nodes without an available pod.
	from := pods.mark()
	wlRun(t, k, "", "set", "image", "ds/agent", "agent=agent:v2")
	wlRun(t, k, "", "rollout", "status", "ds/agent", "--timeout=50s")
	eventually(t, 10*time.Second, func() error {
		for n, ps := range byNode() {
			if len(ps) != 1 || ps[0].Spec.Containers[0].Image != "agent:v2" {
				return fmt.Errorf("node %s has pods %v", n, wlImages(ps))
			}
		}
		return nil
	})
	worst, deleted := 0, map[string]bool{}
	pods.replay(from, func(ev watch.Event, cur map[string]*corev1.Pod) {
		p := ev.Object.(*corev1.Pod)
		if p.DeletionTimestamp != nil || ev.Type == watch.Deleted {
			deleted[p.Name] = true
		}
		down := 0
		for _, n := range nodes[:2] {
			up := false
			for _, q := range cur {
				up = up || (q.Spec.NodeName == n && wlReady(q))
			}
			if !up {
				down++
			}
		}
		if down > 1 {
			t.Errorf("after %s %s: %d nodes without an available daemon pod (maxUnavailable 1)", ev.Type, p.Name, down)
		}
		worst = max(worst, down)
	})
	t.Logf("during the update at most %d node(s) lacked an available pod; %d pods were deleted", worst, len(deleted))
	if len(deleted) != 2 || worst != 1 {
		t.Fatalf("the watch saw %d pods deleted and at most %d nodes down: the rollout was not observed", len(deleted), worst)
	}

	out = wlRun(t, k, "", "rollout", "history", "ds/agent")
	if revs := wlRevisions(t, out); !slices.Equal(revs, []string{"1", "2"}) {
		t.Fatalf("history revisions %v", revs)
	}
	if out := wlRun(t, k, "", "rollout", "history", "ds/agent", "--revision=1"); !strings.Contains(out, "agent:v1") {
		t.Fatalf("revision 1 does not show image agent:v1")
	}
	wlRun(t, k, "", "rollout", "undo", "ds/agent")
	wlRun(t, k, "", "rollout", "status", "ds/agent", "--timeout=50s")
	eventually(t, 10*time.Second, func() error {
		for n, ps := range byNode() {
			if len(ps) != 1 || ps[0].Spec.Containers[0].Image != "agent:v1" || ps[0].Labels["controller-revision-hash"] != firstHash {
				return fmt.Errorf("node %s has pods %v, want one at agent:v1 labelled %s", n, wlImages(ps), firstHash)
			}
		}
		return nil
	})
	out = wlRun(t, k, "", "rollout", "history", "ds/agent")
	if revs := wlRevisions(t, out); !slices.Equal(revs, []string{"2", "3"}) {
		t.Fatalf("history after undo %v, want the first template renumbered 3", revs)
	}
	wlSkippedRollback(t, s, "ds/agent", 3)

	// A node that no longer matches the nodeSelector loses its pod.
	wlRun(t, k, "", "label", "node", nodes[1], "skiff-test/agent-")
	eventually(t, 20*time.Second, func() error {
		m := byNode()
		if len(m[nodes[1]]) != 0 || len(m[nodes[0]]) != 1 {
			return fmt.Errorf("pods by node %v", m)
		}
		ds, err := cs.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ds.Status.DesiredNumberScheduled != 1 || ds.Status.NumberMisscheduled != 0 {
			return fmt.Errorf("status %+v", ds.Status)
		}
		return nil
	})
	var reasons []string
	for _, e := range wlEvents(t, cs, "default", "DaemonSet", "agent") {
		reasons = append(reasons, e.Reason)
	}
	if !slices.Contains(reasons, "SuccessfulCreate") || !slices.Contains(reasons, "SuccessfulDelete") {
		t.Fatalf("DaemonSet events %v", reasons)
	}
}

func wlStatefulSet(image string, replicas int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {app: web}
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: %d
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        command: ["sh", "-c", "sleep 3600"]
`, replicas, image)
}

// TestStatefulSetOrderedRollout: web-0, web-1, web-2 created in order,
// each after the previous is ready; scale down in reverse; a rolling
// update with partition 1 that updates web-2 then web-1 and not web-0;
// kubectl rollout status, history and undo.
func TestStatefulSetOrderedRollout(t *testing.T) {
	s := startServer(t)
	fakeNodes(t, s, 3)
	cs := clientset(t, s)
	k := newKubectl(t, s, "")
	ctx := context.Background()
	pods := wlWatchPods(t, cs, "default", "app=web")

	wlRun(t, k, wlStatefulSet("web:v1", 3), "apply", "-f", "-")
	out := wlRun(t, k, "", "rollout", "status", "sts/web", "--timeout=50s")
	if !strings.Contains(out, "partitioned roll out complete: 3 new pods have been updated") {
		t.Fatalf("rollout status printed %q", out)
	}

	// Created in order, each only once all lower ordinals were ready.
	var created []string
	pods.replay(0, func(ev watch.Event, cur map[string]*corev1.Pod) {
		p := ev.Object.(*corev1.Pod)
		if ev.Type != watch.Added {
			return
		}
		created = append(created, p.Name)
		var ord int
		fmt.Sscanf(p.Name, "web-%d", &ord)
		for i := range ord {
			if !wlReady(cur[fmt.Sprintf("web-%d", i)]) {
				t.Errorf("%s created while web-%d was not Running and Ready", p.Name, i)
			}
		}
	})
	if !slices.Equal(created, []string{"web-0", "web-1", "web-2"}) {
		t.Fatalf("pods created in order %v", created)
	}
	set, err := cs.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	firstRev := set.Status.UpdateRevision
	for i := range 3 {
		name := fmt.Sprintf("web-%d", i)
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.Hostname != name || p.Spec.Subdomain != "web" || p.Labels["statefulset.kubernetes.io/pod-name"] != name ||
			p.Labels["apps.kubernetes.io/pod-index"] != fmt.Sprint(i) || p.Labels["controller-revision-hash"] != firstRev {
			t.Fatalf("%s: hostname %q subdomain %q labels %v (update revision %s)", name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels, firstRev)
		}
	}

	// Scale down: web-2 goes, and only once it is gone does web-1.
	from := pods.mark()
	wlRun(t, k, "", "scale", "sts/web", "--replicas=1")
	eventually(t, 30*time.Second, func() error {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].Name != "web-0" {
			return fmt.Errorf("%d pods", len(list.Items))
		}
		return nil
	})
	var stopping []string
	pods.replay(from, func(ev watch.Event, cur map[string]*corev1.Pod) {
		p := ev.Object.(*corev1.Pod)
		if ev.Type == watch.Deleted || p.DeletionTimestamp == nil || slices.Contains(stopping, p.Name) {
			return
		}
		stopping = append(stopping, p.Name)
		if p.Name == "web-1" && cur["web-2"] != nil {
			t.Errorf("web-1 told to stop while web-2 still existed")
		}
	})
	if !slices.Equal(stopping, []string{"web-2", "web-1"}) {
		t.Fatalf("pods stopped in order %v", stopping)
	}
	wlRun(t, k, "", "scale", "sts/web", "--replicas=3")
	wlRun(t, k, "", "rollout", "status", "sts/web", "--timeout=50s")

	// A partitioned rolling update: web-2, then web-1; web-0 stays.
	wlRun(t, k, "", "patch", "sts/web", "-p", `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":1}}}}`)
	from = pods.mark()
	wlRun(t, k, "", "set", "image", "sts/web", "web=web:v2")
	out = wlRun(t, k, "", "rollout", "status", "sts/web", "--timeout=50s")
	if !strings.Contains(out, "partitioned roll out complete: 2 new pods have been updated") {
		t.Fatalf("rollout status printed %q", out)
	}
	images := func() map[string]string {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil {
				m[p.Name] = p.Spec.Containers[0].Image
			}
		}
		return m
	}
	if got := images(); got["web-0"] != "web:v1" || got["web-1"] != "web:v2" || got["web-2"] != "web:v2" || len(got) != 3 {
		t.Fatalf("images after the partitioned update %v", got)
	}
	var replaced []string
	pods.replay(from, func(ev watch.Event, cur map[string]*corev1.Pod) {
		p := ev.Object.(*corev1.Pod)
		if p.DeletionTimestamp != nil && ev.Type != watch.Deleted && !slices.Contains(replaced, p.Name) {
			replaced = append(replaced, p.Name)
			for _, q := range cur {
				if q.Name != p.Name && !wlReady(q) {
					t.Errorf("%s told to stop while %s was not ready", p.Name, q.Name)
				}
			}
		}
	})
	if !slices.Equal(replaced, []string{"web-2", "web-1"}) {
		t.Fatalf("pods replaced in order %v", replaced)
	}
	set, err = cs.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := set.Status; st.CurrentRevision != firstRev || st.UpdateRevision == firstRev || st.CurrentReplicas != 1 || st.UpdatedReplicas != 2 {
		t.Fatalf("status %+v", st)
	}
	out = wlRun(t, k, "", "rollout", "history", "sts/web")
	if revs := wlRevisions(t, out); !slices.Equal(revs, []string{"1", "2"}) {
		t.Fatalf("history revisions %v", revs)
	}
	if out := wlRun(t, k, "", "rollout", "history", "sts/web", "--revision=2"); !strings.Contains(out, "web:v2") {
		t.Fatal("revision 2 does not show image web:v2")
	}

	// Finish the rollout, then undo it.
	wlRun(t, k, "", "patch", "sts/web", "-p", `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}`)
	wlRun(t, k, "", "rollout", "status", "sts/web", "--timeout=50s")
	eventually(t, 20*time.Second, func() error {
		if got := images(); got["web-0"] != "web:v2" || len(got) != 3 {
			return fmt.Errorf("images %v", got)
		}
		return nil
	})
	out = wlRun(t, k, "", "rollout", "undo", "sts/web")
	if !strings.Contains(out, "rolled back") {
		t.Fatalf("undo printed %q", out)
	}
	wlRun(t, k, "", "rollout", "status", "sts/web", "--timeout=50s")
	eventually(t, 30*time.Second, func() error {
		got := images()
		for i := range 3 {
			if img := got[fmt.Sprintf("web-%d", i)]; img != "web:v1" {
				return fmt.Errorf("images %v", got)
			}
		}
		set, err := cs.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if set.Status.CurrentRevision != firstRev || set.Status.UpdateRevision != firstRev {
			return fmt.Errorf("status revisions %s / %s, want %s", set.Status.CurrentRevision, set.Status.UpdateRevision, firstRev)
		}
		return nil
	})
	out = wlRun(t, k, "", "rollout", "history", "sts/web")
	if revs := wlRevisions(t, out); !slices.Equal(revs, []string{"2", "3"}) {
		t.Fatalf("history after undo %v, want the first template renumbered 3", revs)
	}
	wlSkippedRollback(t, s, "sts/web", 3)
}

// TestStatefulSetVolumeClaimTemplatesRefused: without storage a set with
// volumeClaimTemplates gets no pods, and says why in an event and a
// condition that kubectl shows.
func TestStatefulSetVolumeClaimTemplatesRefused(t *testing.T) {
	s := startServer(t)
	fakeNodes(t, s, 1)
	cs := clientset(t, s)
	k := newKubectl(t, s, "")
	ctx := context.Background()
	manifest := strings.Replace(wlStatefulSet("web:v1", 2), "  template:\n", `  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 1Gi
  template:
`, 1)
	wlRun(t, k, manifest, "apply", "-f", "-")
	var cond appsv1.StatefulSetCondition
	eventually(t, 20*time.Second, func() error {
		set, err := cs.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range set.Status.Conditions {
			if c.Type == "ReplicaFailure" {
				cond = c
			}
		}
		if cond.Status != corev1.ConditionTrue || set.Status.ObservedGeneration != set.Generation {
			return fmt.Errorf("status %+v", set.Status)
		}
		return nil
	})
	if cond.Reason != "VolumeClaimTemplatesNotSupported" || !strings.Contains(cond.Message, "volumeClaimTemplates (data)") {
		t.Fatalf("condition %+v", cond)
	}
	var warning *corev1.Event
	eventually(t, 10*time.Second, func() error {
		for _, e := range wlEvents(t, cs, "default", "StatefulSet", "web") {
			if e.Type == corev1.EventTypeWarning && e.Reason == "VolumeClaimTemplatesNotSupported" {
				warning = &e
				return nil
			}
		}
		return fmt.Errorf("no warning event yet")
	})
	if !strings.Contains(warning.Message, "no persistent volume storage") {
		t.Fatalf("event message %q", warning.Message)
	}
	out := wlRun(t, k, "", "describe", "sts/web")
	if !strings.Contains(out, "VolumeClaimTemplatesNotSupported") {
		t.Fatalf("kubectl describe does not show why the set has no pods:\n%s", out)
	}
	// The controller has acted (status, event); it made no pod then and
	// makes none later.
	time.Sleep(2 * time.Second)
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Fatalf("%d pods created for a set with volumeClaimTemplates", len(list.Items))
	}
}
