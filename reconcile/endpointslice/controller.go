package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/reconcile/endpointslice/servicepods"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

const (
	// workers is kube-controller-manager's --concurrent-service-endpoint-syncs.
	workers = 5
	// podBatchDelay coalesces the burst of pod events a rollout or a
	// probe flap makes into one sync per Service, while keeping the
	// delay far below a readiness probe's period.
	podBatchDelay = 100 * time.Millisecond
	// sliceChangeDelay is how long a sync waits after someone else
	// changed a managed slice, as upstream's endpointSliceChangeMinSyncDelay:
	// a tool rewriting slices in a loop must not make this controller
	// fight it at full speed.
	sliceChangeDelay = time.Second
	// staleCacheWarnRetries is how many stale-cache retries in a row
	// (about 2.5s of back-off) pass quietly before each is logged.
	staleCacheWarnRetries = 8
)

// errStaleCache: the informer has not shown this controller's own last
// writes yet; the sync is retried shortly.
var errStaleCache = errors.New("endpointslice informer cache is behind this controller's writes")

// Controller keeps the EndpointSlices of every Service with a selector.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	recorder record.EventRecorder

	services corelisters.ServiceLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	tracker  *sliceTracker
	triggers *servicepods.TriggerTimes

	maxPerSlice int
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	c := &Controller{
		client:      d.Client,
		log:         d.Logger.With("controller", "endpointslice"),
		recorder:    d.Recorder("endpoint-slice-controller"),
		tracker:     newSliceTracker(),
		triggers:    servicepods.NewTriggerTimes(),
		maxPerSlice: MaxEndpointsPerSlice,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 2*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpointslice", Clock: d.Clock},
		),
	}
	core := d.Informers.Core().V1()
	svcInf, podInf, nodeInf := core.Services(), core.Pods(), core.Nodes()
	sliceInf := d.Informers.Discovery().V1().EndpointSlices()
	c.services, c.pods, c.nodes, c.slices = svcInf.Lister(), podInf.Lister(), nodeInf.Lister(), sliceInf.Lister()

	regs := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueService,
			UpdateFunc: func(_, cur any) { c.enqueueService(cur) },
			DeleteFunc: c.enqueueService,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onPod,
			UpdateFunc: c.onPodUpdate,
			DeleteFunc: c.onPod,
		}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onNode,
			UpdateFunc: c.onNodeUpdate,
			DeleteFunc: c.onNode,
		}},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onSlice,
			UpdateFunc: c.onSliceUpdate,
			DeleteFunc: c.onSliceDelete,
		}},
	}
	for _, r := range regs {
		reg, err := r.inf.AddEventHandler(r.h)
		if err != nil {
			return nil, fmt.Errorf("endpointslice: register informer handler: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "endpointslice" }

// Run syncs Services until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Info("controller started", "workers", workers)
	manager.RunWorkers(ctx, c.queue, workers, c.Reconcile, c.syncFailed)
	c.log.Info("controller stopped")
	return nil
}

func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	retries := c.queue.NumRequeues(key)
	switch {
	case !errors.Is(err, errStaleCache):
		// Never dropped: with no informer resync, a Service given up on
		// would keep wrong endpoints until its next event. The limiter
		// backs off to a retry every two minutes.
		c.log.Error("sync failed, will retry", "service", key, "retries", retries, "err", err)
	case retries >= staleCacheWarnRetries:
		// A cache catches up in milliseconds; one behind for seconds
		// means a write record that will never show, and the Service's
		// endpoints are stuck: say so rather than retry in silence.
		c.log.Warn("informer cache still behind this controller's writes, will retry", "service", key, "retries", retries)
	}
	return manager.Retry
}

// Reconcile brings the EndpointSlices of the Service named by key
// ("namespace/name") to what its pods call for: one step, idempotent.
func (c *Controller) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key this controller queued; nothing to retry
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.triggers.Forget(ns, name)
		// The garbage collector deletes them too, through their owner
		// reference; doing it here does not wait for it.
		err := c.deleteManaged(ctx, ns, name, "service deleted")
		c.tracker.Forget(ns, name)
		return err
	}
	if err != nil {
		return err
	}
	cached, err := c.managedSlices(ns, name)
	if err != nil {
		return err
	}
	// Checked on every path that writes: a slice this controller created
	// moments ago and the cache does not show yet would otherwise be
	// created twice, or, once the selector is gone, left behind.
	if c.tracker.Stale(svc, cached) {
		return errStaleCache
	}
	if !servicepods.Selects(svc) {
		// Endpoints of a Service without a selector are someone else's to
		// write. Slices this controller wrote while it had one would keep
		// steering traffic to pods it no longer selects (kubernetes#118376).
		return c.deleteSlices(ctx, ns, name, cached, "service has no selector")
	}

	pods, err := c.pods.Pods(ns).List(servicepods.Selector(svc))
	if err != nil {
		return err
	}
	// Computed on every sync, written or not, so that it measures from
	// the last change actually published.
	trigger := c.triggers.Compute(svc, pods)
	p, skipped := computePlan(planInput{
		service: svc, pods: pods, node: c.node, existing: cached,
		maxPerSlice: c.maxPerSlice, triggerTime: trigger,
	})
	if err := c.apply(ctx, svc, p); err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
			"Error updating Endpoint Slices for Service %s/%s: %v", ns, name, err)
		return err
	}
	if len(skipped) > 0 {
		return fmt.Errorf("service %s: pods %v left out until their node is known", key, skipped)
	}
	return nil
}

func (c *Controller) node(name string) *corev1.Node {
	if name == "" {
		return nil
	}
	n, err := c.nodes.Get(name)
	if err != nil {
		return nil
	}
	return n
}

// managedSlices are the cached slices of a Service written by this
// controller and not being deleted (a slice held by a finalizer must not
// keep the Service from being reconciled).
func (c *Controller) managedSlices(ns, name string) ([]*discoveryv1.EndpointSlice, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: ManagedBy})
	all, err := c.slices.EndpointSlices(ns).List(sel)
	if err != nil {
		return nil, err
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(all))
	for _, s := range all {
		if s.DeletionTimestamp == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func (c *Controller) deleteManaged(ctx context.Context, ns, name, why string) error {
	ss, err := c.managedSlices(ns, name)
	if err != nil {
		return err
	}
	return c.deleteSlices(ctx, ns, name, ss, why)
}

func (c *Controller) deleteSlices(ctx context.Context, ns, name string, ss []*discoveryv1.EndpointSlice, why string) error {
	var errs []error
	for _, s := range ss {
		if err := c.deleteSlice(ctx, s); err != nil {
			errs = append(errs, err)
			continue
		}
		c.log.Info("endpointslice deleted", "namespace", ns, "service", name, "endpointslice", s.Name, "reason", why)
	}
	return errors.Join(errs...)
}

// deleteSlice deletes exactly the slice seen (a UID precondition), so a
// slice recreated meanwhile under that name survives.
func (c *Controller) deleteSlice(ctx context.Context, s *discoveryv1.EndpointSlice) error {
	var pre *metav1.Preconditions
	if s.UID != "" {
		pre = &metav1.Preconditions{UID: &s.UID}
	}
	err := c.client.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: pre})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete endpointslice %s/%s: %w", s.Namespace, s.Name, err)
	}
	// Recorded even when the slice was already gone (NotFound) or
	// replaced (Conflict): either way the one seen will not come back.
	c.tracker.ExpectDeletion(s)
	return nil
}

// apply makes the plan's writes: creates, then updates, then deletes.
func (c *Controller) apply(ctx context.Context, svc *corev1.Service, p plan) error {
	api := c.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	for _, s := range p.create {
		got, err := api.Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				// Creates keep failing until the namespace is gone, and
				// its deletion takes the Service along.
				return nil
			}
			return fmt.Errorf("create endpointslice for service %s/%s: %w", svc.Namespace, svc.Name, err)
		}
		c.tracker.Wrote(got)
		c.log.Info("endpointslice created", "namespace", svc.Namespace, "service", svc.Name, "endpointslice", got.Name, "endpoints", len(got.Endpoints))
	}
	for _, s := range p.update {
		got, err := api.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update endpointslice %s/%s: %w", svc.Namespace, s.Name, err)
		}
		c.tracker.Wrote(got)
		c.log.Info("endpointslice updated", "namespace", svc.Namespace, "service", svc.Name, "endpointslice", got.Name, "endpoints", len(got.Endpoints), "ready", countReady(got))
	}
	for _, s := range p.delete {
		if err := c.deleteSlice(ctx, s); err != nil {
			return err
		}
		c.log.Info("endpointslice deleted", "namespace", svc.Namespace, "service", svc.Name, "endpointslice", s.Name)
	}
	return nil
}

func countReady(s *discoveryv1.EndpointSlice) int {
	n := 0
	for _, ep := range s.Endpoints {
		if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
			n++
		}
	}
	return n
}

func (c *Controller) enqueueService(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

func (c *Controller) enqueueAll(keys sets.Set[string], delay time.Duration) {
	for k := range keys {
		c.queue.AddAfter(k, delay)
	}
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
	c.enqueueAll(keys, podBatchDelay)
}

func (c *Controller) onPodUpdate(old, cur any) {
	keys, err := servicepods.ServicesForUpdate(c.services, old, cur)
	if err != nil {
		c.log.Error("list services for pod", "err", err)
		return
	}
	c.enqueueAll(keys, podBatchDelay)
}

// onNode resyncs the Services with pods on a node that appeared or went
// away: its pods were left out while it was unknown, and its zone shows
// in their endpoints.
func (c *Controller) onNode(obj any) {
	if n, ok := manager.EventObject[*corev1.Node](obj); ok {
		c.enqueueForNode(n.Name)
	}
}

func (c *Controller) onNodeUpdate(old, cur any) {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := cur.(*corev1.Node)
	if ok1 && ok2 && o.Labels[corev1.LabelTopologyZone] != n.Labels[corev1.LabelTopologyZone] {
		c.enqueueForNode(n.Name)
	}
}

func (c *Controller) enqueueForNode(node string) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	keys := sets.New[string]()
	for _, p := range pods {
		if p.Spec.NodeName != node {
			continue
		}
		ks, err := servicepods.ServicesFor(c.services, p.Namespace, p.Labels)
		if err != nil {
			continue
		}
		keys = keys.Union(ks)
	}
	c.enqueueAll(keys, podBatchDelay)
}

func (c *Controller) queueForSlice(s *discoveryv1.EndpointSlice) {
	if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
		c.queue.AddAfter(s.Namespace+"/"+svc, sliceChangeDelay)
	}
}

func (c *Controller) onSlice(obj any) {
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Labels[discoveryv1.LabelManagedBy] == ManagedBy && c.tracker.ShouldSync(s) {
		c.queueForSlice(s)
	}
}

func (c *Controller) onSliceUpdate(old, cur any) {
	o, ok1 := old.(*discoveryv1.EndpointSlice)
	s, ok2 := cur.(*discoveryv1.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	// Someone moved the slice to another Service or took it from (or gave
	// it to) this controller: both Services have to be looked at.
	if o.Labels[discoveryv1.LabelServiceName] != s.Labels[discoveryv1.LabelServiceName] ||
		(o.Labels[discoveryv1.LabelManagedBy] == ManagedBy) != (s.Labels[discoveryv1.LabelManagedBy] == ManagedBy) {
		c.queueForSlice(o)
		c.queueForSlice(s)
		return
	}
	c.onSlice(s)
}

func (c *Controller) onSliceDelete(obj any) {
	s, ok := manager.EventObject[*discoveryv1.EndpointSlice](obj)
	if !ok {
		return
	}
	if s.Labels[discoveryv1.LabelManagedBy] == ManagedBy && c.tracker.HandleDeletion(s) {
		c.queueForSlice(s)
	}
}
