// Package ownerref adopts and releases objects by owner references, as
// kube-controller-manager's ControllerRefManager does: a controller owns
// the objects its selector matches that have no other controller, and
// lets go of those that no longer match. Adoption and release are patches
// that carry the object's UID, so a recreated object of the same name is
// never touched by mistake.
//
// It also answers the two questions every owning controller's event
// handlers ask of an informer cache (resolve.go), generic over listers:
// which owner a controller reference means (ResolveController, checked by
// UID as upstream's resolveControllerRef), and which owners' selectors
// match an orphan's labels (Selecting, as the listers' GetPod<Owner>s).
package ownerref

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// NewControllerRef is the reference a controller puts on what it creates.
func NewControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) *metav1.OwnerReference {
	t := true
	return &metav1.OwnerReference{
		APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Name: owner.GetName(), UID: owner.GetUID(),
		Controller: &t, BlockOwnerDeletion: &t,
	}
}

// AdoptPatch is the strategic merge patch that makes owner the controller
// of the object with uid.
func AdoptPatch(owner metav1.Object, gvk schema.GroupVersionKind, uid types.UID) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []metav1.OwnerReference{*NewControllerRef(owner, gvk)},
		"uid":             uid,
	}})
	return b
}

// ReleasePatch is the strategic merge patch that removes owner's reference
// from the object with uid.
func ReleasePatch(owner types.UID, uid types.UID) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []map[string]any{{"$patch": "delete", "uid": owner}},
		"uid":             uid,
	}})
	return b
}

// Claimer claims objects for one owner.
type Claimer struct {
	Owner    metav1.Object
	Selector labels.Selector
	// CanAdopt re-reads the owner from the API (not a cache) and fails if
	// it is gone, replaced, or being deleted: adopting for an owner on its
	// way out would orphan the object again at once. Called at most once.
	CanAdopt func(ctx context.Context) error
	// Adopt and Release patch one object (see AdoptPatch, ReleasePatch).
	Adopt   func(ctx context.Context, obj metav1.Object) error
	Release func(ctx context.Context, obj metav1.Object) error

	checked  bool
	adoptErr error
}

// Claim returns the objects the owner controls after adopting matching
// orphans and releasing owned objects that no longer match. Objects
// being deleted are neither adopted nor released. Errors of individual
// patches are returned joined; objects whose patch failed are left out.
func (c *Claimer) Claim(ctx context.Context, objs []metav1.Object) ([]metav1.Object, error) {
	var out []metav1.Object
	var errs []error
	for _, o := range objs {
		ref := metav1.GetControllerOf(o)
		match := c.Selector.Matches(labels.Set(o.GetLabels()))
		switch {
		case ref != nil && ref.UID == c.Owner.GetUID():
			if match {
				out = append(out, o)
				continue
			}
			if o.GetDeletionTimestamp() != nil || c.Owner.GetDeletionTimestamp() != nil {
				continue
			}
			if err := c.Release(ctx, o); err != nil && !isGone(err) {
				errs = append(errs, fmt.Errorf("release %s: %w", o.GetName(), err))
			}
		case ref != nil:
			// Another controller's.
		case match && o.GetDeletionTimestamp() == nil && c.Owner.GetDeletionTimestamp() == nil:
			if !c.checked {
				c.checked, c.adoptErr = true, c.CanAdopt(ctx)
			}
			if c.adoptErr != nil {
				errs = append(errs, c.adoptErr)
				return out, errors.Join(errs...)
			}
			if err := c.Adopt(ctx, o); err != nil {
				if !isGone(err) {
					errs = append(errs, fmt.Errorf("adopt %s: %w", o.GetName(), err))
				}
				continue
			}
			out = append(out, o)
		}
	}
	return out, errors.Join(errs...)
}

// isGone: the object was deleted or replaced (UID mismatch) meanwhile.
func isGone(err error) bool {
	type status interface{ Status() metav1.Status }
	var s status
	if errors.As(err, &s) {
		code := s.Status().Code
		return code == 404 || code == 422
	}
	return false
}
