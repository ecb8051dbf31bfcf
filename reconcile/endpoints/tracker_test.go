package endpoints

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

func endpointsAt(uid, rv string) *corev1.Endpoints {
	return &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: types.UID(uid), ResourceVersion: rv}}
}

// TestWriteTrackerInterleavings replays, step by step, orders in which a
// sync's write, its record and the informer's deletions can arrive; the
// next sync then begins with the cache as given.
func TestWriteTrackerInterleavings(t *testing.T) {
	const key = "default/web"
	u1, u1v2, u2 := endpointsAt("u1", "10"), endpointsAt("u1", "12"), endpointsAt("u2", "20")
	type step struct {
		op string // "stale" (a sync begins), "wrote", "deleted" (by the informer)
		ep *corev1.Endpoints
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		cached *corev1.Endpoints
		stale  bool
	}{
		{"nothing written", nil, nil, false},
		{"created, cache shows it", []step{{"stale", nil}, {"wrote", u1}}, u1, false},
		{"created, cache does not show it yet", []step{{"stale", nil}, {"wrote", u1}}, nil, true},
		{"updated, cache shows the old version", []step{{"stale", nil}, {"wrote", u1v2}}, u1, true},
		{"updated, cache shows a later version", []step{{"stale", nil}, {"wrote", u1}}, u1v2, false},
		{"created, recorded, deleted by someone else", []step{{"stale", nil}, {"wrote", u1}, {"deleted", u1}}, nil, false},
		// The stall: the deletion arrives before the create's record.
		{"created, deleted by someone else, then recorded", []step{{"stale", nil}, {"deleted", u1}, {"wrote", u1}}, nil, false},
		{"updated, deleted, then recorded", []step{{"stale", nil}, {"wrote", u1}, {"stale", nil}, {"deleted", u1v2}, {"wrote", u1v2}}, nil, false},
		{"ours deleted, someone else's created", []step{{"stale", nil}, {"wrote", u1}}, u2, false},
		{"an earlier object's deletion does not hide a new write", []step{{"deleted", u2}, {"stale", nil}, {"wrote", u1}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWriteTracker()
			for _, st := range tc.steps {
				switch st.op {
				case "stale":
					w.stale(key, nil)
				case "wrote":
					w.wrote(key, st.ep)
				case "deleted":
					w.deleted(key, st.ep)
				}
			}
			if got := w.stale(key, tc.cached); got != tc.stale {
				t.Fatalf("next sync: stale %v, want %v", got, tc.stale)
			}
			if got := w.stale(key, tc.cached); got != tc.stale {
				t.Fatalf("sync after: stale %v, want %v", got, tc.stale)
			}
		})
	}
}

// TestReconcileAfterEndpointsDeletedBeforeTheirCreateWasRecorded makes
// the stall deterministic: the informer delivers someone else's deletion
// of the new Endpoints while the create call has not returned yet. The
// next sync must create them again instead of waiting for ever for a
// cache that will never show them.
func TestReconcileAfterEndpointsDeletedBeforeTheirCreateWasRecorded(t *testing.T) {
	h := newHarness(t, false, service("web"), pod("a", "web", "10.1.0.1", ready))
	gvr := corev1.SchemeGroupVersion.WithResource("endpoints")

	deletionCached := make(chan struct{})
	inf := h.deps.Informers.Core().V1().Endpoints().Informer()
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if ep, ok := obj.(*corev1.Endpoints); ok && ep.UID == "uid-first" {
				close(deletionCached)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inf.RemoveEventHandler(reg) })

	// The fake clientset does not replay to a watch what happened before
	// it began, and an informer's caches sync before its watch is open:
	// wait until an object created now reaches the cache, so the
	// informer is sure to see the deletion below.
	probe := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "watch-probe"}}
	if err := h.cs.Tracker().Create(gvr, probe, probe.Namespace); err != nil {
		t.Fatal(err)
	}
	h.eventually(func() error {
		_, err := h.deps.Informers.Core().V1().Endpoints().Lister().Endpoints("default").Get("watch-probe")
		return err
	})

	first := true
	h.cs.PrependReactor("create", "endpoints", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if !first {
			return false, nil, nil
		}
		first = false
		ep := a.(k8stesting.CreateAction).GetObject().(*corev1.Endpoints).DeepCopy()
		ep.UID, ep.ResourceVersion = "uid-first", "50"
		if err := h.cs.Tracker().Create(gvr, ep, ep.Namespace); err != nil {
			return true, nil, err
		}
		// Someone else deletes them at once, and the controller hears of
		// it before this call returns.
		if err := h.cs.Tracker().Delete(gvr, ep.Namespace, ep.Name); err != nil {
			return true, nil, err
		}
		h.c.onEndpointsDelete(ep)
		return true, ep, nil
	})

	if err := h.c.Reconcile(h.ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-deletionCached:
	case <-time.After(10 * time.Second):
		t.Fatal("the informer did not show the deletion")
	}
	if err := h.c.Reconcile(h.ctx, "default/web"); err != nil {
		t.Fatalf("sync after the Endpoints were deleted: %v", err)
	}
	ep, err := h.get("web")
	if err != nil || ep.UID == "uid-first" || render(ep.Subsets) != "[http:8080] ready=a notReady=" {
		t.Fatalf("endpoints after the replacement sync: %+v, %v", ep, err)
	}
	if w := h.writes(); !slices.Equal(w, []string{"create", "create"}) {
		t.Fatalf("writes %v", w)
	}
}
