package endpointslice

import (
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
)

// trackedSlice is slice uid of Service web at resourceVersion rv and
// generation gen (0: unset, as a fake clientset leaves it).
func trackedSlice(uid string, rv string, gen int64) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{
		Namespace: "default", Name: "web-" + uid, UID: types.UID(uid), ResourceVersion: rv, Generation: gen,
		Labels: map[string]string{discoveryv1.LabelServiceName: "web"},
	}}
}

func cachedSlices(ss ...*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice { return ss }

func TestTrackerStaleness(t *testing.T) {
	svc := service("web")
	tr := newSliceTracker()
	if tr.Stale(svc, nil) {
		t.Fatal("fresh tracker stale")
	}
	tr.Wrote(trackedSlice("s1", "10", 2))
	for _, tc := range []struct {
		name   string
		cached []*discoveryv1.EndpointSlice
		stale  bool
	}{
		{"written slice missing", nil, true},
		{"older resourceVersion cached", cachedSlices(trackedSlice("s1", "9", 2)), true},
		{"older generation, versions unordered", cachedSlices(trackedSlice("s1", "", 1)), true},
		{"written version cached", cachedSlices(trackedSlice("s1", "10", 2)), false},
		{"newer version cached", cachedSlices(trackedSlice("s1", "12", 3)), false},
		{"nothing orders the versions: trusted", cachedSlices(trackedSlice("s1", "x", 0)), false},
		{"someone else's slice beside it", cachedSlices(trackedSlice("s1", "10", 2), trackedSlice("s9", "3", 1)), false},
	} {
		if got := tr.Stale(svc, tc.cached); got != tc.stale {
			t.Errorf("%s: stale %v", tc.name, got)
		}
	}
}

func TestTrackerShouldSync(t *testing.T) {
	tr := newSliceTracker()
	tr.Wrote(trackedSlice("s1", "10", 2))
	tr.ExpectDeletion(trackedSlice("s2", "11", 1))
	for _, tc := range []struct {
		name  string
		event *discoveryv1.EndpointSlice
		want  bool
	}{
		{"own write", trackedSlice("s1", "10", 2), false},
		{"an event older than the own write", trackedSlice("s1", "8", 1), false},
		{"someone else's later write", trackedSlice("s1", "11", 2), true},
		{"later generation, versions unordered", trackedSlice("s1", "", 3), true},
		{"own write, versions unordered", trackedSlice("s1", "", 2), false},
		{"untracked slice", trackedSlice("s3", "3", 1), true},
		{"slice being deleted", trackedSlice("s2", "12", 2), true},
		{"slice of an untracked Service", &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", UID: "s1",
			Labels: map[string]string{discoveryv1.LabelServiceName: "db"}}}, true},
	} {
		if got := tr.ShouldSync(tc.event); got != tc.want {
			t.Errorf("%s: ShouldSync %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTrackerInterleavings replays, step by step, orders in which a
// sync's writes, their records and the informer's events can arrive.
// Each step is one call; after the last, the next sync begins with the
// cache as given and must find it current (or behind) as stated.
func TestTrackerInterleavings(t *testing.T) {
	s1, s1v2 := trackedSlice("s1", "10", 1), trackedSlice("s1", "12", 2)
	type step struct {
		op string // "stale", "wrote", "expect", "deleted" (by the informer; result: someone else's?)
		s  *discoveryv1.EndpointSlice
		// want is HandleDeletion's answer (someone else deleted it) for
		// "deleted" steps.
		want bool
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		cached []*discoveryv1.EndpointSlice
		stale  bool
	}{
		{
			name:   "create recorded, cache shows it",
			steps:  []step{{op: "stale"}, {op: "wrote", s: s1}},
			cached: cachedSlices(s1),
		},
		{
			name:  "create recorded, cache does not show it yet",
			steps: []step{{op: "stale"}, {op: "wrote", s: s1}},
			stale: true,
		},
		{
			name:  "created, recorded, then deleted by someone else",
			steps: []step{{op: "stale"}, {op: "wrote", s: s1}, {op: "deleted", s: s1, want: true}},
		},
		{
			// The stall: the deletion arrives before the create's record.
			name:  "created, deleted by someone else, then recorded",
			steps: []step{{op: "stale"}, {op: "deleted", s: s1, want: true}, {op: "wrote", s: s1}},
		},
		{
			name:  "updated, deleted by someone else, then recorded",
			steps: []step{{op: "stale"}, {op: "wrote", s: s1}, {op: "stale"}, {op: "deleted", s: s1v2, want: true}, {op: "wrote", s: s1v2}},
		},
		{
			name:   "own delete, cache still shows the slice",
			steps:  []step{{op: "stale"}, {op: "wrote", s: s1}, {op: "stale"}, {op: "expect", s: s1}},
			cached: cachedSlices(s1),
			stale:  true,
		},
		{
			name:  "own delete seen",
			steps: []step{{op: "stale"}, {op: "wrote", s: s1}, {op: "stale"}, {op: "expect", s: s1}, {op: "deleted", s: s1}},
		},
		{
			name:  "own delete seen before it is recorded",
			steps: []step{{op: "stale"}, {op: "wrote", s: s1}, {op: "stale"}, {op: "deleted", s: s1, want: true}, {op: "expect", s: s1}},
		},
		{
			name:  "deleted twice (a relist's tombstone after the event)",
			steps: []step{{op: "stale"}, {op: "wrote", s: s1}, {op: "deleted", s: s1, want: true}, {op: "deleted", s: s1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := service("web")
			tr := newSliceTracker()
			for i, st := range tc.steps {
				switch st.op {
				case "stale":
					tr.Stale(svc, nil)
				case "wrote":
					tr.Wrote(st.s)
				case "expect":
					tr.ExpectDeletion(st.s)
				case "deleted":
					if got := tr.HandleDeletion(st.s); got != st.want {
						t.Fatalf("step %d: HandleDeletion says someone else deleted it: %v, want %v", i, got, st.want)
					}
				}
			}
			if got := tr.Stale(svc, tc.cached); got != tc.stale {
				t.Fatalf("next sync: stale %v, want %v", got, tc.stale)
			}
			// Level-triggered: asking again, or at the sync after, gives
			// the same answer, and a deleted slice never makes it stale.
			if got := tr.Stale(svc, tc.cached); got != tc.stale {
				t.Fatalf("sync after: stale %v, want %v", got, tc.stale)
			}
		})
	}
}

func TestTrackerForgetsEarlierServiceOfSameName(t *testing.T) {
	tr := newSliceTracker()
	tr.Stale(service("web"), nil)
	tr.Wrote(trackedSlice("s1", "10", 1))
	recreated := service("web", func(s *corev1.Service) { s.UID = "other" })
	if tr.Stale(recreated, nil) {
		t.Error("writes for an earlier Service of the same name make the new one stale")
	}
	tr.Wrote(trackedSlice("s2", "20", 1))
	tr.Forget("default", "web")
	if tr.Stale(recreated, nil) {
		t.Error("a forgotten Service is still tracked")
	}
}

// TestReconcileAfterSliceDeletedBeforeItsCreateWasRecorded makes the
// stall deterministic: the informer delivers someone else's deletion of
// a new slice while the create call has not returned yet, so the
// tracker hears of the deletion before the create. The next sync must
// replace the slice instead of waiting for ever for a cache that will
// never show it.
func TestReconcileAfterSliceDeletedBeforeItsCreateWasRecorded(t *testing.T) {
	h := newHarness(t, false, node("node-a", ""), service("web"), pod("a", "web", "10.1.0.1", ready))
	sliceGVR := discoveryv1.SchemeGroupVersion.WithResource("endpointslices")

	deletionCached := make(chan struct{})
	var deletedName string
	reg, err := h.deps.Informers.Discovery().V1().EndpointSlices().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Name == deletedName {
				close(deletionCached)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.deps.Informers.Discovery().V1().EndpointSlices().Informer().RemoveEventHandler(reg) })

	// The fake clientset does not replay to a watch what happened before
	// it began, and an informer's caches sync before its watch is open:
	// wait until an object created now reaches the cache, so the
	// informer is sure to see the deletion below.
	probe := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "watch-probe"}, AddressType: discoveryv1.AddressTypeIPv4}
	if err := h.cs.Tracker().Create(sliceGVR, probe, probe.Namespace); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, func() error {
		_, err := h.deps.Informers.Discovery().V1().EndpointSlices().Lister().EndpointSlices("kube-system").Get("watch-probe")
		return err
	})

	var rv int
	first := true
	h.cs.PrependReactor("create", "endpointslices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if !first {
			return false, nil, nil
		}
		first = false
		s := a.(k8stesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice).DeepCopy()
		s.Name, s.UID, s.Generation = s.GenerateName+"first", "uid-first", 1
		rv++
		s.ResourceVersion = strconv.Itoa(rv)
		deletedName = s.Name
		if err := h.cs.Tracker().Create(sliceGVR, s, s.Namespace); err != nil {
			return true, nil, err
		}
		// Someone else deletes it at once, and the controller hears of
		// it before this call returns.
		if err := h.cs.Tracker().Delete(sliceGVR, s.Namespace, s.Name); err != nil {
			return true, nil, err
		}
		h.c.onSliceDelete(s)
		return true, s, nil
	})

	if err := h.reconcile("default/web"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-deletionCached:
	case <-time.After(10 * time.Second):
		t.Fatal("the informer did not show the deletion")
	}
	if err := h.reconcile("default/web"); err != nil {
		t.Fatalf("sync after the slice was deleted: %v", err)
	}
	ss := h.slices("web")
	if len(ss) != 1 || ss[0].Name == deletedName || len(ss[0].Endpoints) != 1 {
		t.Fatalf("slices after the replacement sync: %+v", ss)
	}
	if w := h.writes(); !slices.Equal(w, []string{"create", "create"}) {
		t.Fatalf("writes %v", w)
	}
}
