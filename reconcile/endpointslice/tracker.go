package endpointslice

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
)

// sliceTracker remembers, per Service and per slice UID, what this
// controller last did to each slice, to tell when the informer cache has
// not caught up with its own writes yet. Without it a sync that follows
// a create too quickly would not find the new slice in the cache and
// create a second one for the same endpoints. It is upstream's
// endpointSliceTracker (ShouldSync, StaleSlices, ExpectDeletion,
// HandleDeletion) with one addition: slices seen deleted are remembered.
//
// Why: the record of a write is made after the API call returns, and the
// informer may deliver that slice's deletion before it. Upstream's tracker
// forgets a deleted slice; the record landing afterwards then names a
// slice the cache will never show again, and every later sync of the
// Service finds the cache "behind" and is retried, silently and with
// growing back-off, until the Service is recreated. Here a deletion
// leaves a tombstone, a record landing on a tombstone is dropped, and
// tombstones are cleared when the Service's next sync begins: the work
// queue never runs two syncs of one Service at once, so by then every
// write of an earlier sync has been recorded.
//
// Versions are compared as versionOrder says: by resourceVersion, which
// orders every write (metadata-only ones too, such as a relabel, which
// leave the generation alone), and by metadata.generation, upstream's
// measure, where resourceVersions do not parse (the fake clientset
// leaves them empty). Where neither is known the cache is trusted.
type sliceTracker struct {
	mu       sync.Mutex
	services map[types.NamespacedName]*trackedService
}

type trackedService struct {
	// uid is the Service's: one recreated under the same name starts
	// afresh, as what was written for the old one says nothing of it.
	uid types.UID
	// slices maps a slice's id (see sliceID) to what is known of it.
	slices map[string]sliceRecord
}

type sliceState int

const (
	// written: the controller created or updated the slice, as version.
	written sliceState = iota
	// deletionExpected: the controller deleted the slice (upstream's
	// generation -1); the cache still showing it is behind.
	deletionExpected
	// gone: the informer delivered the slice's deletion. A write record
	// arriving later is of a slice that no longer exists.
	gone
)

type sliceRecord struct {
	state   sliceState
	version version
}

// version is what identifies one write of a slice.
type version struct {
	generation      int64
	resourceVersion string
}

func versionOf(s *discoveryv1.EndpointSlice) version {
	return version{generation: s.Generation, resourceVersion: s.ResourceVersion}
}

// versionOrder compares two versions of one slice (-1: a is older); ok
// is false when neither resourceVersions nor generations order them.
func versionOrder(a, b version) (order int, ok bool) {
	if c, err := resourceversion.CompareResourceVersion(a.resourceVersion, b.resourceVersion); err == nil {
		return c, true
	}
	if a.generation > 0 && b.generation > 0 {
		switch {
		case a.generation < b.generation:
			return -1, true
		case a.generation > b.generation:
			return 1, true
		}
		return 0, true
	}
	return 0, false
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
		e = &trackedService{slices: map[string]sliceRecord{}}
		t.services[nn] = e
	}
	return e
}

// Wrote records a slice as the API returned it after a create or update
// (upstream's Update). A slice already seen deleted stays deleted.
func (t *sliceTracker) Wrote(s *discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, id := t.entry(serviceOf(s)), sliceID(s)
	if r, ok := e.slices[id]; ok && r.state == gone {
		return
	}
	e.slices[id] = sliceRecord{state: written, version: versionOf(s)}
}

// ExpectDeletion records that this controller deleted a slice, so a
// cache still showing it is behind.
func (t *sliceTracker) ExpectDeletion(s *discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, id := t.entry(serviceOf(s)), sliceID(s)
	if r, ok := e.slices[id]; ok && r.state == gone {
		return
	}
	e.slices[id] = sliceRecord{state: deletionExpected}
}

// Stale reports whether the cached slices of svc predate this
// controller's own writes (upstream's StaleSlices): one it wrote is
// missing or older, or one it deleted is still there. It must be called
// once as each sync of the Service begins, before the sync writes: it
// clears the tombstones the previous syncs needed.
func (t *sliceTracker) Stale(svc *corev1.Service, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name})
	if e.uid != svc.UID {
		if e.uid != "" {
			e.slices = map[string]sliceRecord{}
		}
		e.uid = svc.UID
	}
	for id, r := range e.slices {
		if r.state == gone {
			delete(e.slices, id)
		}
	}
	seen := make(map[string]bool, len(cached))
	for _, s := range cached {
		id := sliceID(s)
		seen[id] = true
		r, ok := e.slices[id]
		if !ok {
			continue
		}
		if r.state == deletionExpected {
			return true
		}
		if c, ok := versionOrder(versionOf(s), r.version); ok && c < 0 {
			return true
		}
	}
	for id, r := range e.slices {
		if r.state == written && !seen[id] {
			return true
		}
	}
	return false
}

// ShouldSync reports whether an informer add or update of s shows
// something other than this controller's own last write of it.
func (t *sliceTracker) ShouldSync(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.services[serviceOf(s)]
	if e == nil {
		return true
	}
	r, ok := e.slices[sliceID(s)]
	if !ok || r.state != written {
		return true
	}
	if c, ok := versionOrder(r.version, versionOf(s)); ok {
		return c < 0
	}
	// Unordered versions: only an identical one is known to be ours.
	return r.version != versionOf(s)
}

// HandleDeletion takes an informer's deletion of s and reports whether
// someone else deleted it (so the Service needs a sync to replace it).
// The slice is remembered as gone until the Service's next sync begins,
// so that the record of a write made just before the deletion, landing
// after it, cannot make the cache look behind for ever.
func (t *sliceTracker) HandleDeletion(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.services[serviceOf(s)]
	if e == nil {
		// No sync of the Service has begun since it was last forgotten,
		// so no write record of this slice can be on its way.
		return true
	}
	id := sliceID(s)
	r, ok := e.slices[id]
	e.slices[id] = sliceRecord{state: gone}
	switch {
	case !ok:
		// Not (yet) recorded: someone else's deletion, possibly of a
		// slice whose create record is still to come.
		return true
	case r.state == written:
		return true
	}
	// Our own deletion, or one already handled.
	return false
}

// Forget drops everything recorded for a deleted Service.
func (t *sliceTracker) Forget(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.services, types.NamespacedName{Namespace: namespace, Name: name})
}
