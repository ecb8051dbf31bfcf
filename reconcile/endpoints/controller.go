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
	"k8s.io/apimachinery/pkg/types"
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
	// staleCacheWarnRetries is how many stale-cache retries in a row
	// (about 2.5s of back-off) pass quietly before each is logged.
	staleCacheWarnRetries = 8
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
		written:  newWriteTracker(),
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
	retries := c.queue.NumRequeues(key)
	switch {
	case !errors.Is(err, errStaleCache):
		// Never dropped: there is no informer resync to bring it back.
		c.log.Error("sync failed, will retry", "service", key, "retries", retries, "err", err)
	case retries >= staleCacheWarnRetries:
		// A cache catches up in milliseconds; one behind for seconds
		// means the Service's endpoints are stuck: say so rather than
		// retry in silence.
		c.log.Warn("informer cache still behind this controller's writes, will retry", "service", key, "retries", retries)
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
		// manages the Service; they are left exactly as they are, and what
		// this controller wrote while it had one no longer matters.
		c.written.forget(key)
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
	c.written.wrote(key, got)
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
	ep, ok := manager.EventObject[*corev1.Endpoints](obj)
	if !ok {
		return
	}
	key := ep.Namespace + "/" + ep.Name
	c.written.deleted(key, ep)
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

// writeTracker remembers, per Service, the Endpoints object this
// controller last wrote (its UID and resourceVersion), so that a sync
// running before the informer has shown that write neither creates the
// object twice nor overwrites it from an old copy (which would only fail
// with a conflict, after a needless round trip). Upstream's
// staleEndpointsTracker records the version a write replaced instead;
// that cannot tell a sync following a create that the cache is behind.
//
// The record of a write is made after the API call returns, and the
// informer may deliver the object's deletion before it. The record would
// then name an object the cache will never show, and every later sync of
// the Service would find the cache behind and be retried, silently and
// with growing back-off, until the Service is recreated. So a deletion
// leaves a tombstone (the object's UID), a record landing on one is
// dropped, and tombstones are cleared when the Service's next sync
// begins: the work queue never runs two syncs of one Service at once, so
// by then every write of an earlier sync has been recorded.
type writeTracker struct {
	mu   sync.Mutex
	keys map[string]*trackedEndpoints
}

type trackedEndpoints struct {
	// written is the last write, nil once the object is known gone.
	written *writtenEndpoints
	// gone are the UIDs of objects the informer showed deleted since
	// the Service's current sync began.
	gone map[types.UID]bool
}

type writtenEndpoints struct {
	uid             types.UID
	resourceVersion string
}

func newWriteTracker() *writeTracker {
	return &writeTracker{keys: map[string]*trackedEndpoints{}}
}

func (w *writeTracker) entry(key string) *trackedEndpoints {
	e := w.keys[key]
	if e == nil {
		e = &trackedEndpoints{gone: map[types.UID]bool{}}
		w.keys[key] = e
	}
	return e
}

// wrote records the object as the API returned it after a create or
// update, unless the informer has already shown it deleted.
func (w *writeTracker) wrote(key string, got *corev1.Endpoints) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.entry(key)
	if got.UID != "" && e.gone[got.UID] {
		return
	}
	e.written = &writtenEndpoints{uid: got.UID, resourceVersion: got.ResourceVersion}
}

// deleted takes the informer's deletion of ep. An object without a UID
// (a fake client's) cannot be told from its successor and leaves no
// tombstone.
func (w *writeTracker) deleted(key string, ep *corev1.Endpoints) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.entry(key)
	if e.written != nil && e.written.uid == ep.UID {
		e.written = nil
	}
	if ep.UID != "" {
		e.gone[ep.UID] = true
	}
}

func (w *writeTracker) forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.keys, key)
}

// stale reports whether cached (nil if the cache has none) predates the
// last write. It must be called once as each sync of the Service begins,
// before the sync writes: it clears the tombstones earlier syncs needed.
// A cached object other than the one written (another UID) comes after
// it: the written one was deleted. Versions that do not compare (a fake
// client's) are trusted.
func (w *writeTracker) stale(key string, cached *corev1.Endpoints) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.keys[key]
	if e == nil {
		return false
	}
	clear(e.gone)
	switch {
	case e.written == nil:
		return false
	case cached == nil:
		return true
	case cached.UID != e.written.uid:
		return false
	}
	c, err := resourceversion.CompareResourceVersion(cached.ResourceVersion, e.written.resourceVersion)
	return err == nil && c < 0
}
