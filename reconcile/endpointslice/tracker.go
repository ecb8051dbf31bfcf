package endpointslice

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
)

// sliceTracker remembers the slices this controller wrote, to tell when
// the informer cache has not caught up with its own writes yet. Without
// it a sync that follows a create too quickly would not find the new
// slice in the cache and create a second one for the same endpoints.
//
// Upstream's tracker compares metadata.generation; Skiff's API server
// does not keep a generation for EndpointSlices, so this one compares
// resourceVersions, which Kubernetes has defined as comparable since
// KEP-5504. Where a version does not parse (the fake clientset leaves
// them empty) only equality is known, and the cache is trusted.
type sliceTracker struct {
	mu       sync.Mutex
	services map[types.NamespacedName]*trackedService
}

type trackedService struct {
	uid types.UID
	// slices maps a slice's id (see sliceID) to what was written last.
	slices map[string]written
}

type written struct {
	resourceVersion string
	deleted         bool
}

func newSliceTracker() *sliceTracker {
	return &sliceTracker{services: map[types.NamespacedName]*trackedService{}}
}

// sliceID is a slice's UID, or its name where a fake client gives none.
func sliceID(s *discoveryv1.EndpointSlice) string {
	if s.UID != "" {
		return string(s.UID)
	}
	return "name:" + s.Name
}

func serviceOf(s *discoveryv1.EndpointSlice) types.NamespacedName {
	return types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
}

func (t *sliceTracker) entry(nn types.NamespacedName) *trackedService {
	e := t.services[nn]
	if e == nil {
		e = &trackedService{slices: map[string]written{}}
		t.services[nn] = e
	}
	return e
}

// Wrote records a slice as the API returned it after a create or update.
func (t *sliceTracker) Wrote(s *discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entry(serviceOf(s)).slices[sliceID(s)] = written{resourceVersion: s.ResourceVersion}
}

// Deleted records that this controller deleted a slice.
func (t *sliceTracker) Deleted(s *discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entry(serviceOf(s)).slices[sliceID(s)] = written{deleted: true}
}

// Stale reports whether the cached slices of svc predate this
// controller's own writes: one it wrote is missing or older, or one it
// deleted is still there. A Service recreated under the same name starts
// afresh: what was written for the old one says nothing of the new.
func (t *sliceTracker) Stale(svc *corev1.Service, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	nn := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	e := t.services[nn]
	if e == nil {
		t.entry(nn).uid = svc.UID
		return false
	}
	if e.uid != "" && e.uid != svc.UID {
		e.uid, e.slices = svc.UID, map[string]written{}
		return false
	}
	e.uid = svc.UID
	seen := make(map[string]bool, len(cached))
	for _, s := range cached {
		id := sliceID(s)
		seen[id] = true
		w, ok := e.slices[id]
		if !ok {
			continue
		}
		if w.deleted || older(s.ResourceVersion, w.resourceVersion) {
			return true
		}
	}
	for id, w := range e.slices {
		if !w.deleted && !seen[id] {
			return true
		}
	}
	return false
}

// ShouldSync reports whether an informer event for s shows something
// other than this controller's own last write of it.
func (t *sliceTracker) ShouldSync(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.services[serviceOf(s)]
	if e == nil {
		return true
	}
	w, ok := e.slices[sliceID(s)]
	if !ok || w.deleted {
		return true
	}
	if c, err := resourceversion.CompareResourceVersion(w.resourceVersion, s.ResourceVersion); err == nil {
		return c < 0
	}
	return w.resourceVersion != s.ResourceVersion
}

// HandleDeletion forgets a deleted slice and reports whether someone
// else deleted it (so the Service needs a sync to replace it).
func (t *sliceTracker) HandleDeletion(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.services[serviceOf(s)]
	if e == nil {
		return true
	}
	id := sliceID(s)
	w, ok := e.slices[id]
	delete(e.slices, id)
	return !ok || !w.deleted
}

// Forget drops everything recorded for a deleted Service.
func (t *sliceTracker) Forget(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.services, types.NamespacedName{Namespace: namespace, Name: name})
}

// older reports whether resourceVersion a is known to precede b; versions
// that do not compare are not known to.
func older(a, b string) bool {
	c, err := resourceversion.CompareResourceVersion(a, b)
	return err == nil && c < 0
}
