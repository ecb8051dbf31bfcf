package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// claimPods returns the pods the Job controls: those with its controller
// reference that its selector still matches, plus matching orphans it
// adopts (adding the tracking finalizer, as a pod it created would have).
// Returned pods point into the informer cache: read only.
func (c *Controller) claimPods(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s: selector: %w", key(job), err)
	}
	all, err := c.pods.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	objs := make([]metav1.Object, len(all))
	for i, p := range all {
		objs[i] = p
	}
	claimer := &ownerref.Claimer{
		Owner:    job,
		Selector: sel,
		CanAdopt: func(ctx context.Context) error {
			fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if fresh.UID != job.UID {
				return fmt.Errorf("job %s was replaced (uid %s, want %s)", key(job), fresh.UID, job.UID)
			}
			if fresh.DeletionTimestamp != nil {
				return fmt.Errorf("job %s is being deleted", key(job))
			}
			return nil
		},
		Adopt: func(ctx context.Context, o metav1.Object) error {
			_, err := c.client.CoreV1().Pods(job.Namespace).Patch(ctx, o.GetName(), types.StrategicMergePatchType, adoptPatch(job, o.GetUID()), metav1.PatchOptions{})
			return err
		},
		Release: func(ctx context.Context, o metav1.Object) error {
			_, err := c.client.CoreV1().Pods(job.Namespace).Patch(ctx, o.GetName(), types.StrategicMergePatchType, ownerref.ReleasePatch(job.UID, o.GetUID()), metav1.PatchOptions{})
			return err
		},
	}
	claimed, claimErr := claimer.Claim(ctx, objs)
	pods := make([]*corev1.Pod, 0, len(claimed))
	for _, o := range claimed {
		p := o.(*corev1.Pod)
		if !metav1.IsControlledBy(p, job) && !hasTrackingFinalizer(p) {
			// Just adopted: the cache does not show the patch yet.
			p = p.DeepCopy()
			p.Finalizers = append(p.Finalizers, batchv1.JobTrackingFinalizer)
		}
		pods = append(pods, p)
	}
	return pods, claimErr
}

// adoptPatch makes job the controller of the pod with uid and adds the
// tracking finalizer, in one strategic merge patch (finalizers merge as a
// set, so other finalizers stay).
func adoptPatch(job *batchv1.Job, uid types.UID) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []metav1.OwnerReference{*ownerref.NewControllerRef(job, jobKind)},
		"uid":             uid,
		"finalizers":      []string{batchv1.JobTrackingFinalizer},
	}})
	return b
}

// manageJob creates or deletes pods so that the number running matches
// what the Job still needs, and returns how many are active afterwards.
// It either creates or deletes in one sync, never both.
func (c *Controller) manageJob(ctx context.Context, st *state) (int32, error) {
	job, k := st.job, st.key
	active := int32(len(st.active))
	if suspended(job) {
		rm := podsForRemoval(job, st.active, len(st.active))
		c.expectations.Expect(k, 0, len(rm))
		ready, n, err := c.deletePods(ctx, job, k, rm, true)
		st.nTerminating += n
		st.ready -= ready
		return active - n, err
	}
	parallelism := ptr.Deref(job.Spec.Parallelism, 1)
	var want int32
	if job.Spec.Completions == nil {
		// A work queue: once one pod succeeded, the others finish their
		// share; nothing new starts.
		want = parallelism
		if st.succeeded > 0 {
			want = active
		}
	} else {
		want = min(max(*job.Spec.Completions-st.succeeded, 0), parallelism)
	}
	rm := podsForRemoval(job, st.active, int(max(active-want, 0)))
	if len(rm) > maxPodChangesPerSync {
		rm = rm[:maxPodChangesPerSync]
	}
	if len(rm) > 0 {
		c.expectations.Expect(k, 0, len(rm))
		c.log.Debug("too many pods running", "job", k, "deleting", len(rm), "want", want)
		ready, n, err := c.deletePods(ctx, job, k, rm, true)
		st.nTerminating += n
		st.ready -= ready
		return active - n, err
	}
	var stillTerminating int32
	if onlyReplaceFailed(job) {
		stillTerminating = st.nTerminating
	}
	diff := want - stillTerminating - active
	if diff <= 0 {
		return active, nil
	}
	now := c.clock.Now()
	if left := st.backoff.remaining(now); left > 0 && !perIndex(job) {
		c.log.Debug("replacement pods wait for the failure back-off", "job", k, "wait", left)
		c.queue.AddAfter(k, max(left, syncBatchPeriod))
		return active, nil
	}
	diff = min(diff, maxPodChangesPerSync)
	var indexes []int
	if isIndexed(job) {
		var terminating []*corev1.Pod
		if onlyReplaceFailed(job) {
			terminating = st.terminating
		}
		indexes = pendingIndexes(job, st.indexes.merge(st.failedIndexes), st.active, terminating, int(diff))
		if perIndex(job) {
			// Each index backs off on its own failures.
			var ready []int
			var wait time.Duration
			for _, ix := range indexes {
				if left := indexBackoff(st.lastFailed[ix], now); left == 0 {
					ready = append(ready, ix)
				} else if wait == 0 || left < wait {
					wait = left
				}
			}
			if len(ready) == 0 && wait > 0 {
				c.queue.AddAfter(k, max(wait, syncBatchPeriod))
			}
			indexes = ready
		}
		diff = int32(len(indexes))
		if diff == 0 {
			return active, nil
		}
	}
	c.expectations.Expect(k, int(diff), 0)
	created, err := c.createPods(ctx, st, int(diff), indexes)
	return active + int32(created), err
}

// podsForRemoval picks at least n of the active pods to delete (an
// Indexed Job's duplicates and invalid indexes always go), the least
// advanced first.
func podsForRemoval(job *batchv1.Job, active []*corev1.Pod, n int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if isIndexed(job) {
		rm, left = duplicateIndexPods(job, active)
	} else {
		left = slices.Clone(active)
	}
	if len(rm) < n {
		sortForRemoval(left)
		rm = append(rm, left[:n-len(rm)]...)
	}
	return rm
}

// createPods creates n pods (for the given indexes of an Indexed Job) in
// batches of 1, 2, 4…: when creation fails — a quota, an admission
// webhook — it fails after one request, not n.
func (c *Controller) createPods(ctx context.Context, st *state, n int, indexes []int) (int, error) {
	job, k := st.job, st.key
	created := 0
	var errs []error
	for size := min(n, 1); n > 0; size = min(2*size, n) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		failed, stop := 0, false
		for range size {
			ix := noIndex
			if len(indexes) > 0 {
				ix, indexes = indexes[0], indexes[1:]
			}
			var extra map[string]string
			if ix != noIndex && perIndex(job) {
				extra = replacementAnnotations(job, st.lastFailed[ix])
			}
			wg.Go(func() {
				err := c.createPod(ctx, job, ix, extra)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					created++
					return
				}
				// This creation will never be observed.
				c.expectations.Lower(k, 1, 0)
				failed++
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					stop = true // every further creation fails the same way
					return
				}
				errs = append(errs, err)
			})
		}
		wg.Wait()
		n -= size
		if failed > 0 || stop {
			c.expectations.Lower(k, n, 0)
			break
		}
	}
	return created, errors.Join(errs...)
}

func (c *Controller) createPod(ctx context.Context, job *batchv1.Job, ix int, annotations map[string]string) error {
	pod := newPod(job, ix)
	if len(annotations) > 0 && pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	maps.Copy(pod.Annotations, annotations)
	out, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return fmt.Errorf("create pod for job %s: %w", key(job), err)
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", out.Name)
	c.log.Debug("created pod", "job", key(job), "pod", out.Name, "index", ix)
	return nil
}

// newPod is the pod the Job runs (for index ix of an Indexed Job): its
// template with the tracking finalizer and the Job as controller, named
// <job>-xxxxx (<job>-<index>-xxxxx).
func newPod(job *batchv1.Job, ix int) *corev1.Pod {
	tmpl := job.Spec.Template.DeepCopy()
	prefix := job.Name + "-"
	if len(prefix) > maxGeneratedNameLength {
		prefix = prefix[:maxGeneratedNameLength]
	}
	if ix != noIndex {
		addCompletionIndex(tmpl, job.Name, ix)
		prefix = indexedPodName(job.Name, ix)
	}
	finalizers := tmpl.Finalizers
	if !slices.Contains(finalizers, batchv1.JobTrackingFinalizer) {
		finalizers = append(finalizers, batchv1.JobTrackingFinalizer)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       job.Namespace,
			Labels:          tmpl.Labels,
			Annotations:     tmpl.Annotations,
			Finalizers:      finalizers,
			OwnerReferences: []metav1.OwnerReference{*ownerref.NewControllerRef(job, jobKind)},
		},
		Spec: tmpl.Spec,
	}
}

// deletePods deletes pods. With release, the tracking finalizer goes
// first: a pod removed because the Job was scaled down or suspended is
// not a finished attempt and is never counted. Without it (the Job is
// finishing), the pod stays until it is counted as failed. It returns how
// many ready pods and how many pods in all were deleted.
func (c *Controller) deletePods(ctx context.Context, job *batchv1.Job, k string, pods []*corev1.Pod, release bool) (int32, int32, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var ready, deleted int32
	var errs []error
	for _, p := range pods {
		wg.Go(func() {
			err := c.removePod(ctx, job, p, release)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if release {
					c.expectations.Lower(k, 0, 1)
				}
				if !apierrors.IsNotFound(err) {
					errs = append(errs, err)
					return
				}
			}
			deleted++
			if isReady(p) {
				ready++
			}
		})
	}
	wg.Wait()
	return ready, deleted, errors.Join(errs...)
}

func (c *Controller) removePod(ctx context.Context, job *batchv1.Job, p *corev1.Pod, release bool) error {
	pods := c.client.CoreV1().Pods(p.Namespace)
	if release && hasTrackingFinalizer(p) {
		if _, err := pods.Patch(ctx, p.Name, types.StrategicMergePatchType, removeFinalizerPatch(), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("remove tracking finalizer from %s: %w", p.Name, err)
		}
	}
	if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}}); err != nil {
		if !apierrors.IsNotFound(err) {
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		}
		return fmt.Errorf("delete pod %s: %w", p.Name, err)
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
	c.log.Debug("deleted pod", "job", key(job), "pod", p.Name)
	return nil
}

// deleteActivePods stops the pods of a Job that is finishing, keeping
// their finalizers so they are counted (as failed, unless the Job
// succeeded) before they go.
func (c *Controller) deleteActivePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) (int32, int32, error) {
	return c.deletePods(ctx, job, key(job), pods, false)
}
