package endpoints

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

type harness struct {
	t    *testing.T
	cs   *fake.Clientset
	deps *manager.Deps
	c    *Controller
	ctx  context.Context
}

// newHarness builds the controller over a fake clientset holding objs,
// with informers synced; run starts its workers too. Like the API
// server, the clientset gives every write a higher resourceVersion and
// every new object a UID.
func newHarness(t *testing.T, run bool, objs ...runtime.Object) *harness {
	t.Helper()
	cs := fake.NewClientset(objs...)
	controllertest.ServeCreates(cs, nil)
	var rv atomic.Int64
	rv.Store(100)
	cs.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if w, ok := a.(interface{ GetObject() runtime.Object }); ok && (a.GetVerb() == "create" || a.GetVerb() == "update") {
			w.GetObject().(metav1.Object).SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
		}
		return false, nil, nil
	})
	d := manager.NewDeps(cs, nil, slog.New(slog.NewTextHandler(t.Output(), nil)), nil, 0)
	c, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx := controllertest.Start(t, d, c, run)
	return &harness{t: t, cs: cs, deps: d, c: c, ctx: ctx}
}

func (h *harness) writes() []string {
	var out []string
	for _, a := range h.cs.Actions() {
		if v := a.GetVerb(); a.GetResource().Resource == "endpoints" && (v == "create" || v == "update" || v == "delete") {
			out = append(out, a.GetVerb())
		}
	}
	return out
}

func (h *harness) get(name string) (*corev1.Endpoints, error) {
	return h.cs.CoreV1().Endpoints("default").Get(context.Background(), name, metav1.GetOptions{})
}

func (h *harness) eventually(check func() error) {
	h.t.Helper()
	controllertest.Eventually(h.t, check)
}

// expect waits until the Endpoints render as want ("" once they are gone).
func (h *harness) expect(name, want string) {
	h.t.Helper()
	h.eventually(func() error {
		ep, err := h.get(name)
		if apierrors.IsNotFound(err) && want == "" {
			return nil
		}
		if err != nil {
			return err
		}
		if got := render(ep.Subsets); got != want {
			return fmt.Errorf("endpoints %s: %s, want %s", name, got, want)
		}
		return nil
	})
}

func TestReconcileCreatesThenLeavesAlone(t *testing.T) {
	svc := service("web")
	svc.CreationTimestamp = metav1.NewTime(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	h := newHarness(t, false, svc,
		pod("a", "web", "10.1.0.1", ready), pod("b", "web", "10.1.0.2", notReady), pod("x", "other", "10.1.0.9", ready))
	if err := h.c.Reconcile(h.ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	ep, err := h.get("web")
	if err != nil {
		t.Fatal(err)
	}
	if got := render(ep.Subsets); got != "[http:8080] ready=a notReady=b" {
		t.Fatalf("subsets %s", got)
	}
	if ep.Labels["team"] != "a" || ep.Annotations[corev1.EndpointsLastChangeTriggerTime] != "2026-03-04T05:06:07Z" {
		t.Fatalf("labels %v annotations %v", ep.Labels, ep.Annotations)
	}
	if _, ok := ep.Annotations[corev1.EndpointsOverCapacity]; ok {
		t.Fatal("over-capacity annotation on a small Endpoints")
	}
	// Before the cache shows the create, a sync must not create again.
	if err := h.c.Reconcile(h.ctx, "default/web"); err != nil && err != errStaleCache {
		t.Fatal(err)
	}
	h.eventually(func() error {
		_, err := h.c.endpoints.Endpoints("default").Get("web")
		return err
	})
	if err := h.c.Reconcile(h.ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	if w := h.writes(); !slices.Equal(w, []string{"create"}) {
		t.Fatalf("writes %v", w)
	}
}

func TestReconcileOverCapacity(t *testing.T) {
	objs := []runtime.Object{service("big")}
	for i := range 1100 {
		st := ready
		if i%2 == 1 {
			st = notReady
		}
		objs = append(objs, pod(fmt.Sprintf("p%04d", i), "big", fmt.Sprintf("10.2.%d.%d", i/250, i%250+1), st))
	}
	h := newHarness(t, false, objs...)
	if err := h.c.Reconcile(h.ctx, "default/big"); err != nil {
		t.Fatal(err)
	}
	ep, err := h.get("big")
	if err != nil {
		t.Fatal(err)
	}
	if ep.Annotations[corev1.EndpointsOverCapacity] != "truncated" || addressCount(ep.Subsets) != MaxCapacity ||
		len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 550 {
		t.Fatalf("annotations %v, %d addresses, subsets %d", ep.Annotations, addressCount(ep.Subsets), len(ep.Subsets))
	}
	// Truncated output is stable: a resync writes nothing.
	h.eventually(func() error {
		_, err := h.c.endpoints.Endpoints("default").Get("big")
		return err
	})
	if err := h.c.Reconcile(h.ctx, "default/big"); err != nil {
		t.Fatal(err)
	}
	if w := h.writes(); !slices.Equal(w, []string{"create"}) {
		t.Fatalf("writes %v", w)
	}
}

func TestRunFollowsPodsAndServices(t *testing.T) {
	manual := service("manual", func(s *corev1.Service) { s.Spec.Selector = nil })
	theirs := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "manual"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.168.1.1"}}, Ports: []corev1.EndpointPort{{Port: 5432, Protocol: corev1.ProtocolTCP}}}}}
	lock := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "old-leader",
		Annotations: map[string]string{resourcelock.LeaderElectionRecordAnnotationKey: "{}"}}}
	leftover := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gone"}}
	h := newHarness(t, true, manual, theirs, lock, leftover)
	ctx := context.Background()
	api := h.cs.CoreV1()

	// Endpoints of a Service deleted while no controller ran go at start.
	h.expect("gone", "")

	if _, err := api.Services("default").Create(ctx, service("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// No pods yet: Endpoints without subsets.
	h.eventually(func() error { _, err := h.get("web"); return err })
	for _, p := range []*corev1.Pod{pod("a", "web", "10.1.0.1", ready), pod("b", "web", "10.1.0.2", ready), pod("c", "web", "10.1.0.3", ready)} {
		if _, err := api.Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.expect("web", "[http:8080] ready=a,b,c notReady=")

	b, _ := api.Pods("default").Get(ctx, "b", metav1.GetOptions{})
	b.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := api.Pods("default").UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.expect("web", "[http:8080] ready=a,c notReady=b")

	b.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err := api.Pods("default").UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.expect("web", "[http:8080] ready=a,b,c notReady=")

	// A terminating pod leaves the Endpoints at once.
	c, _ := api.Pods("default").Get(ctx, "c", metav1.GetOptions{})
	c.DeletionTimestamp = ptrTime(metav1.Now())
	if _, err := api.Pods("default").Update(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.expect("web", "[http:8080] ready=a,b notReady=")

	// Someone deletes the Endpoints: they come back.
	if err := api.Endpoints("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.expect("web", "[http:8080] ready=a,b notReady=")

	svc, _ := api.Services("default").Get(ctx, "web", metav1.GetOptions{})
	svc.Spec.Selector = map[string]string{"app": "nothing"}
	if _, err := api.Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually(func() error {
		ep, err := h.get("web")
		if err != nil || len(ep.Subsets) != 0 {
			return fmt.Errorf("selector matching nothing: %v %+v", err, ep)
		}
		return nil
	})

	if err := api.Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.expect("web", "")

	// Neither the selector-less Service's Endpoints nor the leader record
	// were touched.
	if got, err := h.get("manual"); err != nil || got.Subsets[0].Addresses[0].IP != "192.168.1.1" || len(got.Labels) != 0 {
		t.Fatalf("manual endpoints %+v, %v", got, err)
	}
	if _, err := api.Endpoints("kube-system").Get(ctx, "old-leader", metav1.GetOptions{}); err != nil {
		t.Fatalf("leader record: %v", err)
	}
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }
