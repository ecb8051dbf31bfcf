package statefulset

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
// fake clock; tests call sync themselves.
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
	clk := clocktesting.NewFakeClock(t0)
	// What the API server does on create that the fake does not.
	controllertest.ServeCreates(client, clk)
	inf := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(1000)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := newController(client, inf, rec, log, clk)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches did not sync")
	}
	return &fixture{t: t, ctx: ctx, client: client, c: c, rec: rec, clock: clk}
}

func (f *fixture) sync() {
	f.t.Helper()
	if err := f.c.sync(f.ctx, "default/web"); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
}

func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	controllertest.WaitFor(f.t, "the cache showing "+what, cond)
}

func (f *fixture) set() *appsv1.StatefulSet {
	f.t.Helper()
	s, err := f.client.AppsV1().StatefulSets("default").Get(f.ctx, "web", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
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

func (f *fixture) podNames() string {
	var s []string
	for _, p := range f.apiPods() {
		s = append(s, p.Name+"@"+podRevision(&p))
	}
	return strings.Join(s, " ")
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

// settle waits until the cache holds what the API holds: pods, the set
// and its revisions.
func (f *fixture) settle() {
	f.t.Helper()
	f.eventually("the API's state", func() bool {
		pods, _ := f.c.podLister.List(labels.Everything())
		revs, _ := f.c.revisions.Lister.List(labels.Everything())
		set, err := f.c.setLister.StatefulSets("default").Get("web")
		api := f.set()
		if err != nil || len(pods) != len(f.apiPods()) || len(revs) != len(f.revisions()) ||
			set.Generation != api.Generation || !equality.Semantic.DeepEqual(set.Status, api.Status) {
			return false
		}
		for _, p := range pods {
			ap, err := f.client.CoreV1().Pods("default").Get(f.ctx, p.Name, metav1.GetOptions{})
			if err != nil || ap.Status.Phase != p.Status.Phase || (ap.DeletionTimestamp == nil) != (p.DeletionTimestamp == nil) {
				return false
			}
		}
		return true
	})
}

// kubelet runs every pod (Running, ready) and finishes deletions.
func (f *fixture) kubelet() {
	f.t.Helper()
	for _, p := range f.apiPods() {
		if p.Status.Phase == corev1.PodRunning {
			continue
		}
		p.Status.Phase = corev1.PodRunning
		setReady(&p, true)
		if _, err := f.client.CoreV1().Pods("default").UpdateStatus(f.ctx, &p, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.settle()
}

func (f *fixture) update(mut func(*appsv1.StatefulSet)) {
	f.t.Helper()
	s := f.set()
	mut(s)
	s.Generation++
	if _, err := f.client.AppsV1().StatefulSets("default").Update(f.ctx, s, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.settle()
}

func (f *fixture) events() []string { return controllertest.Events(f.rec) }

func TestCreatesPodsInOrderWithRevision(t *testing.T) {
	set := testSet(3)
	f := newFixture(t, set)
	f.sync()

	revs := f.revisions()
	if len(revs) != 1 {
		t.Fatalf("%d revisions", len(revs))
	}
	rev := revs[0]
	data, _ := history.TemplatePatch(set)
	hash := history.DataHash(data, ptr.To[int32](0))
	if rev.Name != "web-"+hash || rev.Revision != 1 || rev.Labels[history.HashLabel] != hash || rev.Labels["app"] != "web" ||
		string(rev.Data.Raw) != string(data) || !metav1.IsControlledBy(rev, set) {
		t.Fatalf("revision %s #%d labels %v", rev.Name, rev.Revision, rev.Labels)
	}
	if got := f.podNames(); got != "web-0@"+rev.Name {
		t.Fatalf("pods after the first sync: %s", got)
	}
	s := f.set().Status
	if s.ObservedGeneration != set.Generation || s.CurrentRevision != rev.Name || s.UpdateRevision != rev.Name || s.CollisionCount == nil || *s.CollisionCount != 0 {
		t.Fatalf("status %+v", s)
	}
	if ev := f.events(); len(ev) != 1 || ev[0] != "Normal SuccessfulCreate create Pod web-0 in StatefulSet web successful" {
		t.Fatalf("events %v", ev)
	}

	// web-0 exists but is not Running and Ready: no web-1 yet.
	f.settle()
	f.sync()
	if got := f.podNames(); got != "web-0@"+rev.Name {
		t.Fatalf("created past a pod that is not ready: %s", got)
	}
	for i := 1; i <= 2; i++ {
		f.kubelet()
		f.sync()
	}
	f.kubelet()
	f.sync()
	pods := f.apiPods()
	if len(pods) != 3 {
		t.Fatalf("pods %s", f.podNames())
	}
	for i, p := range pods {
		if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "web" || p.Labels[appsv1.PodIndexLabel] != fmt.Sprint(i) {
			t.Fatalf("pod %s identity: hostname %q subdomain %q labels %v", p.Name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
		}
	}
	s = f.set().Status
	if s.Replicas != 3 || s.ReadyReplicas != 3 || s.AvailableReplicas != 3 || s.CurrentReplicas != 3 || s.UpdatedReplicas != 3 {
		t.Fatalf("status %+v", s)
	}
}

// The partitioned rollout, through the API: web-2 then web-1 move to the
// new revision, web-0 stays, and status says so as kubectl reads it.
func TestPartitionedRollingUpdate(t *testing.T) {
	f := newFixture(t, testSet(3))
	for range 4 {
		f.sync()
		f.kubelet()
	}
	first := f.set().Status.CurrentRevision
	f.update(func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = "v2"
		s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](1)
	})
	for range 8 {
		f.sync()
		// The node agent finishes the graceful deletion.
		for _, p := range f.apiPods() {
			if p.DeletionTimestamp != nil {
				_ = f.client.CoreV1().Pods("default").Delete(f.ctx, p.Name, metav1.DeleteOptions{})
			}
		}
		f.kubelet()
	}
	revs := f.revisions()
	if len(revs) != 2 || revs[0].Name != first || revs[1].Revision != 2 {
		t.Fatalf("revisions %v", revs)
	}
	second := revs[1].Name
	if got, want := f.podNames(), fmt.Sprintf("web-0@%s web-1@%s web-2@%s", first, second, second); got != want {
		t.Fatalf("pods %s, want %s", got, want)
	}
	s := f.set().Status
	if s.CurrentRevision != first || s.UpdateRevision != second || s.CurrentReplicas != 1 || s.UpdatedReplicas != 2 || s.ReadyReplicas != 3 {
		t.Fatalf("status %+v", s)
	}
	if ev := f.events(); !slices.Contains(ev, "Normal SuccessfulDelete delete Pod web-2 in StatefulSet web successful") {
		t.Fatalf("events %v", ev)
	}
}

// Revision numbers advance as Kubernetes's do: a template seen before
// keeps its revision object, renumbered as the newest (kubectl rollout
// undo), and unused revisions beyond the limit are pruned oldest first.
func TestRevisionBookkeeping(t *testing.T) {
	f := newFixture(t, testSet(0, func(s *appsv1.StatefulSet) { s.Spec.RevisionHistoryLimit = ptr.To[int32](2) }))
	for i, st := range []struct {
		image, want string
	}{
		{"v1", "v1@1"},
		{"v2", "v1@1 v2@2"},
		{"v3", "v1@1 v2@2 v3@3"},
		// Status still names v3 as current while v4 is recorded, so
		// both are live; two unused ones (v1, v2) are within the limit.
		{"v4", "v1@1 v2@2 v3@3 v4@4"},
		{"v2", "v1@1 v3@3 v4@4 v2@5"},
		// Once v2 is current too, only v2 is live: v1 goes.
		{"v2", "v3@3 v4@4 v2@5"},
	} {
		if i > 0 {
			f.update(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = st.image })
		}
		f.sync()
		f.settle()
		var got []string
		names := map[string]bool{}
		for _, r := range f.revisions() {
			applied, err := history.Apply(f.set(), r)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s@%d", applied.Spec.Template.Spec.Containers[0].Image, r.Revision))
			names[r.Name] = true
		}
		if strings.Join(got, " ") != st.want {
			t.Fatalf("step %d (%s): revisions %v, want %s", i, st.image, got, st.want)
		}
		if s := f.set().Status; !names[s.UpdateRevision] || !names[s.CurrentRevision] {
			t.Fatalf("status names revisions that do not exist: %+v", s)
		}
	}
}

func TestVolumeClaimTemplatesAreRefused(t *testing.T) {
	set := testSet(2, func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}
	})
	f := newFixture(t, set)
	f.sync()
	if pods := f.apiPods(); len(pods) != 0 {
		t.Fatalf("pods created: %s", f.podNames())
	}
	if revs := f.revisions(); len(revs) != 0 {
		t.Fatalf("revisions created: %v", revs)
	}
	ev := f.events()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning VolumeClaimTemplatesNotSupported spec.volumeClaimTemplates (data) are not supported") {
		t.Fatalf("events %v", ev)
	}
	s := f.set().Status
	if s.ObservedGeneration != set.Generation || len(s.Conditions) != 1 {
		t.Fatalf("status %+v", s)
	}
	c := s.Conditions[0]
	if c.Type != "ReplicaFailure" || c.Status != corev1.ConditionTrue || c.Reason != "VolumeClaimTemplatesNotSupported" ||
		!strings.Contains(c.Message, "no persistent volume storage") || !c.LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("condition %+v", c)
	}
	// Saying it once is enough: no repeated event, no rewrite.
	f.settle()
	f.clock.Step(time.Minute)
	before := len(f.client.Actions())
	f.sync()
	if ev := f.events(); len(ev) != 0 {
		t.Fatalf("repeated events %v", ev)
	}
	for _, a := range f.client.Actions()[before:] {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Fatalf("second sync wrote: %v", a)
		}
	}
}

// A pod of the right name that is someone else's blocks the ordinal:
// the sync fails and says why instead of waiting forever in silence.
func TestForeignPodHoldingAName(t *testing.T) {
	foreign := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default", Labels: map[string]string{"app": "other"}}}
	f := newFixture(t, testSet(1), foreign)
	err := f.c.sync(f.ctx, "default/web")
	if err == nil || !strings.Contains(err.Error(), "not controlled by this StatefulSet") {
		t.Fatalf("sync: %v", err)
	}
	if ev := f.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning FailedCreate create Pod web-0 in StatefulSet web failed error: pod web-0 already exists") {
		t.Fatalf("events %v", ev)
	}
}

// Orphans are adopted only when they bear one of the set's identities.
func TestAdoptsOnlyItsIdentities(t *testing.T) {
	set := testSet(2)
	member := stsPod(set, 1, "old", true)
	member.OwnerReferences = nil
	stranger := stsPod(set, 0, "old", true)
	stranger.Name, stranger.OwnerReferences = "cache-0", nil
	f := newFixture(t, set, member, stranger)
	f.sync()
	got, _ := f.client.CoreV1().Pods("default").Get(f.ctx, "web-1", metav1.GetOptions{})
	if !metav1.IsControlledBy(got, set) {
		t.Fatalf("web-1 not adopted: %+v", got.OwnerReferences)
	}
	got, _ = f.client.CoreV1().Pods("default").Get(f.ctx, "cache-0", metav1.GetOptions{})
	if len(got.OwnerReferences) != 0 {
		t.Fatalf("cache-0 adopted: %+v", got.OwnerReferences)
	}
}
