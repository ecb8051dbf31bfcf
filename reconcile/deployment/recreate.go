package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// rolloutRecreate takes one step of a Recreate rollout: old ReplicaSets to
// zero, then (once no old pod runs any more) the new one to full size.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, pods map[types.UID][]*corev1.Pod) error {
	lp := live(pods)
	// No new ReplicaSet yet: it must not be created (with pods) before
	// the old pods are gone.
	newRS, oldRSs, err := c.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false, lp)
	if err != nil {
		return err
	}
	all := append(oldRSs, newRS)

	scaledDown := false
	for _, rs := range activeReplicaSets(oldRSs) {
		scaled, _, err := c.scaleReplicaSetAndRecordEvent(ctx, rs, 0, d)
		if err != nil {
			return err
		}
		scaledDown = scaledDown || scaled
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if oldPodsRunning(newRS, oldRSs, pods) {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if newRS == nil {
		if newRS, oldRSs, err = c.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, true, lp); err != nil {
			return err
		}
		all = append(oldRSs, newRS)
	}
	if _, _, err := c.scaleReplicaSetAndRecordEvent(ctx, newRS, *d.Spec.Replicas, d); err != nil {
		return err
	}
	if deploymentComplete(d, &d.Status) {
		if err := c.cleanupDeployment(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

// oldPodsRunning: an old ReplicaSet still reports pods, or one of its pods
// is not finished yet — terminating ones included, since Recreate
// promises the old and new versions never run side by side.
func oldPodsRunning(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, pods map[types.UID][]*corev1.Pod) bool {
	if statusReplicas(oldRSs) > 0 {
		return true
	}
	for uid, ps := range pods {
		if newRS != nil && newRS.UID == uid {
			continue
		}
		for _, p := range ps {
			if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}
