package gc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// Reconcile takes one step for the object with uid, judged from the
// graph and confirmed with live reads: verify that a virtual owner
// exists, orphan an owner's dependents, finish a foreground deletion, or
// delete (or unlink) a dependent whose owners are gone. It is idempotent;
// an error means "retry later".
func (c *Controller) Reconcile(ctx context.Context, uid types.UID) error {
	c.mu.Lock()
	v, ok := c.graph.view(uid)
	c.mu.Unlock()
	switch {
	case !ok:
		return nil
	case v.virtual:
		return c.verifyOwner(ctx, v)
	case v.orphaning:
		return c.orphanDependents(ctx, v)
	case v.beingDeleted && !v.deletingDependents:
		// Deletion is a one-way trip; the dependents are handled
		// when the informer reports the object gone.
		return nil
	case !v.deletingDependents && !v.hasOwners:
		// Nothing to judge; a reference added later is an update the
		// graph will report.
		return nil
	}
	latest, err := c.md.Resource(v.gvr).Namespace(v.ref.Namespace).Get(ctx, v.ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && latest.UID != v.ref.UID) {
		// The informer will report the deletion.
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", v.ref, err)
	}
	if v.deletingDependents {
		return c.finishForeground(ctx, v)
	}
	return c.collect(ctx, v, latest)
}

// verifyOwner reads a virtual owner: absent (or there with another UID),
// it leaves the graph and its dependents are checked; present, it is
// checked again until an informer shows it.
func (c *Controller) verifyOwner(ctx context.Context, v nodeView) error {
	info, err := c.resources().forKind(v.ref.APIVersion, v.ref.Kind)
	if err != nil {
		return err
	}
	ns := ""
	if info.namespaced {
		if v.ref.Namespace == "" {
			// Only cluster-scoped objects name it: an invalid
			// reference, which no retry will mend.
			c.log.Warn("cluster-scoped objects name a namespaced owner; ignoring", "owner", v.ref.String(), "uid", v.ref.UID)
			return nil
		}
		ns = v.ref.Namespace
	}
	key := absentKey{group: info.gvk.Group, kind: v.ref.Kind, namespace: ns, name: v.ref.Name, uid: v.ref.UID}
	var owner *metav1.PartialObjectMetadata
	if _, known := c.absent.Get(key); known {
		err = apierrors.NewNotFound(info.gvr.GroupResource(), v.ref.Name)
	} else {
		owner, err = c.md.Resource(info.gvr).Namespace(ns).Get(ctx, v.ref.Name, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err) || (err == nil && owner.UID != v.ref.UID):
		c.absent.Add(key, struct{}{})
		c.mu.Lock()
		deps := c.graph.removeAbsent(v.ref.UID)
		c.mu.Unlock()
		c.log.Debug("owner does not exist", "owner", v.ref.String(), "uid", v.ref.UID, "dependents", len(deps))
		for _, d := range deps {
			c.queue.Add(d)
		}
		return nil
	case err != nil:
		return fmt.Errorf("get owner %s: %w", v.ref, err)
	}
	c.mu.Lock()
	still := c.graph.isVirtual(v.ref.UID)
	c.mu.Unlock()
	if still {
		return errNotObserved
	}
	return nil
}

// orphanDependents removes the owner's references from its dependents,
// then the orphan finalizer from the owner, which lets it go.
func (c *Controller) orphanDependents(ctx context.Context, v nodeView) error {
	var errs []error
	for _, d := range v.dependents {
		_, err := c.md.Resource(d.gvr).Namespace(d.ref.Namespace).Patch(ctx, d.ref.Name, types.StrategicMergePatchType,
			ownerref.ReleasePatch(v.ref.UID, d.ref.UID), metav1.PatchOptions{})
		if err != nil && !c.replacedOrGone(ctx, d.ref, d.gvr) {
			errs = append(errs, fmt.Errorf("orphan %s: %w", d.ref, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	c.log.Info("orphaned dependents", "kind", v.ref.Kind, "namespace", v.ref.Namespace, "name", v.ref.Name, "dependents", len(v.dependents))
	return c.removeFinalizer(ctx, v.ref, v.gvr, metav1.FinalizerOrphanDependents)
}

// replacedOrGone reports whether the object ref names no longer exists
// (a patch that failed on it needs no retry).
func (c *Controller) replacedOrGone(ctx context.Context, ref objectRef, gvr schema.GroupVersionResource) bool {
	cur, err := c.md.Resource(gvr).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	return apierrors.IsNotFound(err) || (err == nil && cur.UID != ref.UID)
}

// finishForeground lets an owner in a foreground deletion go once no
// dependent blocks it; until then it makes sure the blocking dependents
// are being deleted. Non-blocking dependents were queued for deletion
// when the foreground deletion began and are not waited for.
func (c *Controller) finishForeground(ctx context.Context, v nodeView) error {
	var blocking []dependentView
	for _, d := range v.dependents {
		if d.blocking {
			blocking = append(blocking, d)
		}
	}
	if len(blocking) == 0 {
		c.log.Info("dependents deleted; finishing foreground deletion", "kind", v.ref.Kind, "namespace", v.ref.Namespace, "name", v.ref.Name)
		return c.removeFinalizer(ctx, v.ref, v.gvr, metav1.FinalizerDeleteDependents)
	}
	for _, d := range blocking {
		if !d.deletingDependents {
			c.queue.Add(d.ref.UID)
		}
	}
	return nil
}

// ownerState is what a dependent's reference says about its owner.
type ownerState int

const (
	solid    ownerState = iota // the owner exists
	dangling                   // the owner is gone, or never existed with that UID
	waiting                    // the owner is in a foreground deletion
)

// errNamespacedOwnerOfClusterScoped: a cluster-scoped object names a
// namespaced owner, which cannot be; no retry will mend it.
var errNamespacedOwnerOfClusterScoped = errors.New("a cluster-scoped object cannot have a namespaced owner")

// ownerState reads the owner a reference names, with a live read unless
// the owner is already known to be gone.
func (c *Controller) ownerState(ctx context.Context, r metav1.OwnerReference, dependentNS string) (ownerState, error) {
	info, err := c.resources().forKind(r.APIVersion, r.Kind)
	if err != nil {
		return solid, err
	}
	ns := ""
	if info.namespaced {
		if dependentNS == "" {
			return solid, errNamespacedOwnerOfClusterScoped
		}
		ns = dependentNS
	}
	key := absentKey{group: info.gvk.Group, kind: r.Kind, namespace: ns, name: r.Name, uid: r.UID}
	if _, ok := c.absent.Get(key); ok {
		return dangling, nil
	}
	owner, err := c.md.Resource(info.gvr).Namespace(ns).Get(ctx, r.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || (err == nil && owner.UID != r.UID):
		c.absent.Add(key, struct{}{})
		return dangling, nil
	case err != nil:
		return solid, fmt.Errorf("get owner %s %s: %w", r.Kind, r.Name, err)
	case owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents):
		return waiting, nil
	}
	return solid, nil
}

// collect decides a dependent's fate from its owners, as upstream does:
// with any owner still there it stays, minus the references to gone or
// foreground-deleting owners; otherwise it is deleted — in the
// foreground if an owner's foreground deletion waits on it and it has
// dependents of its own, else as its own finalizers ask (Background by
// default).
func (c *Controller) collect(ctx context.Context, v nodeView, latest *metav1.PartialObjectMetadata) error {
	refs := latest.OwnerReferences
	if len(refs) == 0 {
		return nil
	}
	var solidRefs, unlink []metav1.OwnerReference
	waitingOwners := 0
	for _, r := range refs {
		st, err := c.ownerState(ctx, r, v.ref.Namespace)
		if errors.Is(err, errNamespacedOwnerOfClusterScoped) {
			c.log.Warn("cluster-scoped object names a namespaced owner; ignoring", "kind", v.ref.Kind, "name", v.ref.Name, "owner", r.Kind+" "+r.Name)
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", v.ref, err)
		}
		switch st {
		case solid:
			solidRefs = append(solidRefs, r)
		case waiting:
			waitingOwners++
			unlink = append(unlink, r)
		case dangling:
			unlink = append(unlink, r)
		}
	}
	switch {
	case len(solidRefs) > 0:
		// Left in the references, an owner in a foreground deletion
		// would wait forever for this object, which stays.
		for _, r := range unlink {
			if _, err := c.md.Resource(v.gvr).Namespace(v.ref.Namespace).Patch(ctx, v.ref.Name, types.StrategicMergePatchType,
				ownerref.ReleasePatch(r.UID, v.ref.UID), metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("remove reference to %s %s from %s: %w", r.Kind, r.Name, v.ref, err)
			}
			c.log.Info("removed reference to a gone or deleting owner", "kind", v.ref.Kind, "namespace", v.ref.Namespace, "name", v.ref.Name, "owner", r.Kind+" "+r.Name)
		}
		return nil
	case waitingOwners > 0 && len(v.dependents) > 0:
		for _, d := range v.dependents {
			if d.deletingDependents {
				// A dependent waits on this object while an owner
				// waits on it: a cycle. Unblocking this object's
				// references lets the owner go first, as upstream
				// breaks such cycles.
				if err := c.unblockOwners(ctx, v, latest); err != nil {
					return err
				}
				break
			}
		}
		return c.delete(ctx, v, latest, metav1.DeletePropagationForeground, "an owner is being deleted in the foreground")
	default:
		policy := metav1.DeletePropagationBackground
		switch {
		case slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		reason := "its owners are gone"
		if waitingOwners > 0 {
			reason = "an owner is being deleted in the foreground"
		}
		return c.delete(ctx, v, latest, policy, reason)
	}
}

// delete deletes the object as it was read: the UID and resourceVersion
// preconditions make sure the owner references just judged are still the
// object's (an adoption in between makes the delete fail and the object
// be judged again).
func (c *Controller) delete(ctx context.Context, v nodeView, latest *metav1.PartialObjectMetadata, policy metav1.DeletionPropagation, reason string) error {
	uid, rv := latest.UID, latest.ResourceVersion
	opts := metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}}
	if rv != "" {
		opts.Preconditions.ResourceVersion = &rv
	}
	err := c.md.Resource(v.gvr).Namespace(v.ref.Namespace).Delete(ctx, v.ref.Name, opts)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", v.ref, err)
	}
	c.log.Info("deleted dependent", "kind", v.ref.Kind, "namespace", v.ref.Namespace, "name", v.ref.Name, "propagationPolicy", policy, "reason", reason)
	return nil
}

// unblockOwners sets blockOwnerDeletion to false on the object's
// references.
func (c *Controller) unblockOwners(ctx context.Context, v nodeView, latest *metav1.PartialObjectMetadata) error {
	var refs []map[string]any
	for _, r := range latest.OwnerReferences {
		if blocks(r) {
			refs = append(refs, map[string]any{"apiVersion": r.APIVersion, "kind": r.Kind, "name": r.Name, "uid": r.UID, "blockOwnerDeletion": false})
		}
	}
	if len(refs) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": refs, "uid": v.ref.UID}})
	if err != nil {
		return err
	}
	if _, err := c.md.Resource(v.gvr).Namespace(v.ref.Namespace).Patch(ctx, v.ref.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("unblock owner references of %s: %w", v.ref, err)
	}
	return nil
}

// removeFinalizer removes one finalizer from the object, re-reading it on
// a conflict. The merge patch carries the resourceVersion read, so a
// finalizer added meanwhile by someone else is never dropped.
func (c *Controller) removeFinalizer(ctx context.Context, ref objectRef, gvr schema.GroupVersionResource, finalizer string) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := c.md.Resource(gvr).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && cur.UID != ref.UID) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", ref, err)
		}
		if !slices.Contains(cur.Finalizers, finalizer) {
			return nil
		}
		rest := slices.DeleteFunc(slices.Clone(cur.Finalizers), func(f string) bool { return f == finalizer })
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"finalizers": rest, "resourceVersion": cur.ResourceVersion, "uid": cur.UID,
		}})
		if err != nil {
			return err
		}
		_, err = c.md.Resource(gvr).Namespace(ref.Namespace).Patch(ctx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}
