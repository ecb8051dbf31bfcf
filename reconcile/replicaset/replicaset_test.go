package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a controller over a fake clientset whose informer caches the
// test fills by hand, as sample-controller's tests do: Reconcile reads
// only what the test put in the cache and the test asserts the requests
// it sent.
type fixture struct {
	t      *testing.T
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	rec    *record.FakeRecorder
	d      *manager.Deps
	c      *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, client: fake.NewClientset(objs...), clock: clocktesting.NewFakeClock(t0), rec: record.NewFakeRecorder(1000)}
	d := manager.NewDeps(f.client, nil, slog.New(slog.DiscardHandler), f.clock, 0)
	c, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	c.recorder = f.rec
	f.c, f.d = c, d
	for _, o := range objs {
		f.cache(o)
	}
	// The fake tracker does not implement generateName.
	controllertest.ServeCreates(f.client, nil)
	f.client.ClearActions()
	return f
}

// cache puts an object in the informer's store, as a watch event would.
func (f *fixture) cache(o runtime.Object) {
	f.t.Helper()
	controllertest.Cache(f.t, f.d.Informers, o)
}

// actions are the requests Reconcile sent, as "verb resource[/sub] name".
func (f *fixture) actions() []string { return controllertest.Actions(f.client) }

func (f *fixture) events() []string { return controllertest.Events(f.rec) }

func (f *fixture) reconcile(key string) error {
	f.t.Helper()
	return f.c.Reconcile(context.Background(), key)
}

func (f *fixture) statusWritten() appsv1.ReplicaSetStatus {
	f.t.Helper()
	var st *appsv1.ReplicaSetStatus
	for _, a := range f.client.Actions() {
		if u, ok := a.(ktesting.UpdateAction); ok && a.GetSubresource() == "status" {
			st = &u.GetObject().(*appsv1.ReplicaSet).Status
		}
	}
	if st == nil {
		f.t.Fatalf("no status written; actions %v", f.actions())
	}
	return *st
}

func count(actions []string, prefix string) int {
	n := 0
	for _, a := range actions {
		if strings.HasPrefix(a, prefix) {
			n++
		}
	}
	return n
}

var webLabels = map[string]string{"app": "web"}

func testRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: webLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"note": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func ownedBy(rs *appsv1.ReplicaSet) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}
	}
}

func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func readySince(t time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t)}}
	}
}

func createdAt(t time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t) }
}

func restarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", RestartCount: n}}
	}
}

func withLabels(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }

func testPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Labels: map[string]string{"app": "web", "tier": "front"},
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)), ResourceVersion: "1"},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "web", Image: "busybox"}}},
	}
	readySince(t0.Add(-time.Hour))(p)
	for _, o := range opts {
		o(p)
	}
	return p
}

func TestScaleUpCreatesPodsFromTemplate(t *testing.T) {
	rs := testRS("web-abc", 3)
	f := newFixture(t, rs)
	if err := f.reconcile("default/web-abc"); err != nil {
		t.Fatal(err)
	}
	// Names come from generateName, server side.
	want := []string{"create pods web-abc-*", "create pods web-abc-*", "create pods web-abc-*", "update replicasets/status web-abc"}
	got := f.actions()
	if !slices.Equal(got, want) {
		t.Fatalf("actions\n got %v\nwant %v", got, want)
	}
	p := f.client.Actions()[0].(ktesting.CreateAction).GetObject().(*corev1.Pod)
	ref := metav1.GetControllerOf(p)
	switch {
	case p.GenerateName != "web-abc-":
		t.Errorf("generateName %q", p.GenerateName)
	case p.Labels["tier"] != "front" || p.Annotations["note"] != "x":
		t.Errorf("labels %v annotations %v not from the template", p.Labels, p.Annotations)
	case ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || !ptr.Deref(ref.BlockOwnerDeletion, false):
		t.Errorf("owner references %+v", p.OwnerReferences)
	}
	// The informer has shown none of them yet: status counts what it saw.
	if st := f.statusWritten(); st.Replicas != 0 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
	ev := f.events()
	if len(ev) != 3 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: web-abc-0000") {
		t.Errorf("events %q", ev)
	}
}

// TestSlowStart: creations go in batches of 1, 2, 4, … and stop after
// the first batch with a failure, so a ReplicaSet whose pods are refused
// sends a handful of requests, not hundreds.
func TestSlowStart(t *testing.T) {
	for _, tc := range []struct {
		name       string
		replicas   int32
		okCreates  int // the API accepts this many, then refuses every create
		wantTries  int
		wantCreate int
		burst      int
	}{
		{"all succeed", 10, 100, 10, 10, burstReplicas},
		{"first refused", 10, 0, 1, 0, burstReplicas},
		{"refused in the third batch", 10, 3, 7, 3, burstReplicas},
		{"refused in the last batch", 10, 7, 10, 7, burstReplicas},
		// One sync creates at most burst pods (500 in production).
		{"burst cap", 12, 100, 5, 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := testRS("web", tc.replicas)
			f := newFixture(t, rs)
			f.c.burst = tc.burst
			var mu sync.Mutex
			tries := 0
			f.client.PrependReactor("create", "pods", func(ktesting.Action) (bool, runtime.Object, error) {
				mu.Lock()
				defer mu.Unlock()
				tries++
				if tries > tc.okCreates {
					return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("exceeded quota"))
				}
				return false, nil, nil
			})
			err := f.reconcile("default/web")
			if (err != nil) != (tc.okCreates < tc.wantTries) {
				t.Fatalf("err = %v", err)
			}
			pods, _ := f.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
			if tries != tc.wantTries || len(pods.Items) != tc.wantCreate {
				t.Fatalf("%d create requests and %d pods, want %d and %d", tries, len(pods.Items), tc.wantTries, tc.wantCreate)
			}
			// Only the creations actually made are awaited: the informer
			// showing them satisfies the expectations.
			if f.c.exp.Satisfied("default/web") && tc.wantCreate > 0 {
				t.Fatal("expectations satisfied before the informer showed the pods")
			}
			for i := range pods.Items {
				f.cache(&pods.Items[i])
				f.c.addPod(&pods.Items[i])
			}
			if !f.c.exp.Satisfied("default/web") {
				t.Fatal("expectations not satisfied after the informer showed every created pod")
			}
			if tc.okCreates < tc.wantTries {
				st := f.statusWritten()
				if len(st.Conditions) != 1 || st.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || st.Conditions[0].Reason != "FailedCreate" ||
					!strings.Contains(st.Conditions[0].Message, "exceeded quota") {
					t.Fatalf("conditions %+v", st.Conditions)
				}
				if ev := f.events(); !slices.ContainsFunc(ev, func(e string) bool { return strings.HasPrefix(e, "Warning FailedCreate Error creating: ") }) {
					t.Fatalf("events %q", ev)
				}
			}
		})
	}
}

// TestExpectationsHoldBackASecondSync: until the informer shows the pods
// a sync created, another sync must not create them again.
func TestExpectationsHoldBackASecondSync(t *testing.T) {
	rs := testRS("web", 2)
	f := newFixture(t, rs)
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	f.client.ClearActions()
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if n := count(f.actions(), "create pods"); n != 0 {
		t.Fatalf("second sync created %d more pods before the first ones were seen: %v", n, f.actions())
	}
	// The informer shows one of the two: still waiting.
	pods, _ := f.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	f.cache(&pods.Items[0])
	f.c.addPod(&pods.Items[0])
	f.client.ClearActions()
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if n := count(f.actions(), "create pods"); n != 0 {
		t.Fatalf("created %d pods with one creation still unseen", n)
	}
	f.cache(&pods.Items[1])
	f.c.addPod(&pods.Items[1])
	f.client.ClearActions()
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if got := f.actions(); count(got, "create") != 0 || count(got, "delete") != 0 {
		t.Fatalf("steady state sent %v", got)
	}
	if st := f.statusWritten(); st.Replicas != 2 {
		t.Fatalf("status %+v", st)
	}
}

// TestDeletionExpectationsCountEachPodOnce: a pod shows its deletion
// twice (terminating, then gone); the ReplicaSet must wait for every pod
// it deleted, not for two events.
func TestDeletionExpectationsCountEachPodOnce(t *testing.T) {
	rs := testRS("web", 1)
	a := testPod("a", ownedBy(rs), createdAt(t0.Add(-3*time.Hour)))
	b := testPod("b", ownedBy(rs), createdAt(t0.Add(-2*time.Hour)))
	c := testPod("c", ownedBy(rs), createdAt(t0.Add(-1*time.Hour)))
	f := newFixture(t, rs, a, b, c)
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if got := f.actions(); count(got, "delete pods") != 2 {
		t.Fatalf("actions %v", got)
	}
	deleted := map[string]bool{}
	for _, act := range f.client.Actions() {
		if d, ok := act.(ktesting.DeleteAction); ok {
			deleted[d.GetName()] = true
		}
	}
	// The first victim shows up terminating and then gone: one pod.
	var first *corev1.Pod
	for _, p := range []*corev1.Pod{a, b, c} {
		if deleted[p.Name] {
			first = p
			break
		}
	}
	term := first.DeepCopy()
	term.ResourceVersion = "2"
	term.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	f.c.updatePod(first, term)
	f.c.deletePod(term)
	if f.c.exp.Satisfied("default/web") {
		t.Fatal("satisfied after one of two deletions (seen twice)")
	}
	for _, p := range []*corev1.Pod{a, b, c} {
		if deleted[p.Name] && p != first {
			f.c.deletePod(p)
		}
	}
	if !f.c.exp.Satisfied("default/web") {
		t.Fatal("not satisfied after both deletions were seen")
	}
}

// TestScaleDownOrder: which pods go first when a ReplicaSet shrinks.
func TestScaleDownOrder(t *testing.T) {
	rs := testRS("web", 0)
	old := t0.Add(-10 * time.Hour)
	pods := []*corev1.Pod{
		testPod("ready-old", ownedBy(rs), readySince(old), createdAt(old)),
		testPod("ready-new", ownedBy(rs), readySince(t0.Add(-time.Minute)), createdAt(t0.Add(-2*time.Minute))),
		testPod("unscheduled", ownedBy(rs), onNode(""), phase(corev1.PodPending), func(p *corev1.Pod) { p.Status.Conditions = nil }),
		testPod("pending", ownedBy(rs), phase(corev1.PodPending), func(p *corev1.Pod) { p.Status.Conditions = nil }),
		testPod("not-ready", ownedBy(rs), func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }),
		testPod("restarted", ownedBy(rs), readySince(old), createdAt(old), restarts(4)),
	}
	wantOrder := []string{"unscheduled", "pending", "not-ready", "ready-new", "restarted", "ready-old"}
	for n := 1; n <= len(pods)-1; n++ {
		t.Run(fmt.Sprintf("delete %d", n), func(t *testing.T) {
			r := testRS("web", int32(len(pods)-n))
			objs := []runtime.Object{r}
			for _, p := range pods {
				objs = append(objs, p.DeepCopy())
			}
			f := newFixture(t, objs...)
			if err := f.reconcile("default/web"); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range f.client.Actions() {
				if d, ok := a.(ktesting.DeleteAction); ok {
					got = append(got, d.GetName())
				}
			}
			want := slices.Clone(wantOrder[:n])
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("deleted %v, want %v", got, want)
			}
			if ev := f.events(); len(ev) != n || !strings.HasPrefix(ev[0], "Normal SuccessfulDelete Deleted pod: ") {
				t.Fatalf("events %q", ev)
			}
		})
	}
}

func TestDeletionOrderRules(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		name        string
		first, then *corev1.Pod
		firstRank   int
		thenRank    int
	}{
		{"unscheduled before scheduled", testPod("a", onNode("")), testPod("b"), 0, 0},
		{"pending before running", testPod("a", phase(corev1.PodPending)), testPod("b"), 0, 0},
		{"unknown before running", testPod("a", phase(corev1.PodUnknown)), testPod("b"), 0, 0},
		{"not ready before ready", testPod("a", func(p *corev1.Pod) { p.Status.Conditions = nil }), testPod("b"), 0, 0},
		{"lower deletion cost first", testPod("a", func(p *corev1.Pod) { p.Annotations = map[string]string{deletionCostAnnotation: "-5"} }), testPod("b"), 0, 0},
		{"invalid deletion cost is 0", testPod("a", func(p *corev1.Pod) { p.Annotations = map[string]string{deletionCostAnnotation: "007"} }),
			testPod("b", func(p *corev1.Pod) { p.Annotations = map[string]string{deletionCostAnnotation: "1"} }), 0, 0},
		{"doubled up first", testPod("a"), testPod("b"), 3, 1},
		{"ready more recently first", testPod("a", readySince(now.Add(-time.Minute))), testPod("b", readySince(now.Add(-time.Hour))), 0, 0},
		{"more restarts first", testPod("a", restarts(2)), testPod("b", restarts(1)), 0, 0},
		{"sidecar restarts break a tie", testPod("a", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "side", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "side", RestartCount: 3}}
		}), testPod("b"), 0, 0},
		{"newer first", testPod("a", createdAt(now.Add(-time.Minute))), testPod("b", createdAt(now.Add(-time.Hour))), 0, 0},
		// 140 and 80 minutes ago are in the same log2 bucket (2^42 ns,
		// 73 to 146 minutes): the UID decides, not the age.
		{"same age bucket goes by uid", testPod("a", createdAt(now.Add(-140*time.Minute))), testPod("b", createdAt(now.Add(-80*time.Minute))), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := deletionOrder{pods: []*corev1.Pod{tc.first, tc.then}, rank: []int{tc.firstRank, tc.thenRank}, now: now}
			if !s.Less(0, 1) || s.Less(1, 0) {
				t.Fatalf("want %s before %s", tc.first.Name, tc.then.Name)
			}
		})
	}
}

// TestTerminatingPodsAreReplaced: a pod being deleted no longer counts.
func TestTerminatingPodsAreReplaced(t *testing.T) {
	rs := testRS("web", 2)
	a := testPod("a", ownedBy(rs))
	b := testPod("b", ownedBy(rs), func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) })
	done := testPod("done", ownedBy(rs), phase(corev1.PodSucceeded))
	f := newFixture(t, rs, a, b, done)
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if got := f.actions(); count(got, "create pods") != 1 || count(got, "delete") != 0 {
		t.Fatalf("actions %v", got)
	}
	if st := f.statusWritten(); st.Replicas != 1 || st.ReadyReplicas != 1 {
		t.Fatalf("status %+v", st)
	}
}

// TestAdoptAndRelease: a matching orphan is adopted (after a fresh read
// of the ReplicaSet), an owned pod whose labels changed is released, a
// pod of another controller is left alone.
func TestAdoptAndRelease(t *testing.T) {
	rs := testRS("web", 2)
	other := testRS("other", 1)
	orphan := testPod("orphan")
	strayed := testPod("strayed", ownedBy(rs), withLabels(map[string]string{"app": "db"}))
	foreign := testPod("foreign", ownedBy(other))
	owned := testPod("owned", ownedBy(rs))
	f := newFixture(t, rs, orphan, strayed, foreign, owned)
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	got := f.actions()
	want := []string{"get replicasets web", "patch pods orphan", "patch pods strayed", "update replicasets/status web"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("actions\n got %v\nwant %v", got, want)
	}
	adopted, _ := f.client.CoreV1().Pods("default").Get(context.Background(), "orphan", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(adopted); ref == nil || ref.UID != rs.UID {
		t.Fatalf("orphan's owners %+v", adopted.OwnerReferences)
	}
	released, _ := f.client.CoreV1().Pods("default").Get(context.Background(), "strayed", metav1.GetOptions{})
	if len(released.OwnerReferences) != 0 {
		t.Fatalf("strayed pod still owned: %+v", released.OwnerReferences)
	}
	if st := f.statusWritten(); st.Replicas != 2 || st.FullyLabeledReplicas != 2 {
		t.Fatalf("status %+v", st)
	}
}

// TestNoAdoptionByADeletedReplicaSet: the fresh read says the ReplicaSet
// is being deleted, so the orphan stays an orphan.
func TestNoAdoptionByADeletedReplicaSet(t *testing.T) {
	rs := testRS("web", 1)
	live := rs.DeepCopy()
	live.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	f := newFixture(t, live, testPod("orphan"))
	f.cache(rs) // the cache has not seen the deletion yet
	err := f.reconcile("default/web")
	if err == nil || !strings.Contains(err.Error(), "has just been deleted") {
		t.Fatalf("err = %v", err)
	}
	if n := count(f.actions(), "patch"); n != 0 {
		t.Fatalf("adopted for a deleted owner: %v", f.actions())
	}
}

func TestStatusCountsReadyAndAvailable(t *testing.T) {
	rs := testRS("web", 3)
	rs.Spec.MinReadySeconds = 30
	rs.Generation = 4
	rs.Status.ObservedGeneration = 3
	pods := []runtime.Object{rs,
		testPod("long-ready", ownedBy(rs), readySince(t0.Add(-time.Minute))),
		testPod("just-ready", ownedBy(rs), readySince(t0.Add(-10*time.Second))),
		testPod("not-ready", ownedBy(rs), func(p *corev1.Pod) { p.Status.Conditions = nil }),
	}
	f := newFixture(t, pods...)
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	st := f.statusWritten()
	if st.Replicas != 3 || st.FullyLabeledReplicas != 3 || st.ReadyReplicas != 2 || st.AvailableReplicas != 1 || st.ObservedGeneration != 4 {
		t.Fatalf("status %+v", st)
	}
	// Twenty seconds on, the second pod has been ready for thirty.
	f.clock.Step(21 * time.Second)
	rsNow, _ := f.client.AppsV1().ReplicaSets("default").Get(context.Background(), "web", metav1.GetOptions{})
	f.cache(rsNow)
	f.client.ClearActions()
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if st := f.statusWritten(); st.AvailableReplicas != 2 {
		t.Fatalf("status %+v", st)
	}
}

// TestMinReadySecondsRequeue: with every pod ready but not yet
// available, the ReplicaSet comes back after minReadySeconds by itself.
func TestMinReadySecondsRequeue(t *testing.T) {
	rs := testRS("web", 1)
	rs.Spec.MinReadySeconds = 10
	f := newFixture(t, rs, testPod("p", ownedBy(rs), readySince(t0)))
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if f.c.queue.Len() != 0 {
		t.Fatal("queued at once")
	}
	f.clock.Step(10 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for f.c.queue.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f.c.queue.Len() != 1 {
		t.Fatal("not requeued after minReadySeconds")
	}
}

func TestFailureConditionClears(t *testing.T) {
	rs := testRS("web", 1)
	rs.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate"}}
	f := newFixture(t, rs, testPod("p", ownedBy(rs)))
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if st := f.statusWritten(); len(st.Conditions) != 0 {
		t.Fatalf("conditions %+v", st.Conditions)
	}
}

func TestDeletedReplicaSetForgetsExpectations(t *testing.T) {
	rs := testRS("web", 2)
	f := newFixture(t, rs)
	if err := f.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	f.c.deleteRS(rs)
	if !f.c.exp.Satisfied("default/web") {
		t.Fatal("expectations of a deleted ReplicaSet kept")
	}
}
