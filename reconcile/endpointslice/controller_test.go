package endpointslice

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

// fakeAPI is a fake clientset that, like the API server, fills in
// generateName, UIDs, increasing resourceVersions and the generation of
// EndpointSlices (1 on create, one more when anything but metadata
// changes).
func fakeAPI(objs ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset(objs...)
	var rv atomic.Int64
	rv.Store(100)
	cs.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		var obj runtime.Object
		switch a := a.(type) {
		case k8stesting.CreateAction:
			obj = a.GetObject()
		case k8stesting.UpdateAction:
			obj = a.GetObject()
		default:
			return false, nil, nil
		}
		m, ok := obj.(metav1.Object)
		if !ok {
			return false, nil, nil
		}
		if a.GetVerb() == "create" {
			if m.GetName() == "" && m.GetGenerateName() != "" {
				m.SetName(m.GetGenerateName() + rand.String(5))
			}
			if m.GetUID() == "" {
				m.SetUID(types.UID("uid-" + m.GetName() + "-" + rand.String(4)))
			}
		}
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
			s.Generation = 1
			if a.GetVerb() == "update" {
				if old, err := cs.Tracker().Get(a.GetResource(), s.Namespace, s.Name); err == nil {
					s.Generation = old.(*discoveryv1.EndpointSlice).Generation
					if contentChanged(old.(*discoveryv1.EndpointSlice), s) {
						s.Generation++
					}
				}
			}
		}
		m.SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
		return false, nil, nil
	})
	return cs
}

// contentChanged: anything but metadata differs, as the API server
// decides whether an EndpointSlice's generation moves.
func contentChanged(a, b *discoveryv1.EndpointSlice) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	a.ObjectMeta, b.ObjectMeta = metav1.ObjectMeta{}, metav1.ObjectMeta{}
	a.TypeMeta, b.TypeMeta = metav1.TypeMeta{}, metav1.TypeMeta{}
	return !apiequality.Semantic.DeepEqual(a, b)
}

// testDeps builds manager.Deps over a fake clientset; events are recorded
// nowhere.
func testDeps(t *testing.T, cs *fake.Clientset) *manager.Deps {
	t.Helper()
	return manager.NewDeps(cs, nil, slog.New(slog.NewTextHandler(t.Output(), nil)), nil, 0)
}

type harness struct {
	t    *testing.T
	cs   *fake.Clientset
	deps *manager.Deps
	c    *Controller
	ctx  context.Context
}

// newHarness builds the controller over objs with its informers running
// and synced; run starts its workers too.
func newHarness(t *testing.T, run bool, objs ...runtime.Object) *harness {
	t.Helper()
	cs := fakeAPI(objs...)
	d := testDeps(t, cs)
	c, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx := controllertest.Start(t, d, c, run)
	return &harness{t: t, cs: cs, deps: d, c: c, ctx: ctx}
}

// writes are the EndpointSlice writes the fake client saw.
func (h *harness) writes() []string {
	var out []string
	for _, a := range h.cs.Actions() {
		if a.GetResource().Resource != "endpointslices" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		out = append(out, a.GetVerb())
	}
	return out
}

// slices returns the Service's slices as the API holds them.
func (h *harness) slices(svc string) []*discoveryv1.EndpointSlice {
	h.t.Helper()
	l, err := h.cs.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*discoveryv1.EndpointSlice
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	return out
}

// waitCached waits until the controller's slice cache holds n slices of svc.
func (h *harness) waitCached(svc string, n int) {
	h.t.Helper()
	h.eventually(func() error {
		got, _ := h.c.managedSlices("default", svc)
		if len(got) != n {
			return fmt.Errorf("%d slices cached, want %d", len(got), n)
		}
		return nil
	})
}

func (h *harness) eventually(check func() error) {
	h.t.Helper()
	controllertest.Eventually(h.t, check)
}

func (h *harness) reconcile(key string) error {
	h.t.Helper()
	return h.c.Reconcile(h.ctx, key)
}

func TestReconcileWritesOneSliceThenNothing(t *testing.T) {
	h := newHarness(t, false,
		node("node-a", "zone-1"),
		service("web"),
		pod("a", "web", "10.1.0.1", ready),
		pod("b", "web", "10.1.0.2", notReady),
		pod("c", "web", "10.1.0.3", terminating),
		pod("other", "db", "10.1.0.9", ready),
	)
	if err := h.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if w := h.writes(); !slices.Equal(w, []string{"create"}) {
		t.Fatalf("writes %v", w)
	}
	ss := h.slices("web")
	if len(ss) != 1 || ss[0].Labels[discoveryv1.LabelManagedBy] != ManagedBy || ss[0].OwnerReferences[0].UID != "uid-web" {
		t.Fatalf("slices %+v", ss)
	}
	want := []epView{
		{"a", "10.1.0.1", true, true, false},
		{"b", "10.1.0.2", false, false, false},
		{"c", "10.1.0.3", false, true, true},
	}
	if got := endpointsOf(ss...); !slices.Equal(got, want) {
		t.Fatalf("endpoints %+v", got)
	}
	for _, ep := range ss[0].Endpoints {
		if ep.Zone == nil || *ep.Zone != "zone-1" || *ep.NodeName != "node-a" {
			t.Fatalf("endpoint %+v", ep)
		}
	}

	// Until the cache shows the new slice, a sync must not create another.
	if err := h.reconcile("default/web"); err != nil && !isStale(err) {
		t.Fatal(err)
	}
	h.waitCached("web", 1)
	if err := h.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	if w := h.writes(); !slices.Equal(w, []string{"create"}) {
		t.Fatalf("writes after resync %v", w)
	}
}

func isStale(err error) bool { return err == errStaleCache }

func TestReconcileSplitsLargeService(t *testing.T) {
	objs := []runtime.Object{node("node-a", ""), service("big")}
	for _, p := range manyPods("big", 0, 230) {
		objs = append(objs, p)
	}
	h := newHarness(t, false, objs...)
	if err := h.reconcile("default/big"); err != nil {
		t.Fatal(err)
	}
	ss := h.slices("big")
	var sizes []int
	for _, s := range ss {
		sizes = append(sizes, len(s.Endpoints))
	}
	slices.Sort(sizes)
	if fmt.Sprint(sizes) != "[30 100 100]" || len(endpointsOf(ss...)) != 230 {
		t.Fatalf("slice sizes %v", sizes)
	}
}

func TestReconcileLeavesServicesWithoutSelectorAlone(t *testing.T) {
	manual := service("manual", func(s *corev1.Service) { s.Spec.Selector = nil })
	external := service("ext", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ExternalName = "example.com"
	})
	// A slice someone else manages for the selector-less Service.
	theirs := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "manual-1", Labels: map[string]string{
			discoveryv1.LabelServiceName: "manual", discoveryv1.LabelManagedBy: "someone-else"}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	h := newHarness(t, false, node("node-a", ""), manual, external, theirs, pod("a", "manual", "10.1.0.1", ready))
	for _, k := range []string{"default/manual", "default/ext"} {
		if err := h.reconcile(k); err != nil {
			t.Fatal(err)
		}
	}
	if w := h.writes(); len(w) != 0 {
		t.Fatalf("writes %v", w)
	}
}

func TestRunFollowsPodsAndServices(t *testing.T) {
	h := newHarness(t, true, node("node-a", ""))
	ctx := context.Background()
	api := h.cs.CoreV1()
	if _, err := api.Services("default").Create(ctx, service("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{pod("a", "web", "10.1.0.1", ready), pod("b", "web", "10.1.0.2", ready), pod("c", "web", "10.1.0.3", ready)} {
		if _, err := api.Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what string, want []epView) {
		t.Helper()
		h.eventually(func() error {
			ss := h.slices("web")
			if got := endpointsOf(ss...); !slices.Equal(got, want) || len(ss) != 1 {
				return fmt.Errorf("%s: %d slices, endpoints %+v, want %+v", what, len(ss), got, want)
			}
			return nil
		})
	}
	expect("three ready pods", []epView{{"a", "10.1.0.1", true, true, false}, {"b", "10.1.0.2", true, true, false}, {"c", "10.1.0.3", true, true, false}})

	b, _ := api.Pods("default").Get(ctx, "b", metav1.GetOptions{})
	b.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := api.Pods("default").UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("b not ready", []epView{{"a", "10.1.0.1", true, true, false}, {"b", "10.1.0.2", false, false, false}, {"c", "10.1.0.3", true, true, false}})

	c, _ := api.Pods("default").Get(ctx, "c", metav1.GetOptions{})
	c.Labels = map[string]string{"app": "other"}
	if _, err := api.Pods("default").Update(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("c relabelled away", []epView{{"a", "10.1.0.1", true, true, false}, {"b", "10.1.0.2", false, false, false}})

	svc, _ := api.Services("default").Get(ctx, "web", metav1.GetOptions{})
	svc.Spec.Selector = map[string]string{"app": "other"}
	if _, err := api.Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("selector moved to c", []epView{{"c", "10.1.0.3", true, true, false}})

	if err := api.Pods("default").Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("c deleted: the empty slice stays", nil)

	svc, _ = api.Services("default").Get(ctx, "web", metav1.GetOptions{})
	svc.Spec.Selector = nil
	if _, err := api.Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually(func() error {
		if ss := h.slices("web"); len(ss) != 0 {
			return fmt.Errorf("selector removed: %d slices left", len(ss))
		}
		return nil
	})
}

func TestRunDeletesSlicesOfDeletedService(t *testing.T) {
	h := newHarness(t, true, node("node-a", ""), service("web"), pod("a", "web", "10.1.0.1", ready))
	h.eventually(func() error {
		if n := len(h.slices("web")); n != 1 {
			return fmt.Errorf("%d slices", n)
		}
		return nil
	})
	if err := h.cs.CoreV1().Services("default").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually(func() error {
		if n := len(h.slices("web")); n != 0 {
			return fmt.Errorf("%d slices left after the service was deleted", n)
		}
		return nil
	})
}

func TestRunReplacesSliceDeletedBySomeoneElse(t *testing.T) {
	h := newHarness(t, true, node("node-a", ""), service("web"), pod("a", "web", "10.1.0.1", ready))
	var first string
	h.eventually(func() error {
		ss := h.slices("web")
		if len(ss) != 1 {
			return fmt.Errorf("%d slices", len(ss))
		}
		first = ss[0].Name
		return nil
	})
	h.waitCached("web", 1)
	if err := h.cs.DiscoveryV1().EndpointSlices("default").Delete(context.Background(), first, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually(func() error {
		ss := h.slices("web")
		if len(ss) != 1 || ss[0].Name == first || len(ss[0].Endpoints) != 1 {
			return fmt.Errorf("slices %d (first was %s)", len(ss), first)
		}
		return nil
	})
}

func TestRunPicksUpNodeZoneAndLateNode(t *testing.T) {
	// The pod's node is not known yet: its endpoint waits for it.
	h := newHarness(t, true, service("web"), pod("a", "web", "10.1.0.1", ready))
	if err := h.reconcile("default/web"); err == nil {
		t.Fatal("a pod on an unknown node was not reported")
	}
	if _, err := h.cs.CoreV1().Nodes().Create(context.Background(), node("node-a", "zone-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually(func() error {
		ss := h.slices("web")
		if len(ss) != 1 || len(ss[0].Endpoints) != 1 || ss[0].Endpoints[0].Zone == nil || *ss[0].Endpoints[0].Zone != "zone-1" {
			return fmt.Errorf("slices %+v", ss)
		}
		return nil
	})
	n, _ := h.cs.CoreV1().Nodes().Get(context.Background(), "node-a", metav1.GetOptions{})
	n.Labels[corev1.LabelTopologyZone] = "zone-2"
	if _, err := h.cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually(func() error {
		ss := h.slices("web")
		if len(ss) != 1 || *ss[0].Endpoints[0].Zone != "zone-2" {
			return fmt.Errorf("zone not updated: %+v", ss[0].Endpoints)
		}
		return nil
	})
}
