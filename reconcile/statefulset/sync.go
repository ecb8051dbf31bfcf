package statefulset

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-dev/skiff/reconcile/history"
	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// Event reasons, as upstream's StatefulSet controller reports them, plus
// the refusal of volumeClaimTemplates.
const (
	reasonSuccessfulCreate      = "SuccessfulCreate"
	reasonFailedCreate          = "FailedCreate"
	reasonSuccessfulDelete      = "SuccessfulDelete"
	reasonFailedDelete          = "FailedDelete"
	reasonSuccessfulUpdate      = "SuccessfulUpdate"
	reasonFailedUpdate          = "FailedUpdate"
	reasonRecreatingFailed      = "RecreatingFailedPod"
	reasonRecreatingTerminated  = "RecreatingTerminatedPod"
	reasonVolumeClaimsNotStored = "VolumeClaimTemplatesNotSupported"
)

// conditionReplicaFailure is the condition type Deployments and
// ReplicaSets use when pods cannot be created; a StatefulSet whose
// volumeClaimTemplates Skiff cannot satisfy reports it the same way.
const conditionReplicaFailure appsv1.StatefulSetConditionType = "ReplicaFailure"

// maxBatch caps one slow-start batch of Parallel pod management
// (upstream's MaxBatchSize).
const maxBatch = 500

// sync reconciles one StatefulSet: claim its pods and revisions, record
// the template as a revision, take the steps decide chooses, write
// status and prune the history.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	set, err := c.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get statefulset %s: %w", key, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		c.log.Error("invalid selector", "statefulset", key, "err", err)
		return nil
	}
	if len(set.Spec.VolumeClaimTemplates) > 0 {
		return c.refuseVolumeClaims(ctx, set)
	}
	revs, err := c.revisions.Claim(ctx, set, controllerKind, selector, c.canAdopt(set))
	if err != nil {
		return fmt.Errorf("claim revisions of statefulset %s: %w", key, err)
	}
	pods, err := c.claimPods(ctx, set, selector)
	if err != nil {
		return fmt.Errorf("claim pods of statefulset %s: %w", key, err)
	}
	history.Sort(revs)
	current, update, collisions, err := c.revisionsFor(ctx, set, revs)
	if err != nil {
		return errors.Join(fmt.Errorf("revisions of statefulset %s: %w", key, err), c.truncateHistory(ctx, set, pods, revs, current, update))
	}
	currentSet, err := history.Apply(set, current)
	if err != nil {
		return err
	}
	updateSet, err := history.Apply(set, update)
	if err != nil {
		return err
	}
	p, planErr := decide(set, currentSet, updateSet, revisionsInUse{current: current.Name, update: update.Name, collisionCount: collisions}, pods, c.clock.Now())
	var execErr error
	if planErr == nil {
		execErr = c.execute(ctx, set, p)
	}
	if p.waiting != "" {
		c.log.Debug("statefulset waiting", "statefulset", key, "reason", p.waiting)
	}
	statusErr := c.writeStatus(ctx, set, p.status)
	truncErr := c.truncateHistory(ctx, set, pods, revs, current, update)
	if set.Spec.MinReadySeconds > 0 && int(p.status.AvailableReplicas) != replicaCount(set) {
		// Availability arrives with time alone.
		c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second)
	}
	return errors.Join(planErr, execErr, statusErr, truncErr)
}

// canAdopt re-reads the set from the API before anything is adopted:
// adopting for a set being deleted would orphan the object again.
func (c *Controller) canAdopt(set *appsv1.StatefulSet) func(context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if fresh.UID != set.UID {
			return fmt.Errorf("statefulset %s/%s is gone: uid %s, wanted %s", set.Namespace, set.Name, fresh.UID, set.UID)
		}
		if fresh.DeletionTimestamp != nil {
			return fmt.Errorf("statefulset %s/%s is being deleted", set.Namespace, set.Name)
		}
		return nil
	}
}

// claimPods returns the pods set controls. Only pods named <set>-<n> are
// adopted, as upstream: a StatefulSet owns identities, not just labels.
// Pods it controls under another name are released.
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var objs []metav1.Object
	for _, p := range all {
		if isMember(set, p) || metav1.IsControlledBy(p, set) {
			objs = append(objs, p)
		}
	}
	podClient := c.client.CoreV1().Pods(set.Namespace)
	release := func(ctx context.Context, o metav1.Object) error {
		_, err := podClient.Patch(ctx, o.GetName(), types.StrategicMergePatchType, ownerref.ReleasePatch(set.UID, o.GetUID()), metav1.PatchOptions{})
		return err
	}
	claimer := &ownerref.Claimer{
		Owner: set, Selector: selector, CanAdopt: c.canAdopt(set),
		Adopt: func(ctx context.Context, o metav1.Object) error {
			_, err := podClient.Patch(ctx, o.GetName(), types.StrategicMergePatchType, ownerref.AdoptPatch(set, controllerKind, o.GetUID()), metav1.PatchOptions{})
			return err
		},
		Release: release,
	}
	claimed, err := claimer.Claim(ctx, objs)
	var out []*corev1.Pod
	var errs []error
	for _, o := range claimed {
		p := o.(*corev1.Pod)
		if isMember(set, p) {
			out = append(out, p)
			continue
		}
		if p.DeletionTimestamp == nil {
			if rerr := release(ctx, p); rerr != nil && !apierrors.IsNotFound(rerr) {
				errs = append(errs, fmt.Errorf("release %s: %w", p.Name, rerr))
			}
		}
	}
	return out, errors.Join(append(errs, err)...)
}

// maxCollisionRetries bounds the search for a free revision name; each
// retry changes the hash, so more than a few means something is wrong.
const maxCollisionRetries = 32

// revisionsFor returns the current revision (what status names, else the
// update revision), the update revision (the template in the spec:
// found among the revisions, renumbered as the newest if it was an older
// one — a rollback — or created), and the collision count used to name
// it.
func (c *Controller) revisionsFor(ctx context.Context, set *appsv1.StatefulSet, revs []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisions int32, err error) {
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	patch, err := history.TemplatePatch(set)
	if err != nil {
		return nil, nil, collisions, err
	}
	next := history.Max(revs) + 1
	equal := history.FindEqual(revs, patch)
	switch {
	case len(equal) > 0 && history.Equal(revs[len(revs)-1], patch):
		update = revs[len(revs)-1]
	case len(equal) > 0:
		if update, err = c.revisions.Renumber(ctx, equal[len(equal)-1], next); err != nil {
			return nil, nil, collisions, err
		}
		c.log.Info("template rolled back to an earlier revision", "statefulset", set.Namespace+"/"+set.Name, "revision", update.Name, "number", next)
	default:
		rev := history.New(set, controllerKind, set.Spec.Template.Labels, patch, next)
		for try := 0; ; try++ {
			if try == maxCollisionRetries {
				return nil, nil, collisions, fmt.Errorf("no free controller revision name after %d hash collisions", try)
			}
			hash := history.DataHash(patch, &collisions)
			rev.Name = history.Name(set.Name, hash)
			rev.Labels[history.HashLabel] = hash
			created, cerr := c.revisions.Create(ctx, rev)
			var collision *history.CollisionError
			if errors.As(cerr, &collision) {
				collisions++
				continue
			}
			if cerr != nil {
				return nil, nil, collisions, cerr
			}
			update = created
			break
		}
		c.log.Info("recorded revision", "statefulset", set.Namespace+"/"+set.Name, "revision", update.Name, "number", update.Revision)
	}
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision {
			return r, update, collisions, nil
		}
	}
	return update, update, collisions, nil
}

// truncateHistory deletes the oldest revisions beyond
// revisionHistoryLimit that no pod runs and status does not name.
func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, revs []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{}
	for _, r := range []*appsv1.ControllerRevision{current, update} {
		if r != nil {
			live[r.Name] = true
		}
	}
	for _, p := range pods {
		live[podRevision(p)] = true
	}
	limit := 10
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	if limit < 0 {
		return nil
	}
	unused := 0
	for _, r := range revs {
		if !live[r.Name] {
			unused++
		}
	}
	inUse := func(r *appsv1.ControllerRevision) bool { return live[r.Name] }
	var errs []error
	for _, r := range history.Prunable(revs, inUse, unused-limit) {
		if err := c.revisions.Delete(ctx, r); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// execute takes the planned steps. With OrderedReady a phase's steps run
// one after another and the first error stops the sync; with Parallel
// they run in slow-start batches (1, 2, 4, …) so a systematic failure
// (quota, admission) costs one request, not hundreds.
func (c *Controller) execute(ctx context.Context, set *appsv1.StatefulSet, p *plan) error {
	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	for _, phase := range p.phases {
		if monotonic {
			for _, s := range phase {
				if err := c.do(ctx, set, s); err != nil {
					return err
				}
			}
			continue
		}
		for pos, batch := 0, min(len(phase), 1); pos < len(phase); pos, batch = pos+batch, min(2*batch, len(phase)-pos-batch, maxBatch) {
			var wg sync.WaitGroup
			errs := make([]error, batch)
			for i, s := range phase[pos : pos+batch] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = c.do(ctx, set, s)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return err
			}
		}
	}
	return nil
}

// do takes one step, reporting it as an event on the set with upstream's
// wording ("create Pod web-0 in StatefulSet web successful").
func (c *Controller) do(ctx context.Context, set *appsv1.StatefulSet, s step) error {
	key := set.Namespace + "/" + set.Name
	pods := c.client.CoreV1().Pods(set.Namespace)
	report := func(verb, succeeded, failed string, err error) {
		if err == nil {
			c.recorder.Eventf(set, corev1.EventTypeNormal, succeeded, "%s Pod %s in StatefulSet %s successful", verb, s.pod.Name, set.Name)
			return
		}
		c.recorder.Eventf(set, corev1.EventTypeWarning, failed, "%s Pod %s in StatefulSet %s failed error: %v", verb, s.pod.Name, set.Name, err)
	}
	switch s.kind {
	case stepCreate:
		c.log.Info("creating pod", "statefulset", key, "pod", s.pod.Name, "revision", podRevision(s.pod))
		_, err := pods.Create(ctx, s.pod, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// Usually our own pod, not yet in the cache; if not, the
			// name is taken and the user must free it.
			existing, getErr := pods.Get(ctx, s.pod.Name, metav1.GetOptions{})
			if getErr == nil && metav1.IsControlledBy(existing, set) {
				return nil
			}
			err = fmt.Errorf("pod %s already exists and is not controlled by this StatefulSet: %w", s.pod.Name, err)
		}
		report("create", reasonSuccessfulCreate, reasonFailedCreate, err)
		return err
	case stepDelete, stepRecreate:
		if s.kind == stepRecreate {
			if s.pod.Status.Phase == corev1.PodFailed {
				c.recorder.Eventf(set, corev1.EventTypeWarning, reasonRecreatingFailed, "StatefulSet %s is recreating failed Pod %s", key, s.pod.Name)
			} else {
				c.recorder.Eventf(set, corev1.EventTypeNormal, reasonRecreatingTerminated, "StatefulSet %s is recreating terminated Pod %s", key, s.pod.Name)
			}
		}
		c.log.Info("deleting pod", "statefulset", key, "pod", s.pod.Name, "reason", s.why)
		uid := s.pod.UID
		var opts metav1.DeleteOptions
		if uid != "" {
			// Only that incarnation: never a pod recreated under the name.
			opts.Preconditions = &metav1.Preconditions{UID: &uid}
		}
		err := pods.Delete(ctx, s.pod.Name, opts)
		if apierrors.IsNotFound(err) {
			return nil
		}
		report("delete", reasonSuccessfulDelete, reasonFailedDelete, err)
		return err
	case stepRelabel:
		o := ordinalOf(s.pod)
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q,%q:%q}}}`,
			appsv1.StatefulSetPodNameLabel, s.pod.Name, appsv1.PodIndexLabel, strconv.Itoa(o))
		c.log.Info("updating pod identity", "statefulset", key, "pod", s.pod.Name)
		_, err := pods.Patch(ctx, s.pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		report("update", reasonSuccessfulUpdate, reasonFailedUpdate, err)
		return err
	}
	return fmt.Errorf("unknown step %q", s.kind)
}

// writeStatus stores status unless the set already says it.
func (c *Controller) writeStatus(ctx context.Context, set *appsv1.StatefulSet, status appsv1.StatefulSetStatus) error {
	completeRollingUpdate(set, &status)
	if equality.Semantic.DeepEqual(status, set.Status) {
		return nil
	}
	return c.storeStatus(ctx, set, status)
}

func (c *Controller) storeStatus(ctx context.Context, set *appsv1.StatefulSet, status appsv1.StatefulSetStatus) error {
	client := c.client.AppsV1().StatefulSets(set.Namespace)
	toUpdate := set.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		toUpdate.Status = status
		_, err := client.UpdateStatus(ctx, toUpdate, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			fresh, getErr := client.Get(ctx, set.Name, metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			toUpdate = fresh
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("update status of statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	return nil
}

// refuseVolumeClaims reports, on the set and in its status, that its
// volumeClaimTemplates cannot be honoured, and creates nothing. Pods
// without their claims would run with data that vanishes on restart:
// exactly what a StatefulSet with claims asks not to happen.
func (c *Controller) refuseVolumeClaims(ctx context.Context, set *appsv1.StatefulSet) error {
	names := make([]string, len(set.Spec.VolumeClaimTemplates))
	for i, t := range set.Spec.VolumeClaimTemplates {
		names[i] = t.Name
	}
	msg := fmt.Sprintf("spec.volumeClaimTemplates (%s) are not supported: Skiff has no persistent volume storage yet, so no pods are created for this StatefulSet; use emptyDir or hostPath volumes in the pod template instead",
		strings.Join(names, ", "))
	want := *set.Status.DeepCopy()
	want.ObservedGeneration = set.Generation
	var have *appsv1.StatefulSetCondition
	for i := range want.Conditions {
		if want.Conditions[i].Type == conditionReplicaFailure {
			have = &want.Conditions[i]
		}
	}
	if have == nil || have.Status != corev1.ConditionTrue || have.Reason != reasonVolumeClaimsNotStored || have.Message != msg {
		cond := appsv1.StatefulSetCondition{Type: conditionReplicaFailure, Status: corev1.ConditionTrue,
			Reason: reasonVolumeClaimsNotStored, Message: msg, LastTransitionTime: metav1.NewTime(c.clock.Now())}
		if have != nil {
			*have = cond
		} else {
			want.Conditions = append(want.Conditions, cond)
		}
		c.recorder.Event(set, corev1.EventTypeWarning, reasonVolumeClaimsNotStored, msg)
		c.log.Warn("statefulset refused: volumeClaimTemplates not supported", "statefulset", set.Namespace+"/"+set.Name, "claims", names)
	}
	if equality.Semantic.DeepEqual(want, set.Status) {
		return nil
	}
	return c.storeStatus(ctx, set, want)
}
