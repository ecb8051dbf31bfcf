package daemonset

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/history"
	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
)

// fixture is a controller on a fake clientset with real informers and a
// fake clock. Its sync is called directly, so each test decides when the
// controller looks.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	c      *Controller
	rec    *record.FakeRecorder
	clock  *clocktesting.FakeClock
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	return newFixtureWith(t, client, client)
}

// newFixtureWith writes through write and watches read: the same client
// normally; two when a test needs a cache that never catches up.
func newFixtureWith(t *testing.T, write, read *fake.Clientset) *fixture {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	// What the API server does on create that the fake does not.
	controllertest.ServeCreates(write, clk)
	inf := informers.NewSharedInformerFactory(read, 0)
	rec := record.NewFakeRecorder(1000)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := newController(write, inf, rec, log, clk)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches did not sync")
	}
	return &fixture{t: t, ctx: ctx, client: write, c: c, rec: rec, clock: clk}
}

func (f *fixture) sync() {
	f.t.Helper()
	if err := f.c.sync(f.ctx, "default/agent"); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
}

// eventually waits for the informer caches to show what cond wants.
func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	controllertest.WaitFor(f.t, "the cache showing "+what, cond)
}

func (f *fixture) cachedPods() []*corev1.Pod {
	pods, _ := f.c.podLister.Pods("default").List(labels.Everything())
	slices.SortFunc(pods, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods
}

func (f *fixture) waitPods(n int) []*corev1.Pod {
	f.t.Helper()
	f.eventually(fmt.Sprintf("%d pods", n), func() bool { return len(f.cachedPods()) == n })
	return f.cachedPods()
}

func (f *fixture) apiPods() []corev1.Pod {
	f.t.Helper()
	list, err := f.client.CoreV1().Pods("default").List(f.ctx, metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	slices.SortFunc(list.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return list.Items
}

func (f *fixture) revisions() []*appsv1.ControllerRevision {
	f.t.Helper()
	list, err := f.client.AppsV1().ControllerRevisions("default").List(f.ctx, metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []*appsv1.ControllerRevision
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	history.Sort(out)
	return out
}

func (f *fixture) ds() *appsv1.DaemonSet {
	f.t.Helper()
	ds, err := f.client.AppsV1().DaemonSets("default").Get(f.ctx, "agent", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

// updateDS changes the DaemonSet as a user would (bumping generation as
// the API server does) and waits for the cache.
func (f *fixture) updateDS(mut func(*appsv1.DaemonSet)) {
	f.t.Helper()
	ds := f.ds()
	mut(ds)
	ds.Generation++
	if _, err := f.client.AppsV1().DaemonSets("default").Update(f.ctx, ds, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.eventually("the DaemonSet update", func() bool {
		got, err := f.c.dsLister.DaemonSets("default").Get("agent")
		return err == nil && got.Generation == ds.Generation
	})
}

// runPods does what the scheduler and the node agent would: bind each
// pod to the node it is pinned to and report it Running and ready.
func (f *fixture) runPods(ready bool) {
	f.t.Helper()
	for _, p := range f.apiPods() {
		if p.DeletionTimestamp != nil {
			continue
		}
		node, _ := targetNode(&p)
		p.Spec.NodeName = node
		p.Status.Phase = corev1.PodRunning
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(f.clock.Now())}}
		if _, err := f.client.CoreV1().Pods("default").Update(f.ctx, &p, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.eventually("pods running", func() bool {
		for _, p := range f.cachedPods() {
			if r, _ := podReady(p); p.Spec.NodeName == "" || r != ready {
				return false
			}
		}
		return true
	})
}

func (f *fixture) events() []string { return controllertest.Events(f.rec) }

func countPrefix(events []string, prefix string) int {
	n := 0
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

func threeNodes() []runtime.Object {
	return []runtime.Object{
		testNode("n1"), testNode("n2"),
		testNode("n3", tainted("dedicated", corev1.TaintEffectNoSchedule)),
	}
}

func TestCreatesOnePodPerEligibleNode(t *testing.T) {
	f := newFixture(t, append(threeNodes(), testDS())...)
	f.sync()

	pods := f.apiPods()
	if len(pods) != 2 {
		t.Fatalf("%d pods, want one on each of n1, n2 and none on the tainted n3", len(pods))
	}
	revs := f.revisions()
	if len(revs) != 1 {
		t.Fatalf("%d revisions", len(revs))
	}
	rev := revs[0]
	hash := rev.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	wantData, _ := history.TemplatePatch(testDS())
	if rev.Name != "agent-"+hash || rev.Revision != 1 || string(rev.Data.Raw) != string(wantData) ||
		rev.Labels["app"] != "agent" || !metav1.IsControlledBy(rev, testDS()) {
		t.Fatalf("revision %s #%d labels %v data %s", rev.Name, rev.Revision, rev.Labels, rev.Data.Raw)
	}
	var nodes []string
	for _, p := range pods {
		node, ok := targetNode(&p)
		if !ok || p.Spec.NodeName != "" {
			t.Fatalf("pod %s: not pinned by affinity for the scheduler to bind (nodeName %q)", p.Name, p.Spec.NodeName)
		}
		nodes = append(nodes, node)
		if !strings.HasPrefix(p.Name, "agent-") || p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash || p.Labels["app"] != "agent" {
			t.Fatalf("pod %s labels %v", p.Name, p.Labels)
		}
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != "ds-uid" || ref.Kind != "DaemonSet" {
			t.Fatalf("pod %s owner %+v", p.Name, p.OwnerReferences)
		}
		if len(p.Spec.Tolerations) != len(daemonTolerations) {
			t.Fatalf("pod %s tolerations %+v", p.Name, p.Spec.Tolerations)
		}
	}
	slices.Sort(nodes)
	if strings.Join(nodes, ",") != "n1,n2" {
		t.Fatalf("pods for nodes %v", nodes)
	}
	if ev := f.events(); countPrefix(ev, "Normal SuccessfulCreate Created pod: agent-") != 2 {
		t.Fatalf("events %v", ev)
	}
	// This sync's status could not see its own pods yet.
	if s := f.ds().Status; s.DesiredNumberScheduled != 2 || s.CurrentNumberScheduled != 0 || s.ObservedGeneration != 1 {
		t.Fatalf("status %+v", s)
	}

	f.waitPods(2)
	f.runPods(true)
	f.sync()
	if n := len(f.apiPods()); n != 2 {
		t.Fatalf("second sync left %d pods", n)
	}
	want := appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2, UpdatedNumberScheduled: 2, ObservedGeneration: 1}
	if s := f.ds().Status; !equality.Semantic.DeepEqual(s, want) {
		t.Fatalf("status %+v, want %+v", s, want)
	}
}

// Until the cache shows the pods it created, a sync must not create
// them again: here the cache never catches up.
func TestWaitsForItsOwnCreations(t *testing.T) {
	objs := append(threeNodes(), testDS())
	write, read := fake.NewClientset(objs...), fake.NewClientset(objs...)
	f := newFixtureWith(t, write, read)
	f.sync()
	f.sync()
	if n := len(f.apiPods()); n != 2 {
		t.Fatalf("%d pods after two syncs on a stale cache, want 2", n)
	}
	// After the expectations' timeout a lost event no longer blocks.
	f.clock.Step(6 * time.Minute)
	f.sync()
	if n := len(f.apiPods()); n != 4 {
		t.Fatalf("%d pods after the expectations expired, want 4 (the cache still shows none)", n)
	}
}

func TestRemovesPodsFromNodesThatNoLongerFit(t *testing.T) {
	withSelector := func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "edge"} }
	f := newFixture(t, testNode("n1", labelled("role", "edge")), testNode("n2", labelled("role", "edge")), testDS(withSelector))
	f.sync()
	f.waitPods(2)
	f.runPods(true)

	n2, _ := f.client.CoreV1().Nodes().Get(f.ctx, "n2", metav1.GetOptions{})
	delete(n2.Labels, "role")
	if _, err := f.client.CoreV1().Nodes().Update(f.ctx, n2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.eventually("the node change", func() bool {
		n, _ := f.c.nodeLister.Get("n2")
		return n != nil && n.Labels["role"] == ""
	})
	f.events()
	f.sync()
	pods := f.apiPods()
	if len(pods) != 1 || pods[0].Spec.NodeName != "n1" {
		t.Fatalf("pods left: %v", pods)
	}
	if ev := f.events(); countPrefix(ev, "Normal SuccessfulDelete Deleted pod: ") != 1 {
		t.Fatalf("events %v", ev)
	}
	f.waitPods(1)
	f.sync()
	if s := f.ds().Status; s.DesiredNumberScheduled != 1 || s.NumberMisscheduled != 0 || s.NumberAvailable != 1 {
		t.Fatalf("status %+v", s)
	}
}

func TestAdoptsOrphanInsteadOfCreating(t *testing.T) {
	orphan := dsPod("stray", "n1", history.TemplateHash(&testDS().Spec.Template, nil), true)
	f := newFixture(t, testNode("n1"), testDS(), orphan)
	f.sync()
	pods := f.apiPods()
	if len(pods) != 1 || pods[0].Name != "stray" || !metav1.IsControlledBy(&pods[0], testDS()) {
		t.Fatalf("pods %v", pods)
	}
}

func hashes(pods []corev1.Pod) map[string]int {
	m := map[string]int{}
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			m[p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]]++
		}
	}
	return m
}

// A template change rolls through the nodes one at a time (maxUnavailable
// 1), records a second revision, and the status follows.
func TestRollingUpdateOneNodeAtATime(t *testing.T) {
	f := newFixture(t, testNode("n1"), testNode("n2"), testNode("n3"), testDS())
	f.sync()
	f.waitPods(3)
	f.runPods(true)
	f.sync()
	oldHash := f.revisions()[0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey]

	f.updateDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:v2" })
	var deletedOrder []string
	for round := 0; ; round++ {
		if round > 20 {
			t.Fatal("rollout did not finish")
		}
		before := f.apiPods()
		f.sync()
		after := f.apiPods()
		revs := f.revisions()
		if len(revs) != 2 || revs[0].Revision != 1 || revs[1].Revision != 2 {
			t.Fatalf("revisions %v", revs)
		}
		newHash := revs[1].Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
		if len(after) < len(before) {
			if len(before)-len(after) > 1 {
				t.Fatalf("round %d deleted %d pods at once with maxUnavailable 1", round, len(before)-len(after))
			}
			for _, p := range before {
				if !slices.ContainsFunc(after, func(q corev1.Pod) bool { return q.Name == p.Name }) {
					deletedOrder = append(deletedOrder, p.Spec.NodeName)
				}
			}
		}
		h := hashes(after)
		if h[newHash] == 3 && h[oldHash] == 0 {
			break
		}
		f.waitPods(len(after))
		f.runPods(true)
	}
	if strings.Join(deletedOrder, ",") != "n1,n2,n3" {
		t.Fatalf("nodes updated in order %v", deletedOrder)
	}
	f.waitPods(3)
	f.runPods(true)
	f.sync()
	s := f.ds().Status
	if s.UpdatedNumberScheduled != 3 || s.NumberAvailable != 3 || s.ObservedGeneration != 2 {
		t.Fatalf("status after rollout %+v", s)
	}
}

// Going back to an earlier template reuses its revision, renumbered as
// the newest, as kubectl rollout undo expects; the limit prunes the
// oldest unused revisions.
func TestRevisionBookkeeping(t *testing.T) {
	image := func(v string) func(*appsv1.DaemonSet) {
		return func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = v }
	}
	f := newFixture(t, testDS(func(ds *appsv1.DaemonSet) { ds.Spec.RevisionHistoryLimit = ptr.To[int32](2) }))
	steps := []struct {
		image string
		want  string // image@revision, oldest first
	}{
		{"agent:v1", "agent:v1@1"},
		{"agent:v2", "agent:v1@1 agent:v2@2"},
		{"agent:v3", "agent:v1@1 agent:v2@2 agent:v3@3"},
		{"agent:v1", "agent:v2@2 agent:v3@3 agent:v1@4"},
		{"agent:v4", "agent:v3@3 agent:v1@4 agent:v4@5"},
	}
	for i, st := range steps {
		if i > 0 {
			f.updateDS(image(st.image))
		}
		f.sync()
		f.eventually("the revisions", func() bool {
			revs, _ := f.c.revisions.Lister.List(labels.Everything())
			return len(revs) == len(f.revisions())
		})
		var got []string
		for _, r := range f.revisions() {
			ds, err := history.Apply(testDS(), r)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s@%d", ds.Spec.Template.Spec.Containers[0].Image, r.Revision))
		}
		if strings.Join(got, " ") != st.want {
			t.Fatalf("step %d (%s): revisions %v, want %s", i, st.image, got, st.want)
		}
	}
}

// A revision name taken by another template bumps collisionCount; the
// next sync names the revision, and the pods' hash, anew.
func TestHashCollision(t *testing.T) {
	ds := testDS()
	hash := history.TemplateHash(&ds.Spec.Template, nil)
	squatter := history.New(ds, controllerKind, ds.Spec.Template.Labels, []byte(`{"spec":{"template":{"$patch":"replace"}}}`), 1)
	squatter.Name = "agent-" + hash
	squatter.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	f := newFixture(t, testNode("n1"), ds, squatter)
	if err := f.c.sync(f.ctx, "default/agent"); err == nil {
		t.Fatal("sync succeeded despite a colliding revision name")
	}
	if cc := f.ds().Status.CollisionCount; cc == nil || *cc != 1 {
		t.Fatalf("collisionCount %v", cc)
	}
	f.eventually("the collision count", func() bool {
		got, _ := f.c.dsLister.DaemonSets("default").Get("agent")
		return got.Status.CollisionCount != nil
	})
	f.sync()
	newHash := history.TemplateHash(&ds.Spec.Template, ptr.To[int32](1))
	pods := f.apiPods()
	if len(pods) != 1 || pods[0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != newHash {
		t.Fatalf("pods %v, want one labelled %s", pods, newHash)
	}
	if _, err := f.client.AppsV1().ControllerRevisions("default").Get(f.ctx, "agent-"+newHash, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A failed daemon pod is replaced, but a node that keeps failing it is
// retried with a growing delay rather than in a hot loop.
func TestFailedPodsBackOff(t *testing.T) {
	f := newFixture(t, testNode("n1"), testDS())
	fail := func() string {
		t.Helper()
		p := f.waitPods(1)[0].DeepCopy()
		p.Status.Phase = corev1.PodFailed
		if _, err := f.client.CoreV1().Pods("default").UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		f.eventually("the failure", func() bool {
			pods := f.cachedPods()
			return len(pods) == 1 && pods[0].Status.Phase == corev1.PodFailed
		})
		return p.Name
	}
	f.sync()
	first := fail()
	f.events()
	f.sync()
	if pods := f.apiPods(); len(pods) != 0 {
		t.Fatalf("failed pod not deleted: %v", pods)
	}
	if ev := f.events(); countPrefix(ev, "Warning FailedDaemonPod Found failed daemon pod default/"+first+" on node n1") != 1 {
		t.Fatalf("events %v", ev)
	}
	f.waitPods(0)
	f.sync()
	second := fail()
	f.sync()
	if pods := f.apiPods(); len(pods) != 1 || pods[0].Name != second {
		t.Fatalf("failed pod deleted again within the backoff: %v", pods)
	}
	f.clock.Step(3 * time.Second)
	f.sync()
	if pods := f.apiPods(); len(pods) != 0 {
		t.Fatalf("failed pod kept after the backoff: %v", pods)
	}
}

// OnDelete: a new template reaches a node only when its pod is deleted.
func TestOnDeleteWaitsForTheUser(t *testing.T) {
	onDelete := func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	}
	f := newFixture(t, testNode("n1"), testNode("n2"), testDS(onDelete))
	f.sync()
	f.waitPods(2)
	f.runPods(true)
	f.sync()
	f.updateDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:v2" })
	f.sync()
	pods := f.apiPods()
	if len(pods) != 2 || pods[0].Spec.Containers[0].Image != "agent:v1" || pods[1].Spec.Containers[0].Image != "agent:v1" {
		t.Fatalf("OnDelete replaced pods on its own: %v", pods)
	}
	if s := f.ds().Status; s.UpdatedNumberScheduled != 0 || s.ObservedGeneration != 2 {
		t.Fatalf("status %+v", s)
	}
	if err := f.client.CoreV1().Pods("default").Delete(f.ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitPods(1)
	f.sync()
	images := map[string]string{}
	for _, p := range f.apiPods() {
		node, _ := targetNode(&p)
		images[node] = p.Spec.Containers[0].Image
	}
	if images[pods[0].Spec.NodeName] != "agent:v2" || images[pods[1].Spec.NodeName] != "agent:v1" {
		t.Fatalf("images by node %v", images)
	}
}
