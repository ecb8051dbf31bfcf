package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	mdfake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
)

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

type fakeDiscovery struct {
	lists []*metav1.APIResourceList
	err   error
}

func (f *fakeDiscovery) ServerPreferredNamespacedResources() ([]*metav1.APIResourceList, error) {
	return f.lists, f.err
}

func testResources() []*metav1.APIResourceList {
	return []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: allVerbs},
			{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get"}},
			{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: allVerbs},
			// No deletecollection: deleted one by one.
			{Name: "secrets", Namespaced: true, Kind: "Secret", Verbs: metav1.Verbs{"delete", "get", "list"}},
			{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"}},
		},
	}, {
		GroupVersion: "apps/v1",
		APIResources: []metav1.APIResource{{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: allVerbs}},
	}}
}

var (
	podsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	namespaceGVR  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

func item(apiVersion, kind, name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, UID: types.UID("uid-" + name), Finalizers: finalizers},
	}
}

// podOnNode is a pod its node agent must stop: deleting it only marks
// it, as the API server does for a pod bound to a node.
func podOnNode(name string) *metav1.PartialObjectMetadata {
	p := item("v1", "Pod", name)
	p.Annotations = map[string]string{graceAnnotation: "30"}
	return p
}

const graceAnnotation = "test.skiff.dev/grace"

// apiDelete deletes an object the way the API server does: one with
// finalizers, or a pod on a node, is only marked.
func apiDelete(tr clienttesting.ObjectTracker, gvr schema.GroupVersionResource, ns, name string) error {
	obj, err := tr.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	m := obj.(*metav1.PartialObjectMetadata).DeepCopy()
	if len(m.Finalizers) == 0 && m.Annotations[graceAnnotation] == "" {
		return tr.Delete(gvr, ns, name)
	}
	if m.DeletionTimestamp == nil {
		now := metav1.Now()
		m.DeletionTimestamp = &now
		if m.Annotations[graceAnnotation] != "" {
			g := int64(30)
			m.DeletionGracePeriodSeconds = &g
		}
	}
	return tr.Update(gvr, m, ns)
}

func terminating(finalizers ...corev1.FinalizerName) *corev1.Namespace {
	now := metav1.Now()
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "team-a", UID: "ns-uid", DeletionTimestamp: &now},
		Spec:       corev1.NamespaceSpec{Finalizers: finalizers},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
}

type harness struct {
	c     *Controller
	cs    *k8sfake.Clientset
	md    *mdfake.FakeMetadataClient
	disc  *fakeDiscovery
	clock *testingclock.FakeClock
}

func newHarness(t *testing.T, ns *corev1.Namespace, content ...*metav1.PartialObjectMetadata) *harness {
	t.Helper()
	cs := k8sfake.NewClientset(ns)
	// PUT namespaces/<name>/finalize, as the API server serves it.
	cs.PrependReactor("create", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "finalize" {
			return false, nil, nil
		}
		in := a.(clienttesting.CreateAction).GetObject().(*corev1.Namespace)
		obj, err := cs.Tracker().Get(namespaceGVR, "", in.Name)
		if err != nil {
			return true, nil, err
		}
		cur := obj.(*corev1.Namespace).DeepCopy()
		if in.ResourceVersion != cur.ResourceVersion {
			return true, nil, apierrors.NewConflict(corev1.Resource("namespaces"), in.Name, errors.New("stale"))
		}
		cur.Spec.Finalizers = in.Spec.Finalizers
		if len(cur.Spec.Finalizers) == 0 && len(cur.Finalizers) == 0 {
			return true, cur, cs.Tracker().Delete(namespaceGVR, "", in.Name)
		}
		return true, cur, cs.Tracker().Update(namespaceGVR, cur, "")
	})
	s := runtime.NewScheme()
	_ = metav1.AddMetaToScheme(s)
	objs := make([]runtime.Object, len(content))
	for i, o := range content {
		objs[i] = o
	}
	md := mdfake.NewSimpleMetadataClient(s, objs...)
	md.PrependReactor("delete", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		d := a.(clienttesting.DeleteAction)
		return true, nil, apiDelete(md.Tracker(), d.GetResource(), d.GetNamespace(), d.GetName())
	})
	md.PrependReactor("delete-collection", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		list, err := md.Tracker().List(a.GetResource(), schema.GroupVersionKind{Group: "fake-metadata-client-group", Version: "v1"}, a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		for _, o := range list.(*metav1.List).Items {
			m := o.Object.(*metav1.PartialObjectMetadata)
			if err := apiDelete(md.Tracker(), a.GetResource(), m.Namespace, m.Name); err != nil {
				return true, nil, err
			}
		}
		return true, nil, nil
	})
	disc := &fakeDiscovery{lists: testResources()}
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c, err := newController(cs, md, disc, informers.NewSharedInformerFactory(cs, 0), nil, clk)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{c: c, cs: cs, md: md, disc: disc, clock: clk}
}

// writes renders the content deletions the metadata client was asked for.
func (h *harness) writes() []string {
	var out []string
	for _, a := range h.md.Actions() {
		switch a.GetVerb() {
		case "delete", "delete-collection":
			s := a.GetVerb() + " " + a.GetResource().Resource
			if d, ok := a.(clienttesting.DeleteAction); ok {
				s += " " + d.GetName()
			}
			out = append(out, s)
		}
	}
	h.md.ClearActions()
	return out
}

func (h *harness) namespace(t *testing.T) *corev1.Namespace {
	t.Helper()
	ns, err := h.cs.CoreV1().Namespaces().Get(context.Background(), "team-a", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// conditions renders the namespace's conditions as "Type=Status Reason: Message".
func conditions(ns *corev1.Namespace) []string {
	var out []string
	for _, c := range ns.Status.Conditions {
		out = append(out, fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message))
	}
	return out
}

func TestReconcileDeletesContentThenFinalizes(t *testing.T) {
	h := newHarness(t, terminating(corev1.FinalizerKubernetes),
		item("v1", "ConfigMap", "c1"), item("v1", "ConfigMap", "c2"),
		item("v1", "Secret", "s1"), item("apps/v1", "Deployment", "web"))
	if err := h.c.Reconcile(context.Background(), "team-a"); err != nil {
		t.Fatal(err)
	}
	want := []string{"delete-collection configmaps", "delete secrets s1", "delete-collection deployments"}
	if got := h.writes(); !slices.Equal(got, want) {
		t.Errorf("deletions %v, want %v", got, want)
	}
	if ns := h.namespace(t); ns != nil {
		t.Errorf("namespace still there: finalizers %v, conditions %v", ns.Spec.Finalizers, conditions(ns))
	}
	// The last status written before finalizing says all is well.
	var last *corev1.Namespace
	for _, a := range h.cs.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			last = a.(clienttesting.UpdateAction).GetObject().(*corev1.Namespace)
		}
	}
	if last == nil {
		t.Fatal("no status written")
	}
	wantConds := []string{
		"NamespaceDeletionDiscoveryFailure=False ResourcesDiscovered: All resources successfully discovered",
		"NamespaceDeletionGroupVersionParsingFailure=False ParsedGroupVersions: All legacy kube types successfully parsed",
		"NamespaceDeletionContentFailure=False ContentDeleted: All content successfully deleted, may be waiting on finalization",
		"NamespaceContentRemaining=False ContentRemoved: All content successfully removed",
		"NamespaceFinalizersRemaining=False ContentRemoved: All content successfully removed",
	}
	if got := conditions(last); !slices.Equal(got, wantConds) {
		t.Errorf("conditions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantConds, "\n"))
	}
}

func TestReconcileWaitsForContentThatTakesTime(t *testing.T) {
	h := newHarness(t, terminating(corev1.FinalizerKubernetes, "example.com/other"),
		item("v1", "ConfigMap", "held", "example.com/hold"), podOnNode("web"), item("v1", "ConfigMap", "plain"))
	err := h.c.Reconcile(context.Background(), "team-a")
	var remaining *contentRemainingError
	if !errors.As(err, &remaining) || remaining.objects != 2 {
		t.Fatalf("Reconcile: %v, want 2 objects remaining", err)
	}
	if got, want := h.writes(), []string{"delete-collection configmaps", "delete-collection pods"}; !slices.Equal(got, want) {
		t.Errorf("deletions %v, want %v", got, want)
	}
	ns := h.namespace(t)
	if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		t.Fatal("finalized while content remains")
	}
	wantConds := []string{
		"NamespaceDeletionDiscoveryFailure=False ResourcesDiscovered: All resources successfully discovered",
		"NamespaceDeletionGroupVersionParsingFailure=False ParsedGroupVersions: All legacy kube types successfully parsed",
		"NamespaceDeletionContentFailure=False ContentDeleted: All content successfully deleted, may be waiting on finalization",
		"NamespaceContentRemaining=True SomeResourcesRemain: Some resources are remaining: configmaps. has 1 resource instances, pods. has 1 resource instances",
		"NamespaceFinalizersRemaining=True SomeFinalizerRemain: Some finalizers are remaining: example.com/hold in 1 resource instances",
	}
	if got := conditions(ns); !slices.Equal(got, wantConds) {
		t.Errorf("conditions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantConds, "\n"))
	}

	// Again: what is already on its way out is not deleted again.
	if err := h.c.Reconcile(context.Background(), "team-a"); !errors.As(err, &remaining) {
		t.Fatalf("Reconcile: %v, want content remaining", err)
	}
	if got := h.writes(); len(got) != 0 {
		t.Errorf("deleted again: %v", got)
	}

	// The finalizer is released and the node agent stops the pod.
	if err := h.md.Tracker().Delete(configMapsGVR, "team-a", "held"); err != nil {
		t.Fatal(err)
	}
	if err := h.md.Tracker().Delete(podsGVR, "team-a", "web"); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Reconcile(context.Background(), "team-a"); err != nil {
		t.Fatal(err)
	}
	ns = h.namespace(t)
	// Another finalizer keeps the namespace; only "kubernetes" is ours.
	if ns == nil || !slices.Equal(ns.Spec.Finalizers, []corev1.FinalizerName{"example.com/other"}) {
		t.Fatalf("namespace after finalizing: %+v", ns)
	}
	for _, c := range ns.Status.Conditions {
		if c.Status != corev1.ConditionFalse {
			t.Errorf("condition %s still %s: %s", c.Type, c.Status, c.Message)
		}
		if c.Type == corev1.NamespaceContentRemaining && !c.LastTransitionTime.Time.Equal(h.clock.Now().Truncate(time.Second)) {
			t.Errorf("ContentRemaining lastTransitionTime %v not moved to %v", c.LastTransitionTime, h.clock.Now())
		}
	}
}

func TestReconcileFailuresKeepTheNamespace(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *harness)
		cond  string
	}{{
		name: "discovery fails for a group",
		setup: func(h *harness) {
			h.disc.err = &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{{Group: "apps", Version: "v1"}: errors.New("boom")}}
		},
		cond: "NamespaceDeletionDiscoveryFailure=True DiscoveryFailed: Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: apps/v1: boom",
	}, {
		name: "a group version does not parse",
		setup: func(h *harness) {
			h.disc.lists = append(h.disc.lists, &metav1.APIResourceList{GroupVersion: "a/b/c"})
		},
		cond: `NamespaceDeletionGroupVersionParsingFailure=True GroupVersionParsingFailed: unexpected GroupVersion string: a/b/c`,
	}, {
		name: "a deletion fails",
		setup: func(h *harness) {
			h.md.PrependReactor("delete-collection", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewInternalError(errors.New("boom"))
			})
		},
		cond: "NamespaceDeletionContentFailure=True ContentDeletionFailed: Failed to delete all resource types, 1 remaining: Internal error occurred: boom",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, terminating(corev1.FinalizerKubernetes), item("v1", "ConfigMap", "c1"), item("v1", "Secret", "s1"))
			tc.setup(h)
			if err := h.c.Reconcile(context.Background(), "team-a"); err == nil {
				t.Fatal("Reconcile succeeded")
			}
			ns := h.namespace(t)
			if ns == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
				t.Fatal("finalized after a failure")
			}
			if got := conditions(ns); !slices.Contains(got, tc.cond) {
				t.Errorf("conditions:\n%s\nwant among them:\n%s", strings.Join(got, "\n"), tc.cond)
			}
			// What could be deleted was.
			if _, err := h.md.Tracker().Get(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "team-a", "s1"); !apierrors.IsNotFound(err) {
				t.Errorf("secret s1 not deleted: %v", err)
			}
		})
	}
}

func TestReconcileLeavesOtherNamespacesAlone(t *testing.T) {
	active := terminating(corev1.FinalizerKubernetes)
	active.DeletionTimestamp = nil
	active.Status.Phase = corev1.NamespaceActive
	for name, ns := range map[string]*corev1.Namespace{
		"active":                       active,
		"without kubernetes finalizer": terminating("example.com/other"),
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, ns, item("v1", "ConfigMap", "c1"))
			if err := h.c.Reconcile(context.Background(), "team-a"); err != nil {
				t.Fatal(err)
			}
			if got := h.writes(); len(got) != 0 {
				t.Errorf("deleted %v", got)
			}
			if err := h.c.Reconcile(context.Background(), "absent"); err != nil {
				t.Errorf("Reconcile of an absent namespace: %v", err)
			}
		})
	}
}

// Run picks up a terminating namespace from its informer and sees it
// through.
func TestRunEmptiesTerminatingNamespaces(t *testing.T) {
	h := newHarness(t, terminating(corev1.FinalizerKubernetes), item("v1", "ConfigMap", "c1"))
	inf := informers.NewSharedInformerFactory(h.cs, 0)
	c, err := newController(h.cs, h.md, h.disc, inf, nil, h.clock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inf.Start(ctx.Done())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for h.namespace(t) != nil {
		if time.Now().After(deadline) {
			t.Fatal("namespace not deleted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
