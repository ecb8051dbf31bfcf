package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/reconcile/endpointslice/servicepods"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

const (
	// workers is kube-controller-manager's --concurrent-endpoint-syncs.
	workers = 5
	// podBatchDelay coalesces bursts of pod events into one write per
	// Service, far below a readiness probe's period.
	podBatchDelay = 100 * time.Millisecond
)

// errStaleCache: the informer has not shown this controller's last write
// of the Endpoints yet; the sync is retried shortly.
var errStaleCache = errors.New("endpoints informer cache is behind this controller's writes")

// Controller keeps the Endpoints object of every Service with a selector.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	recorder record.EventRecorder

	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	triggers *servicepods.TriggerTimes
	written  *writeTracker
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	c := &Controller{
		client:   d.Client,
		log:      d.Logger.With("controller", "endpoint"),
		recorder: d.Recorder("endpoint-controller"),
		triggers: servicepods.NewTriggerTimes(),
		written:  &writeTracker{versions: map[string]string{}},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 2*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint", Clock: d.Clock},
		),
	}
	core := d.Informers.Core().V1()
	svcInf, podInf, epInf := core.Services(), core.Pods(), core.Endpoints()
	c.services, c.pods, c.endpoints = svcInf.Lister(), podInf.Lister(), epInf.Lister()
	regs := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
			DeleteFunc: c.enqueue,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onPod,
			UpdateFunc: c.onPodUpdate,
			DeleteFunc: c.onPod,
		}},
		// Only deletions: someone deleting a Service's Endpoints gets them
		// back, other changes are this controller's own or are overwritten
		// at the next pod or Service event, as upstream.
		{epInf.Informer(), cache.ResourceEventHandlerFuncs{
			DeleteFunc: c.onEndpointsDelete,
		}},
	}
	for _, r := range regs {
		reg, err := r.inf.AddEventHandler(r.h)
		if err != nil {
			return nil, fmt.Errorf("endpoint: register informer handler: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "endpoint" }

// Run syncs Services until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Info("controller started", "workers", workers)
	c.queueLeftovers()
	manager.RunWorkers(ctx, c.queue, workers, c.Reconcile, c.syncFailed)
	c.log.Info("controller stopped")
	return nil
}

// queueLeftovers syncs every existing Endpoints object once at start, so
// that those of Services deleted while no controller ran are deleted
// too. Leader-election records kept in Endpoints by old components have
// no Service and must stay.
func (c *Controller) queueLeftovers() {
	all, err := c.endpoints.List(labels.Everything())
	if err != nil {
		c.log.Error("list endpoints", "err", err)
		return
	}
	for _, ep := range all {
		if _, ok := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]; ok {
			continue
		}
		c.queue.Add(ep.Namespace + "/" + ep.Name)
	}
}

func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	if !errors.Is(err, errStaleCache) {
		// Never dropped: there is no informer resync to bring it back.
		c.log.Error("sync failed, will retry", "service", key, "retries", c.queue.NumRequeues(key), "err", err)
	}
	return manager.Retry
}

// Reconcile brings the Endpoints of the Service named by key
// ("namespace/name") to what its pods call for.
func (c *Controller) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key this controller queued; nothing to retry
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Endpoints have no owner reference: the garbage collector would
		// never delete them.
		c.triggers.Forget(ns, name)
		c.written.forget(key)
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err == nil {
			c.log.Info("endpoints deleted", "namespace", ns, "service", name, "reason", "service deleted")
			return nil
		}
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("delete endpoints %s: %w", key, err)
	}
	if err != nil {
		return err
	}
	if !servicepods.Selects(svc) {
		// Endpoints of a Service without a selector are written by whoever
		// manages the Service; they are left exactly as they are.
		return nil
	}
	pods, err := c.pods.Pods(ns).List(servicepods.Selector(svc))
	if err != nil {
		return err
	}
	trigger := c.triggers.Compute(svc, pods)
	subsets, nReady, nNotReady := desiredSubsets(svc, pods)
	truncated := truncate(subsets)

	cur, err := c.endpoints.Endpoints(ns).Get(name)
	create := apierrors.IsNotFound(err)
	if err != nil && !create {
		return err
	}
	if c.written.stale(key, cur) {
		return errStaleCache
	}
	wantLabels := endpointsLabels(svc)
	if !create && subsetsEqual(cur.Subsets, subsets) && maps.Equal(cur.Labels, wantLabels) &&
		(cur.Annotations[corev1.EndpointsOverCapacity] == overCapacityTruncated) == truncated {
		return nil
	}

	next := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if !create {
		next = cur.DeepCopy()
	}
	next.Subsets = subsets
	next.Labels = wantLabels
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	if trigger.IsZero() {
		delete(next.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		next.Annotations[corev1.EndpointsLastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
	}
	if truncated {
		next.Annotations[corev1.EndpointsOverCapacity] = overCapacityTruncated
	} else {
		delete(next.Annotations, corev1.EndpointsOverCapacity)
	}

	api := c.client.CoreV1().Endpoints(ns)
	var got *corev1.Endpoints
	if create {
		got, err = api.Create(ctx, next, metav1.CreateOptions{})
	} else {
		got, err = api.Update(ctx, next, metav1.UpdateOptions{})
	}
	if err != nil {
		if create && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			// Creates fail until the namespace is gone, Service and all.
			return nil
		}
		reason, verb := "FailedToUpdateEndpoint", "update"
		if create {
			reason, verb = "FailedToCreateEndpoint", "create"
		}
		c.recorder.Eventf(next, corev1.EventTypeWarning, reason, "Failed to %s endpoint %s/%s: %v", verb, ns, name, err)
		return fmt.Errorf("%s endpoints %s: %w", verb, key, err)
	}
	c.written.wrote(key, got.ResourceVersion)
	c.log.Info("endpoints written", "namespace", ns, "service", name, "created", create,
		"ready", nReady, "notReady", nNotReady, "truncated", truncated)
	return nil
}

// endpointsLabels are the Service's labels, plus the headless marker
// proxies use to skip Services without a cluster IP.
func endpointsLabels(svc *corev1.Service) map[string]string {
	out := maps.Clone(svc.Labels)
	if out == nil {
		out = map[string]string{}
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[corev1.IsHeadlessService] = ""
	} else {
		delete(out, corev1.IsHeadlessService)
	}
	return out
}

// subsetEquality compares subsets as the API returns them: nil and empty
// lists alike, and pod references without their resourceVersion (a pod
// changes all the time without its address changing).
var subsetEquality = conversion.EqualitiesOrDie(func(a, b corev1.ObjectReference) bool {
	a.ResourceVersion, b.ResourceVersion = "", ""
	return a == b
})

func subsetsEqual(a, b []corev1.EndpointSubset) bool {
	return subsetEquality.DeepEqual(a, b)
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

func (c *Controller) onEndpointsDelete(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.written.forget(key)
	c.queue.Add(key)
}

func (c *Controller) onPod(obj any) {
	pod := servicepods.PodFromEvent(obj)
	if pod == nil {
		return
	}
	keys, err := servicepods.ServicesFor(c.services, pod.Namespace, pod.Labels)
	if err != nil {
		c.log.Error("list services for pod", "namespace", pod.Namespace, "pod", pod.Name, "err", err)
		return
	}
	for k := range keys {
		c.queue.AddAfter(k, podBatchDelay)
	}
}

func (c *Controller) onPodUpdate(old, cur any) {
	keys, err := servicepods.ServicesForUpdate(c.services, old, cur)
	if err != nil {
		c.log.Error("list services for pod", "err", err)
		return
	}
	for k := range keys {
		c.queue.AddAfter(k, podBatchDelay)
	}
}

// writeTracker remembers the resourceVersion of each Endpoints object
// this controller last wrote, so that a sync running before the informer
// has shown that write neither creates the object twice nor overwrites it
// from an old copy (which would only fail with a conflict, after a
// needless round trip).
type writeTracker struct {
	mu       sync.Mutex
	versions map[string]string
}

func (w *writeTracker) wrote(key, rv string) {
	w.mu.Lock()
	w.versions[key] = rv
	w.mu.Unlock()
}

func (w *writeTracker) forget(key string) {
	w.mu.Lock()
	delete(w.versions, key)
	w.mu.Unlock()
}

// stale reports whether cached (nil if the cache has none) predates the
// last write. Versions that do not compare (a fake client's) are trusted.
func (w *writeTracker) stale(key string, cached *corev1.Endpoints) bool {
	w.mu.Lock()
	rv, ok := w.versions[key]
	w.mu.Unlock()
	if !ok {
		return false
	}
	if cached == nil {
		return true
	}
	c, err := resourceversion.CompareResourceVersion(cached.ResourceVersion, rv)
	return err == nil && c < 0
}
