package daemonset

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-dev/skiff/reconcile/history"
)

// defaultHistoryLimit applies when a stored DaemonSet predates the
// API server's defaulting of revisionHistoryLimit.
const defaultHistoryLimit = 10

// constructHistory returns the revision recording ds's current template
// (creating it, or renumbering it as the newest when the template went
// back to an earlier one) and the older revisions. Revisions are named
// <ds>-<template hash>, and that hash is the controller-revision-hash
// label of the pods made from it.
func (c *Controller) constructHistory(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector, pods []*corev1.Pod) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	revs, err := c.revisions.Claim(ctx, ds, controllerKind, selector, c.canAdopt(ds))
	if err != nil {
		return nil, nil, err
	}
	patch, err := history.TemplatePatch(ds)
	if err != nil {
		return nil, nil, err
	}
	var current []*appsv1.ControllerRevision
	for _, r := range revs {
		if _, ok := r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; !ok {
			// A revision made by an older controller: label it with its
			// name, which is unique, rather than recompute a hash that
			// might collide.
			u := r.DeepCopy()
			if u.Labels == nil {
				u.Labels = map[string]string{}
			}
			u.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = u.Name
			if r, err = c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
				return nil, nil, fmt.Errorf("label controller revision %s: %w", u.Name, err)
			}
		}
		if history.Equal(r, patch) {
			current = append(current, r)
		} else {
			old = append(old, r)
		}
	}
	next := history.Max(old) + 1
	if len(current) == 0 {
		cur, err = c.snapshot(ctx, ds, patch, next)
		return cur, old, err
	}
	if cur, err = c.dedup(ctx, ds, current, pods); err != nil {
		return nil, nil, err
	}
	if cur.Revision < next {
		if cur, err = c.revisions.Renumber(ctx, cur, next); err != nil {
			return nil, nil, err
		}
	}
	return cur, old, nil
}

// snapshot records ds's template as revision number n. A name taken by a
// different template (a hash collision) bumps status.collisionCount,
// which changes the hash, and fails this sync so the next one retries
// with the new name, as upstream does.
func (c *Controller) snapshot(ctx context.Context, ds *appsv1.DaemonSet, patch []byte, n int64) (*appsv1.ControllerRevision, error) {
	hash := history.TemplateHash(&ds.Spec.Template, ds.Status.CollisionCount)
	rev := history.New(ds, controllerKind, ds.Spec.Template.Labels, patch, n)
	rev.Name = history.Name(ds.Name, hash)
	rev.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	created, err := c.revisions.Create(ctx, rev)
	var collision *history.CollisionError
	if !errors.As(err, &collision) {
		return created, err
	}
	dsClient := c.client.AppsV1().DaemonSets(ds.Namespace)
	fresh, getErr := dsClient.Get(ctx, ds.Name, metav1.GetOptions{})
	if getErr != nil {
		return nil, getErr
	}
	if !reflect.DeepEqual(fresh.Status.CollisionCount, ds.Status.CollisionCount) {
		// Our copy is behind: the count was bumped already.
		return nil, fmt.Errorf("stale collision count of daemonset %s/%s; retrying once the cache catches up", ds.Namespace, ds.Name)
	}
	var count int32
	if fresh.Status.CollisionCount != nil {
		count = *fresh.Status.CollisionCount
	}
	count++
	fresh.Status.CollisionCount = &count
	if _, err := dsClient.UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("bump collision count of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	c.log.Info("revision hash collision, bumped collisionCount", "daemonset", ds.Namespace+"/"+ds.Name, "revision", rev.Name, "collisionCount", count)
	return nil, err
}

// dedup keeps the newest of several revisions recording the same
// template (left by a crash between creating one and renumbering
// another), relabelling pods of the others first so none is orphaned.
func (c *Controller) dedup(ctx context.Context, ds *appsv1.DaemonSet, current []*appsv1.ControllerRevision, pods []*corev1.Pod) (*appsv1.ControllerRevision, error) {
	keep := current[0]
	for _, r := range current[1:] {
		if r.Revision >= keep.Revision {
			keep = r
		}
	}
	if len(current) == 1 {
		return keep, nil
	}
	hash := keep.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, appsv1.DefaultDaemonSetUniqueLabelKey, hash)
	for _, p := range pods {
		if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
			continue
		}
		if _, err := c.client.CoreV1().Pods(ds.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return nil, fmt.Errorf("relabel pod %s: %w", p.Name, err)
		}
	}
	for _, r := range current {
		if r.Name == keep.Name {
			continue
		}
		if err := c.revisions.Delete(ctx, r); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// cleanupHistory deletes the oldest revisions beyond
// revisionHistoryLimit, never one that a pod still runs.
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, old []*appsv1.ControllerRevision, pods []*corev1.Pod) error {
	limit := defaultHistoryLimit
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	excess := len(old) - limit
	if excess <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, p := range pods {
		if h := p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != "" {
			live[h] = true
		}
	}
	sorted := append([]*appsv1.ControllerRevision(nil), old...)
	history.Sort(sorted)
	inUse := func(r *appsv1.ControllerRevision) bool { return live[r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]] }
	for _, r := range history.Prunable(sorted, inUse, excess) {
		if err := c.revisions.Delete(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
