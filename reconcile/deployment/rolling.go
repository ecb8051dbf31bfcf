package deployment

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// rolloutRolling takes one step of a rolling update: scale the new
// ReplicaSet up if the surge allows, else scale old ones down if
// availability allows, then write status.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, pods map[types.UID][]*corev1.Pod) error {
	lp := live(pods)
	newRS, oldRSs, err := c.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, true, lp)
	if err != nil {
		return err
	}
	all := append(oldRSs, newRS)

	scaledUp, err := c.reconcileNewReplicaSet(ctx, all, newRS, d, lp)
	if err != nil {
		return err
	}
	if scaledUp {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	scaledDown, err := c.reconcileOldReplicaSets(ctx, all, activeReplicaSets(oldRSs), newRS, d)
	if err != nil {
		return err
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if deploymentComplete(d, &d.Status) {
		if err := c.cleanupDeployment(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

// reconcileNewReplicaSet grows the new ReplicaSet toward spec.replicas
// within the surge (or shrinks it to spec.replicas).
func (c *Controller) reconcileNewReplicaSet(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment, lp livePods) (bool, error) {
	want := *d.Spec.Replicas
	if replicasOf(newRS) == want {
		return false, nil
	}
	if replicasOf(newRS) > want {
		scaled, _, err := c.scaleReplicaSetAndRecordEvent(ctx, newRS, want, d)
		return scaled, err
	}
	size, err := newReplicaSetReplicas(d, all, newRS, lp)
	if err != nil {
		return false, err
	}
	scaled, _, err := c.scaleReplicaSetAndRecordEvent(ctx, newRS, size, d)
	return scaled, err
}

// reconcileOldReplicaSets shrinks old ReplicaSets as far as availability
// allows: first their unhealthy pods (removing those costs nothing), then
// healthy ones while at least replicas-maxUnavailable stay available.
func (c *Controller) reconcileOldReplicaSets(ctx context.Context, all, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	if specReplicas(oldRSs) == 0 {
		return false, nil
	}
	allPods := specReplicas(all)
	minAvailable := *d.Spec.Replicas - maxUnavailable(d)
	newUnavailable := replicasOf(newRS)
	if newRS != nil {
		newUnavailable -= newRS.Status.AvailableReplicas
	}
	// What may go without dropping below minAvailable, counting the new
	// ReplicaSet's pods that are not available yet as not there: they
	// must not pay for removing available old ones. Sizes, not status,
	// so a scale-down whose pods are still being deleted counts as done.
	maxScaledDown := allPods - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}
	oldRSs, cleaned, err := c.cleanupUnhealthyReplicas(ctx, oldRSs, d, maxScaledDown)
	if err != nil {
		// Retried on the next sync; the status write should still happen.
		c.log.Info("cleaning up unhealthy replicas failed", "deployment", d.Namespace+"/"+d.Name, "err", err)
		return false, nil
	}
	scaled, err := c.scaleDownOldReplicaSetsForRollingUpdate(ctx, append(oldRSs, newRS), oldRSs, d)
	if err != nil {
		c.log.Info("scaling down old replica sets failed", "deployment", d.Namespace+"/"+d.Name, "err", err)
		return false, nil
	}
	return cleaned+scaled > 0, nil
}

// cleanupUnhealthyReplicas scales old ReplicaSets down by their
// unavailable pods, oldest first, at most maxCleanup in all. The
// replicaset controller deletes not-ready pods first, so this never
// lowers availability.
func (c *Controller) cleanupUnhealthyReplicas(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment, maxCleanup int32) ([]*appsv1.ReplicaSet, int32, error) {
	sort.Sort(byCreation(oldRSs))
	var total int32
	for i, rs := range oldRSs {
		if total >= maxCleanup {
			break
		}
		if replicasOf(rs) == 0 || replicasOf(rs) == rs.Status.AvailableReplicas {
			continue
		}
		down := min(maxCleanup-total, replicasOf(rs)-rs.Status.AvailableReplicas)
		size := replicasOf(rs) - down
		if size > replicasOf(rs) {
			return nil, 0, fmt.Errorf("cleaning up unhealthy replicas: invalid request to scale %s/%s from %d to %d", rs.Namespace, rs.Name, replicasOf(rs), size)
		}
		_, updated, err := c.scaleReplicaSetAndRecordEvent(ctx, rs, size, d)
		if err != nil {
			return nil, total, err
		}
		total += down
		oldRSs[i] = updated
	}
	return oldRSs, total, nil
}

// scaleDownOldReplicaSetsForRollingUpdate scales old ReplicaSets down,
// oldest first, by as many pods as are available beyond minAvailable.
func (c *Controller) scaleDownOldReplicaSetsForRollingUpdate(ctx context.Context, all, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) (int32, error) {
	minAvailable := *d.Spec.Replicas - maxUnavailable(d)
	available := availableReplicas(all)
	if available <= minAvailable {
		return 0, nil
	}
	sort.Sort(byCreation(oldRSs))
	var total int32
	toScaleDown := available - minAvailable
	for _, rs := range oldRSs {
		if total >= toScaleDown {
			break
		}
		if replicasOf(rs) == 0 {
			continue
		}
		down := min(replicasOf(rs), toScaleDown-total)
		size := replicasOf(rs) - down
		if _, _, err := c.scaleReplicaSetAndRecordEvent(ctx, rs, size, d); err != nil {
			return total, err
		}
		total += down
	}
	return total, nil
}
