package deployment

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// Reconcile takes one step of the Deployment named by key
// ("namespace/name") and writes its status.
func (c *Controller) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Its ReplicaSets go with the garbage collector.
		return nil
	}
	if err != nil {
		return err
	}
	// Never change the cache's copy.
	d := cached.DeepCopy()
	if d.Spec.Replicas == nil {
		// The API server defaults it; a client that bypassed defaulting
		// gets what defaulting would have given.
		d.Spec.Replicas = ptr.To[int32](1)
	}
	if d.Spec.Selector == nil || reflect.DeepEqual(d.Spec.Selector, &metav1.LabelSelector{}) {
		c.recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return c.updateStatus(ctx, d)
		}
		return nil
	}
	rsList, err := c.claimReplicaSets(ctx, d)
	if err != nil {
		return err
	}
	pods, err := c.podsByReplicaSet(d, rsList)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		return c.syncStatusOnly(ctx, d, rsList, pods)
	}
	// Before the paused check, so that time spent paused is not taken
	// for lack of progress once resumed.
	if err := c.checkPausedConditions(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return c.sync(ctx, d, rsList, pods)
	}
	scaling, err := c.isScalingEvent(ctx, d, rsList, pods)
	if err != nil {
		return err
	}
	if scaling {
		return c.sync(ctx, d, rsList, pods)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return c.rolloutRecreate(ctx, d, rsList, pods)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return c.rolloutRolling(ctx, d, rsList, pods)
	}
	return fmt.Errorf("unexpected deployment strategy type: %s", d.Spec.Strategy.Type)
}

// claimReplicaSets returns the ReplicaSets the Deployment controls, after
// adopting matching orphans and releasing owned ones that stopped
// matching.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has an invalid selector: %w", d.Namespace, d.Name, err)
	}
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	byUID := make(map[types.UID]*appsv1.ReplicaSet, len(all))
	objs := make([]metav1.Object, 0, len(all))
	for _, rs := range all {
		byUID[rs.UID] = rs
		objs = append(objs, rs)
	}
	claimer := &ownerref.Claimer{
		Owner:    d,
		Selector: sel,
		CanAdopt: func(ctx context.Context) error {
			// A fresh read: the cache may not show yet that the
			// Deployment is being deleted or was replaced.
			fresh, err := c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if fresh.UID != d.UID {
				return fmt.Errorf("original Deployment %s/%s is gone: got uid %s, wanted %s", d.Namespace, d.Name, fresh.UID, d.UID)
			}
			if fresh.DeletionTimestamp != nil {
				return fmt.Errorf("deployment %s/%s has just been deleted at %s", d.Namespace, d.Name, fresh.DeletionTimestamp)
			}
			return nil
		},
		Adopt: func(ctx context.Context, o metav1.Object) error {
			_, err := c.client.AppsV1().ReplicaSets(o.GetNamespace()).Patch(ctx, o.GetName(), types.StrategicMergePatchType,
				ownerref.AdoptPatch(d, controllerKind, o.GetUID()), metav1.PatchOptions{})
			if err == nil {
				c.log.Info("adopted replica set", "deployment", d.Namespace+"/"+d.Name, "replicaset", o.GetName())
			}
			return err
		},
		Release: func(ctx context.Context, o metav1.Object) error {
			_, err := c.client.AppsV1().ReplicaSets(o.GetNamespace()).Patch(ctx, o.GetName(), types.StrategicMergePatchType,
				ownerref.ReleasePatch(d.UID, o.GetUID()), metav1.PatchOptions{})
			if err == nil {
				c.log.Info("released replica set", "deployment", d.Namespace+"/"+d.Name, "replicaset", o.GetName())
			}
			return err
		},
	}
	claimed, err := claimer.Claim(ctx, objs)
	if err != nil {
		return nil, err
	}
	out := make([]*appsv1.ReplicaSet, 0, len(claimed))
	for _, o := range claimed {
		out = append(out, byUID[o.GetUID()])
	}
	return out, nil
}

// podsByReplicaSet groups the Deployment's pods by the ReplicaSet that
// controls them. All pods count here, terminating ones included: a
// Recreate rollout waits until they are really gone.
func (c *Controller) podsByReplicaSet(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (map[types.UID][]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	pods, err := c.podLister.Pods(d.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	out := make(map[types.UID][]*corev1.Pod, len(rsList))
	for _, rs := range rsList {
		out[rs.UID] = nil
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			continue
		}
		if _, ok := out[ref.UID]; ok {
			out[ref.UID] = append(out[ref.UID], p)
		}
	}
	return out, nil
}

// live counts each ReplicaSet's pods that are neither finished nor
// being deleted.
func live(pods map[types.UID][]*corev1.Pod) livePods {
	out := livePods{}
	for uid, ps := range pods {
		for _, p := range ps {
			if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				out[uid]++
			}
		}
	}
	return out
}

// syncStatusOnly only writes status: the Deployment is being deleted.
func (c *Controller) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, pods map[types.UID][]*corev1.Pod) error {
	newRS, oldRSs, err := c.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false, live(pods))
	if err != nil {
		return err
	}
	return c.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// sync sizes the ReplicaSets without rolling out: the Deployment is
// paused, or only spec.replicas changed.
func (c *Controller) sync(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, pods map[types.UID][]*corev1.Pod) error {
	newRS, oldRSs, err := c.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false, live(pods))
	if err != nil {
		return err
	}
	if err := c.scale(ctx, d, newRS, oldRSs); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanupDeployment(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return c.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// checkPausedConditions marks a paused Deployment's progress Unknown
// (and a resumed one's again), so the progress deadline does not count
// the pause.
func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == reasonTimedOut {
		// A reported failure stays reported.
		return nil
	}
	pausedCond := cond != nil && cond.Reason == reasonPaused
	now := c.clock.Now()
	switch {
	case d.Spec.Paused && !pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused", now))
	case !d.Spec.Paused && pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed", now))
	default:
		return nil
	}
	return c.updateStatus(ctx, d)
}

// isScalingEvent: an active ReplicaSet was sized for another
// spec.replicas than the Deployment now has, so the change is a resize,
// not a new rollout.
func (c *Controller) isScalingEvent(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, pods map[types.UID][]*corev1.Pod) (bool, error) {
	newRS, oldRSs, err := c.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false, live(pods))
	if err != nil {
		return false, err
	}
	for _, rs := range activeReplicaSets(append(oldRSs, newRS)) {
		desired, ok := intAnnotation(rs, desiredReplicasAnnotation)
		if ok && desired != *d.Spec.Replicas {
			return true, nil
		}
	}
	return false, nil
}

// findNewReplicaSet is the ReplicaSet whose template is the Deployment's;
// should there be several (upstream kubernetes#40415), the oldest.
func findNewReplicaSet(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	sorted := append([]*appsv1.ReplicaSet(nil), rsList...)
	sort.Sort(byCreation(sorted))
	for _, rs := range sorted {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

// findOldReplicaSets is every ReplicaSet but the new one.
func findOldReplicaSets(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	newRS := findNewReplicaSet(d, rsList)
	var old []*appsv1.ReplicaSet
	for _, rs := range rsList {
		if newRS != nil && rs.UID == newRS.UID {
			continue
		}
		old = append(old, rs)
	}
	return old
}

// getAllReplicaSetsAndSyncRevision splits the ReplicaSets into the new one
// (created if asked and missing) and the old ones, and brings the new
// one's revision and annotations, and the Deployment's revision, up to
// date.
func (c *Controller) getAllReplicaSetsAndSyncRevision(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool, live livePods) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	oldRSs := findOldReplicaSets(d, rsList)
	newRS, err := c.getNewReplicaSet(ctx, d, rsList, oldRSs, create, live)
	if err != nil {
		return nil, nil, err
	}
	return newRS, oldRSs, nil
}

func (c *Controller) getNewReplicaSet(ctx context.Context, d *appsv1.Deployment, rsList, oldRSs []*appsv1.ReplicaSet, create bool, live livePods) (*appsv1.ReplicaSet, error) {
	existing := findNewReplicaSet(d, rsList)
	newRevision := strconv.FormatInt(maxRevision(oldRSs)+1, 10)
	now := c.clock.Now()

	if existing != nil {
		rs := existing.DeepCopy()
		annotationsChanged := setNewReplicaSetAnnotations(d, rs, newRevision, true)
		if annotationsChanged || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
			if err != nil {
				return nil, err
			}
			c.log.Info("updated new replica set", "deployment", d.Namespace+"/"+d.Name, "replicaset", rs.Name, "revision", rs.Annotations[revisionAnnotation])
			// Later steps of this sync read rsList again: let them see
			// this write rather than conflict with it.
			for i := range rsList {
				if rsList[i].UID == updated.UID {
					rsList[i] = updated
				}
			}
			return updated, nil
		}
		needsUpdate := setDeploymentRevision(d, rs.Annotations[revisionAnnotation])
		// A Deployment that never had a Progressing condition (it got a
		// deadline only now) starts counting from this sync.
		if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewRS,
				fmt.Sprintf("Found new replica set %q", rs.Name), now))
			needsUpdate = true
		}
		if needsUpdate {
			if err := c.updateStatus(ctx, d); err != nil {
				return nil, err
			}
		}
		return rs, nil
	}
	if !create {
		return nil, nil
	}

	template := *d.Spec.Template.DeepCopy()
	hash := computeHash(&template, d.Status.CollisionCount)
	template.Labels = withLabel(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	selector := d.Spec.Selector.DeepCopy()
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	newRS := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*ownerref.NewControllerRef(d, controllerKind)},
			Labels:          template.Labels,
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        new(int32),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        template,
		},
	}
	size, err := newReplicaSetReplicas(d, append(oldRSs, newRS), newRS, live)
	if err != nil {
		return nil, err
	}
	*newRS.Spec.Replicas = size
	setNewReplicaSetAnnotations(d, newRS, newRevision, false)

	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, newRS, metav1.CreateOptions{})
	alreadyExists := false
	switch {
	case apierrors.IsAlreadyExists(err):
		alreadyExists = true
		rs, getErr := c.rsLister.ReplicaSets(newRS.Namespace).Get(newRS.Name)
		if getErr != nil {
			return nil, getErr
		}
		// Ours, with this template: a sync before a restart made it and
		// the cache had not shown it when we looked.
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &rs.Spec.Template) {
			created, err = rs, nil
			break
		}
		// Someone else's under this name: hash differently next time.
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		if uerr := c.updateStatus(ctx, d); uerr == nil {
			c.log.Info("hash collision, bumped collisionCount", "deployment", d.Namespace+"/"+d.Name, "replicaset", newRS.Name, "collisionCount", *d.Status.CollisionCount)
		}
		return nil, err
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", newRS.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonFailedRSCreate, msg, now))
			// Best effort: the create error is what gets retried.
			_ = c.updateStatus(ctx, d)
		}
		c.recorder.Event(d, corev1.EventTypeWarning, reasonFailedRSCreate, msg)
		return nil, err
	}
	if !alreadyExists {
		c.log.Info("created new replica set", "deployment", d.Namespace+"/"+d.Name, "replicaset", created.Name, "revision", newRevision, "replicas", size)
		if size > 0 {
			c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, size)
		}
	}
	needsUpdate := setDeploymentRevision(d, newRevision)
	if !alreadyExists && hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", created.Name), now))
		needsUpdate = true
	}
	if needsUpdate {
		if err := c.updateStatus(ctx, d); err != nil {
			return created, err
		}
	}
	return created, nil
}

func withLabel(l map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(l)+1)
	for lk, lv := range l {
		out[lk] = lv
	}
	out[k] = v
	return out
}

// scale sizes the ReplicaSets for spec.replicas without rolling out: the
// single active one (or the newest) takes all; during a rollout the new
// size is spread in proportion to the sizes they were scaled for.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	if rs := activeOrLatest(newRS, oldRSs); rs != nil {
		if replicasOf(rs) == *d.Spec.Replicas {
			return nil
		}
		_, _, err := c.scaleReplicaSetAndRecordEvent(ctx, rs, *d.Spec.Replicas, d)
		return err
	}
	// A saturated new ReplicaSet (e.g. just adopted) leaves nothing for
	// the old ones.
	if isSaturated(d, newRS) {
		for _, old := range activeReplicaSets(oldRSs) {
			if _, _, err := c.scaleReplicaSetAndRecordEvent(ctx, old, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := activeReplicaSets(append(oldRSs, newRS))
	allowed := int32(0)
	if *d.Spec.Replicas > 0 {
		allowed = *d.Spec.Replicas + maxSurge(d)
	}
	toAdd := allowed - specReplicas(all)
	op := ""
	switch {
	case toAdd > 0:
		sort.Sort(bySizeNewer(all))
		op = "up"
	case toAdd < 0:
		sort.Sort(bySizeOlder(all))
		op = "down"
	}
	sizes := make([]int32, len(all))
	added := int32(0)
	for i, rs := range all {
		sizes[i] = replicasOf(rs)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	for i, rs := range all {
		// Rounding leftovers go to the largest ReplicaSet.
		if i == 0 && toAdd != 0 {
			sizes[0] = max(sizes[0]+toAdd-added, 0)
		}
		if _, _, err := c.scaleReplicaSet(ctx, rs, sizes[i], d, op); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) scaleReplicaSetAndRecordEvent(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	if replicasOf(rs) == size {
		return false, rs, nil
	}
	op := "down"
	if replicasOf(rs) < size {
		op = "up"
	}
	return c.scaleReplicaSet(ctx, rs, size, d, op)
}

// scaleReplicaSet sets a ReplicaSet's size and its desired/max replica
// annotations (which record the Deployment size it was scaled for).
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment, op string) (bool, *appsv1.ReplicaSet, error) {
	sizeChanged := replicasOf(rs) != size
	maxReplicas := *d.Spec.Replicas + maxSurge(d)
	if !sizeChanged && !replicasAnnotationsNeedUpdate(rs, *d.Spec.Replicas, maxReplicas) {
		return false, rs, nil
	}
	from := replicasOf(rs)
	cp := rs.DeepCopy()
	cp.Spec.Replicas = &size
	setReplicasAnnotations(cp, *d.Spec.Replicas, maxReplicas)
	updated, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, err
	}
	if !sizeChanged {
		return false, updated, nil
	}
	c.log.Info("scaled replica set", "deployment", d.Namespace+"/"+d.Name, "replicaset", rs.Name, "from", from, "to", size)
	c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, rs.Name, from, size)
	return true, updated, nil
}

// cleanupDeployment deletes the oldest old ReplicaSets beyond
// revisionHistoryLimit, only those with no pods left.
func (c *Controller) cleanupDeployment(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var cleanable []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			cleanable = append(cleanable, rs)
		}
	}
	diff := len(cleanable) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	sort.Sort(byRevision(cleanable))
	for _, rs := range cleanable[:diff] {
		// Only empty ones, and only once their controller has seen the
		// scale-down (it might still be creating pods otherwise).
		if rs.Status.Replicas != 0 || replicasOf(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		if err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		c.log.Info("deleted old replica set beyond revisionHistoryLimit", "deployment", d.Namespace+"/"+d.Name, "replicaset", rs.Name)
	}
	return nil
}

// syncDeploymentStatus writes the counts and Available condition when
// they changed.
func (c *Controller) syncDeploymentStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := calculateStatus(all, newRS, d, c.clock.Now())
	if reflect.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return c.updateStatus(ctx, d)
}

// calculateStatus derives the Deployment's status from its ReplicaSets.
func calculateStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment, now time.Time) appsv1.DeploymentStatus {
	available := availableReplicas(all)
	unavailable := max(specReplicas(all)-available, 0)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            statusReplicas(all),
		UpdatedReplicas:     statusReplicas([]*appsv1.ReplicaSet{newRS}),
		ReadyReplicas:       readyReplicas(all),
		AvailableReplicas:   available,
		UnavailableReplicas: unavailable,
		CollisionCount:      d.Status.CollisionCount,
	}
	st.Conditions = append(st.Conditions, d.Status.Conditions...)
	if available >= *d.Spec.Replicas-maxUnavailable(d) {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinimumAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinimumNotAvailable, "Deployment does not have minimum availability.", now))
	}
	return st
}

// updateStatus writes d's status and refreshes d with what the server
// stored. The controller also keeps the Deployment's revision annotation
// current through this call, as kube-apiserver's (and Skiff's) status
// strategy lets it: it resets only spec and labels there.
func (c *Controller) updateStatus(ctx context.Context, d *appsv1.Deployment) error {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*d = *updated
	return nil
}
