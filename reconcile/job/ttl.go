package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// ttlLeft is how long a finished Job with ttlSecondsAfterFinished has
// before it is deleted (≤ 0: now). ok is false when the Job is not to be
// deleted this way: no TTL, not finished, already being deleted, or no
// finish time to count from.
func ttlLeft(job *batchv1.Job, now time.Time) (left time.Duration, ok bool) {
	if job.DeletionTimestamp != nil || job.Spec.TTLSecondsAfterFinished == nil {
		return 0, false
	}
	cond := terminalCondition(job)
	if cond == nil || cond.LastTransitionTime.IsZero() {
		return 0, false
	}
	expireAt := cond.LastTransitionTime.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second)
	return expireAt.Sub(now), true
}

// expireFinished deletes a finished Job whose ttlSecondsAfterFinished has
// passed, or schedules a sync for when it will — kube-controller-manager's
// ttl-after-finished controller, folded into this one. The TTL is checked
// again on a fresh read, since a user may have just changed it, and the
// delete is conditional on the UID and cascades in the foreground, so the
// Job disappears only after its pods.
func (c *Controller) expireFinished(ctx context.Context, job *batchv1.Job) error {
	left, ok := ttlLeft(job, c.clock.Now())
	if !ok {
		return nil
	}
	if left > 0 {
		c.queue.AddAfter(key(job), left)
		return nil
	}
	fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if left, ok = ttlLeft(fresh, c.clock.Now()); !ok {
		return nil
	}
	if left > 0 {
		c.queue.AddAfter(key(fresh), left)
		return nil
	}
	err = c.client.BatchV1().Jobs(fresh.Namespace).Delete(ctx, fresh.Name, metav1.DeleteOptions{
		PropagationPolicy: ptr.To(metav1.DeletePropagationForeground),
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete expired job %s: %w", key(fresh), err)
	}
	c.log.Info("deleted finished job: ttlSecondsAfterFinished passed", "job", key(fresh), "ttlSeconds", *fresh.Spec.TTLSecondsAfterFinished)
	return nil
}
