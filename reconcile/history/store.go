package history

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// CollisionError reports that a revision of the chosen name exists and
// records something else (or belongs to another owner): the caller must
// pick another name, by bumping its collision count.
type CollisionError struct {
	Name string
}

func (e *CollisionError) Error() string {
	return fmt.Sprintf("controller revision %s exists with different data (hash collision)", e.Name)
}

// Store reads revisions from an informer's lister and writes them through
// the API.
type Store struct {
	Client kubernetes.Interface
	Lister appslisters.ControllerRevisionLister
}

// Claim returns the revisions owner controls, after adopting orphans its
// selector matches and releasing those it controls that no longer match
// (ownerref.Claimer). canAdopt re-reads the owner from the API.
// The returned objects come from the cache: copy before changing them.
func (s *Store) Claim(ctx context.Context, owner metav1.Object, gvk schema.GroupVersionKind, selector labels.Selector, canAdopt func(context.Context) error) ([]*appsv1.ControllerRevision, error) {
	ns := owner.GetNamespace()
	all, err := s.Lister.ControllerRevisions(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	objs := make([]metav1.Object, len(all))
	for i := range all {
		objs[i] = all[i]
	}
	revs := s.Client.AppsV1().ControllerRevisions(ns)
	c := &ownerref.Claimer{
		Owner: owner, Selector: selector, CanAdopt: canAdopt,
		Adopt: func(ctx context.Context, o metav1.Object) error {
			_, err := revs.Patch(ctx, o.GetName(), types.StrategicMergePatchType, ownerref.AdoptPatch(owner, gvk, o.GetUID()), metav1.PatchOptions{})
			return err
		},
		Release: func(ctx context.Context, o metav1.Object) error {
			_, err := revs.Patch(ctx, o.GetName(), types.StrategicMergePatchType, ownerref.ReleasePatch(owner.GetUID(), o.GetUID()), metav1.PatchOptions{})
			return err
		},
	}
	claimed, err := c.Claim(ctx, objs)
	out := make([]*appsv1.ControllerRevision, len(claimed))
	for i := range claimed {
		out[i] = claimed[i].(*appsv1.ControllerRevision)
	}
	return out, err
}

// Create creates rev under its name. If a revision of that name already
// exists with the same data and no other controller, that one is
// returned: an earlier sync made it and the cache has not shown it yet.
// Anything else of that name is a *CollisionError.
func (s *Store) Create(ctx context.Context, rev *appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	revs := s.Client.AppsV1().ControllerRevisions(rev.Namespace)
	created, err := revs.Create(ctx, rev, metav1.CreateOptions{})
	if err == nil {
		return created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create controller revision %s: %w", rev.Name, err)
	}
	existing, getErr := revs.Get(ctx, rev.Name, metav1.GetOptions{})
	if getErr != nil {
		return nil, fmt.Errorf("get controller revision %s: %w", rev.Name, getErr)
	}
	ref := metav1.GetControllerOf(existing)
	mine := metav1.GetControllerOf(rev)
	if Equal(existing, rev.Data.Raw) && (ref == nil || mine == nil || ref.UID == mine.UID) {
		return existing, nil
	}
	return nil, &CollisionError{Name: rev.Name}
}

// Renumber gives rev the revision number n: a template rolled back to is
// the newest revision again, as upstream records it.
func (s *Store) Renumber(ctx context.Context, rev *appsv1.ControllerRevision, n int64) (*appsv1.ControllerRevision, error) {
	cur := rev.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if cur.Revision == n {
			return nil
		}
		cur.Revision = n
		updated, err := s.Client.AppsV1().ControllerRevisions(cur.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			cur = updated
			return nil
		}
		if apierrors.IsConflict(err) {
			if fresh, getErr := s.Client.AppsV1().ControllerRevisions(cur.Namespace).Get(ctx, cur.Name, metav1.GetOptions{}); getErr == nil {
				cur = fresh
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("renumber controller revision %s to %d: %w", rev.Name, n, err)
	}
	return cur, nil
}

// Delete deletes rev, and only that incarnation of its name.
func (s *Store) Delete(ctx context.Context, rev *appsv1.ControllerRevision) error {
	var opts metav1.DeleteOptions
	if uid := rev.UID; uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := s.Client.AppsV1().ControllerRevisions(rev.Namespace).Delete(ctx, rev.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete controller revision %s: %w", rev.Name, err)
	}
	return nil
}
