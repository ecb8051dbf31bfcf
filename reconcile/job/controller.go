package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/expectations"
	"github.com/skiff-dev/skiff/reconcile/manager"
	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

const (
	// syncBatchPeriod gathers the pod events of one Job into one sync: a
	// Job of 100 pods starting would otherwise sync 100 times in a row.
	syncBatchPeriod = time.Second
	// workers is kube-controller-manager's --concurrent-job-syncs.
	workers = 5
	// maxUncountedPods caps status.uncountedTerminatedPods (~20 KB of
	// UIDs) and so the finalizer removals of one sync.
	maxUncountedPods = 500
	// maxPodChangesPerSync caps creations or deletions in one sync, so a
	// huge Job does not starve the others.
	maxPodChangesPerSync = 500
)

// Controller runs Jobs: it creates their pods, counts how they end, and
// writes the Job's status and conditions.
type Controller struct {
	client   kubernetes.Interface
	jobs     batchlisters.JobLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	recorder record.EventRecorder
	clock    clock.WithTicker
	log      *slog.Logger

	queue       workqueue.TypedRateLimitingInterface[string]
	orphanQueue workqueue.TypedRateLimitingInterface[string]

	expectations *expectations.Expectations
	finalizers   *finalizerExpectations
	backoff      *backoffStore
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	jobInformer := d.Informers.Batch().V1().Jobs()
	podInformer := d.Informers.Core().V1().Pods()
	c := &Controller{
		client:   d.Client,
		jobs:     jobInformer.Lister(),
		pods:     podInformer.Lister(),
		recorder: d.Recorder("job-controller"),
		clock:    d.Clock,
		log:      d.Logger.With("controller", "job"),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job", Clock: d.Clock}),
		orphanQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job_orphan_pod", Clock: d.Clock}),
		expectations: expectations.New(d.Clock),
		finalizers:   newFinalizerExpectations(),
		backoff:      newBackoffStore(),
	}
	if _, err := jobInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj, 0) },
		UpdateFunc: c.updateJob,
		DeleteFunc: c.deleteJob,
	}); err != nil {
		return nil, fmt.Errorf("job informer: %w", err)
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: func(obj any) { c.deletePod(obj, true) },
	}); err != nil {
		return nil, fmt.Errorf("pod informer: %w", err)
	}
	c.synced = []cache.InformerSynced{jobInformer.Informer().HasSynced, podInformer.Informer().HasSynced}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "job" }

// Run syncs Jobs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	defer c.orphanQueue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("job: informers did not sync")
	}
	c.log.Info("starting", "workers", workers)
	var wg sync.WaitGroup
	wg.Go(func() { manager.RunWorkers(ctx, c.orphanQueue, 1, c.syncOrphanPod, c.orphanFailed) })
	manager.RunWorkers(ctx, c.queue, workers, c.syncJob, c.syncFailed)
	wg.Wait()
	return nil
}

func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	c.log.Error("sync failed", "job", key, "err", err)
	return manager.Retry
}

func (c *Controller) orphanFailed(_ context.Context, key string, err error) manager.Failure {
	c.log.Error("releasing orphan pod failed", "pod", key, "err", err)
	return manager.Retry
}

// enqueue schedules a sync of a Job after delay. Job events sync at once;
// pod events and status updates are batched (syncBatchPeriod).
func (c *Controller) enqueue(obj any, delay time.Duration) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.queue.AddAfter(key, delay)
}

func (c *Controller) updateJob(oldObj, newObj any) {
	old, cur := oldObj.(*batchv1.Job), newObj.(*batchv1.Job)
	if cur.Generation != old.Generation {
		c.enqueue(cur, 0)
	} else {
		c.enqueue(cur, syncBatchPeriod)
	}
	// A finished Job has released its pods' finalizers; this catches any
	// left behind (a crash between the status write and the patch).
	if isFinished(cur) {
		c.releaseFinalizers(cur)
	}
	// A changed activeDeadlineSeconds needs a sync when it runs out.
	if cur.Status.StartTime != nil && cur.Spec.ActiveDeadlineSeconds != nil &&
		!ptr.Equal(old.Spec.ActiveDeadlineSeconds, cur.Spec.ActiveDeadlineSeconds) {
		left := time.Duration(*cur.Spec.ActiveDeadlineSeconds)*time.Second - c.clock.Since(cur.Status.StartTime.Time)
		c.enqueue(cur, left)
	}
}

func (c *Controller) deleteJob(obj any) {
	c.enqueue(obj, 0)
	job, ok := manager.EventObject[*batchv1.Job](obj)
	if !ok {
		return
	}
	c.releaseFinalizers(job)
}

// releaseFinalizers hands the Job's pods that still carry the tracking
// finalizer to the orphan worker, which removes it.
func (c *Controller) releaseFinalizers(job *batchv1.Job) {
	pods, err := c.pods.Pods(job.Namespace).List(selectorOrNothing(job))
	if err != nil {
		return
	}
	for _, p := range pods {
		if metav1.IsControlledBy(p, job) && hasTrackingFinalizer(p) {
			c.enqueueOrphan(p)
		}
	}
}

func (c *Controller) enqueueOrphan(pod *corev1.Pod) {
	c.orphanQueue.Add(pod.Namespace + "/" + pod.Name)
}

// jobOf returns the Job a controller reference points to, if it still
// exists with that UID.
func (c *Controller) jobOf(ns string, ref *metav1.OwnerReference) *batchv1.Job {
	return ownerref.ResolveControllerOfVersion(c.jobs.Jobs(ns), ref, jobKind)
}

// jobsSelecting returns the Jobs whose selector matches an orphan pod, to
// let them adopt it.
func (c *Controller) jobsSelecting(pod *corev1.Pod) []*batchv1.Job {
	jobs, err := c.jobs.GetPodJobs(pod)
	if err != nil {
		return nil
	}
	out := make([]*batchv1.Job, len(jobs))
	for i := range jobs {
		out[i] = &jobs[i]
	}
	return out
}

func key(job *batchv1.Job) string { return job.Namespace + "/" + job.Name }

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (a restart):
		// not the creation the Job waits for.
		c.deletePod(pod, false)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if job := c.jobOf(pod.Namespace, ref); job != nil {
			c.expectations.Observed(key(job), true)
			c.enqueue(job, syncBatchPeriod)
		} else if hasTrackingFinalizer(pod) && ref.Kind == jobKind.Kind {
			c.enqueueOrphan(pod)
		}
		return
	}
	if hasTrackingFinalizer(pod) {
		c.enqueueOrphan(pod)
	}
	for _, job := range c.jobsSelecting(pod) {
		c.enqueue(job, syncBatchPeriod)
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	old, cur := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if cur.ResourceVersion == old.ResourceVersion {
		return
	}
	if cur.DeletionTimestamp != nil {
		// Act on the start of a graceful deletion, not its end: the
		// replacement should not wait for the grace period.
		c.deletePod(cur, false)
		return
	}
	released := !hasTrackingFinalizer(cur)
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if job := c.jobOf(old.Namespace, oldRef); job != nil {
			if released {
				c.finalizers.observed(key(job), cur.UID)
			}
			c.enqueue(job, syncBatchPeriod)
		}
	}
	if curRef != nil {
		if job := c.jobOf(cur.Namespace, curRef); job != nil {
			if released {
				c.finalizers.observed(key(job), cur.UID)
			}
			c.enqueue(job, syncBatchPeriod)
		} else if hasTrackingFinalizer(cur) && curRef.Kind == jobKind.Kind {
			c.enqueueOrphan(cur)
		}
		return
	}
	if hasTrackingFinalizer(cur) {
		c.enqueueOrphan(cur)
	}
	if refChanged || !reflect.DeepEqual(cur.Labels, old.Labels) {
		for _, job := range c.jobsSelecting(cur) {
			c.enqueue(job, syncBatchPeriod)
		}
	}
}

// deletePod handles a pod going away (final) or starting to (!final).
func (c *Controller) deletePod(obj any, final bool) {
	pod, ok := manager.EventObject[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		if hasTrackingFinalizer(pod) && !final {
			c.enqueueOrphan(pod)
		}
		return
	}
	job := c.jobOf(pod.Namespace, ref)
	if job == nil || isFinished(job) {
		if hasTrackingFinalizer(pod) && !final {
			c.enqueueOrphan(pod)
		}
		return
	}
	k := key(job)
	c.expectations.Observed(k, false)
	if final || !hasTrackingFinalizer(pod) {
		c.finalizers.observed(k, pod.UID)
	}
	c.enqueue(job, syncBatchPeriod)
}

// syncOrphanPod removes the tracking finalizer from a pod no running Job
// counts any more: its Job is gone or finished, or it was released.
func (c *Controller) syncOrphanPod(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return err
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !hasTrackingFinalizer(pod) {
		return nil
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ref.Kind != jobKind.Kind || ref.APIVersion != jobKind.GroupVersion().String() {
			return nil // someone else's pod: not our finalizer to remove
		}
		job := c.jobOf(ns, ref)
		if job == nil {
			// The cache may lag: ask the API before letting go.
			fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, ref.Name, metav1.GetOptions{})
			switch {
			case err == nil && fresh.UID == ref.UID:
				job = fresh
			case err != nil && !apierrors.IsNotFound(err):
				return err
			}
		}
		if job != nil && (managedElsewhere(job) || !isFinished(job)) {
			return nil // its Job still counts it
		}
	}
	_, err = c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, removeFinalizerPatch(), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove tracking finalizer from %s: %w", k, err)
	}
	c.log.Debug("removed tracking finalizer from orphan pod", "pod", k)
	return nil
}

// finalizerExpectations remembers, per Job, the pods whose tracking
// finalizer this controller removed but whose update the informer has not
// shown yet; until it does, those pods must not be counted again.
type finalizerExpectations struct {
	mu sync.Mutex
	m  map[string]sets.Set[types.UID]
}

func newFinalizerExpectations() *finalizerExpectations {
	return &finalizerExpectations{m: map[string]sets.Set[types.UID]{}}
}

func (f *finalizerExpectations) expect(k string, uids ...types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m[k] == nil {
		f.m[k] = sets.New[types.UID]()
	}
	f.m[k].Insert(uids...)
}

func (f *finalizerExpectations) observed(k string, uid types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.m[k]; s != nil {
		s.Delete(uid)
		if s.Len() == 0 {
			delete(f.m, k)
		}
	}
}

func (f *finalizerExpectations) get(k string) sets.Set[types.UID] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[k].Clone()
}

func (f *finalizerExpectations) delete(k string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, k)
}
