package replicaset

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/reconcile/expectations"
	"github.com/skiff-dev/skiff/reconcile/manager"
	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// controllerKind is what the pods' controller references name.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

const (
	// workers is kube-controller-manager's --concurrent-replicaset-syncs.
	workers = 5
	// burstReplicas caps the creations or deletions of one sync, as
	// upstream's BurstReplicas: a 10,000-replica scale-up proceeds in
	// steps the informer can confirm rather than one unbounded burst.
	burstReplicas = 500
)

// Controller is the ReplicaSet controller.
type Controller struct {
	client    kubernetes.Interface
	log       *slog.Logger
	clock     clock.WithTicker
	recorder  record.EventRecorder
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]

	exp      *expectations.Expectations
	deleting *pendingDeletions
	burst    int
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	rsInf := d.Informers.Apps().V1().ReplicaSets()
	podInf := d.Informers.Core().V1().Pods()
	c := &Controller{
		client:    d.Client,
		log:       d.Logger.With("controller", "replicaset"),
		clock:     d.Clock,
		recorder:  d.Recorder("replicaset-controller"),
		rsLister:  rsInf.Lister(),
		podLister: podInf.Lister(),
		synced:    []cache.InformerSynced{rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "replicaset", Clock: d.Clock}),
		exp:      expectations.New(d.Clock),
		deleting: &pendingDeletions{m: map[string]map[string]bool{}},
		burst:    burstReplicas,
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addRS,
		UpdateFunc: c.updateRS,
		DeleteFunc: c.deleteRS,
	}); err != nil {
		return nil, fmt.Errorf("replicaset informer: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("pod informer: %w", err)
	}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "replicaset" }

// Run starts the workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("replicaset: caches did not sync: %w", ctx.Err())
	}
	c.log.Info("started", "workers", workers)
	manager.RunWorkers(ctx, c.queue, workers, c.Reconcile, c.syncFailed)
	return nil
}

// syncFailed: upstream retries a ReplicaSet forever, with back-off;
// giving up would leave it short of pods until something else touches it.
func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	c.log.Info("sync failed, will retry", "replicaset", key, "err", err)
	return manager.Retry
}

func (c *Controller) enqueue(rs *appsv1.ReplicaSet) {
	key, err := cache.MetaNamespaceKeyFunc(rs)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

func (c *Controller) enqueueAfter(rs *appsv1.ReplicaSet, after time.Duration) {
	key, err := cache.MetaNamespaceKeyFunc(rs)
	if err != nil {
		return
	}
	c.queue.AddAfter(key, after)
}

func (c *Controller) addRS(obj any) {
	c.enqueue(obj.(*appsv1.ReplicaSet))
}

func (c *Controller) updateRS(oldObj, curObj any) {
	old, cur := oldObj.(*appsv1.ReplicaSet), curObj.(*appsv1.ReplicaSet)
	if old.UID != cur.UID {
		// Deleted and recreated under the same name between two events:
		// the old one's expectations must not hold the new one back.
		key, err := cache.MetaNamespaceKeyFunc(old)
		if err == nil {
			c.deleteRS(cache.DeletedFinalStateUnknown{Key: key, Obj: old})
		}
	}
	c.enqueue(cur)
}

func (c *Controller) deleteRS(obj any) {
	rs, ok := manager.EventObject[*appsv1.ReplicaSet](obj)
	if !ok {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(rs)
	if err != nil {
		return
	}
	c.exp.Delete(key)
	c.deleting.forget(key)
	c.queue.Add(key)
}

// resolveControllerRef returns the ReplicaSet a controller reference
// names, if it is the one with that UID.
func (c *Controller) resolveControllerRef(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	return ownerref.ResolveControllerOfVersion(c.rsLister.ReplicaSets(ns), ref, controllerKind)
}

// matchingReplicaSets are the ReplicaSets whose selector matches an
// orphan pod: any of them may adopt it.
func (c *Controller) matchingReplicaSets(pod *corev1.Pod) []*appsv1.ReplicaSet {
	return ownerref.Selecting(c.rsLister.ReplicaSets(pod.Namespace), pod.Labels,
		func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector })
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already terminating (after a restart
		// of the informer): it must not count as a creation.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		rs := c.resolveControllerRef(pod.Namespace, ref)
		if rs == nil {
			return
		}
		key, err := cache.MetaNamespaceKeyFunc(rs)
		if err != nil {
			return
		}
		c.exp.Observed(key, true)
		c.queue.Add(key)
		return
	}
	for _, rs := range c.matchingReplicaSets(pod) {
		c.enqueue(rs)
	}
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelChanged := !reflect.DeepEqual(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// A graceful deletion shows up as this update long before the
		// delete event: the ReplicaSet may replace the pod right away.
		c.deletePod(cur)
		if labelChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolveControllerRef(old.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		rs := c.resolveControllerRef(cur.Namespace, curRef)
		if rs == nil {
			return
		}
		c.enqueue(rs)
		// Pods carry no "available" transition of their own: look again
		// once the newly ready pod has been ready for minReadySeconds.
		if !isPodReady(old) && isPodReady(cur) && rs.Spec.MinReadySeconds > 0 {
			c.enqueueAfter(rs, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelChanged || refChanged {
		for _, rs := range c.matchingReplicaSets(cur) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := manager.EventObject[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	rs := c.resolveControllerRef(pod.Namespace, ref)
	if rs == nil {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(rs)
	if err != nil {
		return
	}
	c.deletionObserved(key, pod.Namespace+"/"+pod.Name)
	c.queue.Add(key)
}

// deletionObserved lowers the deletion expectation of a ReplicaSet once
// per pod it asked to delete, however many events (terminating, then
// gone) show that deletion.
func (c *Controller) deletionObserved(rsKey, podKey string) {
	if c.deleting.observed(rsKey, podKey) {
		c.exp.Observed(rsKey, false)
	}
}

// pendingDeletions are the pods each ReplicaSet asked to delete and has
// not seen go yet, as upstream's UIDTrackingControllerExpectations keep
// them.
type pendingDeletions struct {
	mu sync.Mutex
	m  map[string]map[string]bool
}

func (p *pendingDeletions) expect(rsKey string, podKeys []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	set := map[string]bool{}
	for _, k := range podKeys {
		set[k] = true
	}
	p.m[rsKey] = set
}

// observed reports whether podKey was pending for rsKey, and forgets it.
func (p *pendingDeletions) observed(rsKey, podKey string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	set := p.m[rsKey]
	if !set[podKey] {
		return false
	}
	delete(set, podKey)
	if len(set) == 0 {
		delete(p.m, rsKey)
	}
	return true
}

func (p *pendingDeletions) forget(rsKey string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, rsKey)
}
