package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// slowStartInitialBatch is the first batch of pod creations (upstream's
// SlowStartInitialBatchSize); each successful batch doubles the next.
const slowStartInitialBatch = 1

// Reconcile brings one ReplicaSet (key "namespace/name") one step closer
// to spec.replicas live pods and writes its status.
func (c *Controller) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		c.deleting.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	// Read before listing pods: an event that satisfies the expectations
	// after this point is in the list we are about to read.
	needsSync := c.exp.Satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// Validation refuses such a selector; nothing can match it.
		c.log.Error("invalid selector", "replicaset", key, "err", err)
		return nil
	}
	// All pods, not only matching ones: an owned pod whose labels changed
	// must be seen to be released.
	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, rs, selector, activePods(all))
	if err != nil {
		return err
	}
	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, key, pods, rs)
	}
	rs = rs.DeepCopy()
	status := calculateStatus(rs, pods, manageErr, c.clock.Now())
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return errors.Join(manageErr, err)
	}
	// A last look once the ready pods have been ready for minReadySeconds,
	// in case no pod event comes to wake us.
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 && updated.Spec.Replicas != nil &&
		updated.Status.ReadyReplicas == *updated.Spec.Replicas && updated.Status.AvailableReplicas != *updated.Spec.Replicas {
		c.queue.AddAfter(key, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

// activePods drops pods that are finished or being deleted: they no
// longer count toward the replicas, so a replacement may start at once.
func activePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if isPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

func isPodActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// claimPods adopts matching orphans, releases owned pods that stopped
// matching, and returns the pods the ReplicaSet controls.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	byUID := make(map[types.UID]*corev1.Pod, len(pods))
	objs := make([]metav1.Object, 0, len(pods))
	for _, p := range pods {
		byUID[p.UID] = p
		objs = append(objs, p)
	}
	claimer := &ownerref.Claimer{
		Owner:    rs,
		Selector: selector,
		CanAdopt: func(ctx context.Context) error {
			// A fresh read: the cache may not show yet that the
			// ReplicaSet is being deleted or was replaced.
			fresh, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if fresh.UID != rs.UID {
				return fmt.Errorf("original ReplicaSet %s/%s is gone: got uid %s, wanted %s", rs.Namespace, rs.Name, fresh.UID, rs.UID)
			}
			if fresh.DeletionTimestamp != nil {
				return fmt.Errorf("ReplicaSet %s/%s has just been deleted at %s", rs.Namespace, rs.Name, fresh.DeletionTimestamp)
			}
			return nil
		},
		Adopt: func(ctx context.Context, o metav1.Object) error {
			_, err := c.client.CoreV1().Pods(o.GetNamespace()).Patch(ctx, o.GetName(), types.StrategicMergePatchType,
				ownerref.AdoptPatch(rs, controllerKind, o.GetUID()), metav1.PatchOptions{})
			if err == nil {
				c.log.Info("adopted pod", "replicaset", rs.Namespace+"/"+rs.Name, "pod", o.GetName())
			}
			return err
		},
		Release: func(ctx context.Context, o metav1.Object) error {
			_, err := c.client.CoreV1().Pods(o.GetNamespace()).Patch(ctx, o.GetName(), types.StrategicMergePatchType,
				ownerref.ReleasePatch(rs.UID, o.GetUID()), metav1.PatchOptions{})
			if err == nil {
				c.log.Info("released pod", "replicaset", rs.Namespace+"/"+rs.Name, "pod", o.GetName())
			}
			return err
		},
	}
	claimed, err := claimer.Claim(ctx, objs)
	out := make([]*corev1.Pod, 0, len(claimed))
	for _, o := range claimed {
		out = append(out, byUID[o.GetUID()])
	}
	return out, err
}

// manageReplicas creates or deletes pods so that len(pods) moves toward
// spec.replicas, by at most c.burst.
func (c *Controller) manageReplicas(ctx context.Context, key string, pods []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	want := int32(1)
	if rs.Spec.Replicas != nil {
		want = *rs.Spec.Replicas
	}
	diff := len(pods) - int(want)
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		c.exp.Expect(key, n, 0)
		c.log.Info("too few replicas", "replicaset", key, "need", want, "have", len(pods), "creating", n)
		created, err := slowStartBatch(n, slowStartInitialBatch, func() error {
			err := c.createPod(ctx, rs)
			if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				// Every creation in a terminating namespace fails; the
				// ReplicaSet itself is about to go.
				return nil
			}
			return err
		})
		// The informer will never show the pods not created: stop
		// waiting for them. The next sync tries again, from a batch of 1.
		if skipped := n - created; skipped > 0 {
			c.log.Info("slow-start failure, skipping the rest of the pods", "replicaset", key, "skipped", skipped)
			c.exp.Lower(key, skipped, 0)
		}
		return err
	case diff > 0:
		n := min(diff, c.burst)
		related := c.indirectlyRelatedPods(rs)
		victims := podsToDelete(pods, related, n, c.clock.Now())
		podKeys := make([]string, len(victims))
		for i, p := range victims {
			podKeys[i] = p.Namespace + "/" + p.Name
		}
		// Record exactly which pods, so that each lowers the expectation
		// once, whether it shows up as terminating or as gone.
		c.deleting.expect(key, podKeys)
		c.exp.Expect(key, 0, n)
		c.log.Info("too many replicas", "replicaset", key, "need", want, "have", len(pods), "deleting", n)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, p := range victims {
			wg.Go(func() {
				if err := c.removePod(ctx, rs, p.Name); err != nil {
					c.deletionObserved(key, podKeys[i])
					if !apierrors.IsNotFound(err) {
						errs[i] = err
					}
				}
			})
		}
		wg.Wait()
		// They are most likely one error many times: report the first.
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// slowStartBatch calls fn count times, in parallel batches of 1, 2, 4, …
// and stops after the first batch with a failure. It returns how many
// calls succeeded.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		successes += batch - len(errs)
		if len(errs) > 0 {
			return successes, <-errs
		}
		remaining -= batch
	}
	return successes, nil
}

// newPod is the pod a ReplicaSet creates from its template.
func newPod(rs *appsv1.ReplicaSet) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	prefix := rs.Name + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		prefix = rs.Name
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*ownerref.NewControllerRef(rs, controllerKind)},
		},
		Spec: t.Spec,
	}
}

func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod := newPod(rs)
	if len(pod.Labels) == 0 {
		return errors.New("unable to create pods, no labels")
	}
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return err
	}
	c.log.Debug("created pod", "replicaset", rs.Namespace+"/"+rs.Name, "pod", created.Name)
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) removePod(ctx context.Context, rs *appsv1.ReplicaSet, name string) error {
	if err := c.client.CoreV1().Pods(rs.Namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("unable to delete pods: %w", err)
	}
	c.log.Debug("deleted pod", "replicaset", rs.Namespace+"/"+rs.Name, "pod", name)
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", name)
	return nil
}

// indirectlyRelatedPods are the pods of every ReplicaSet that shares this
// one's controller (the other revisions of one Deployment): deleting the
// pod doubled up with its siblings on a node keeps the spread.
func (c *Controller) indirectlyRelatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	ref := metav1.GetControllerOf(rs)
	if ref == nil {
		return nil
	}
	siblings, err := c.rsLister.ReplicaSets(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	seen := map[types.UID]bool{}
	var out []*corev1.Pod
	for _, s := range siblings {
		if r := metav1.GetControllerOf(s); r == nil || r.UID != ref.UID {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err != nil {
			continue
		}
		pods, err := c.podLister.Pods(s.Namespace).List(sel)
		if err != nil {
			continue
		}
		for _, p := range pods {
			if !seen[p.UID] {
				seen[p.UID] = true
				out = append(out, p)
			}
		}
	}
	return out
}
