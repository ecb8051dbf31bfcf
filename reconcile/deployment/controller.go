package deployment

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
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

	"github.com/skiff-dev/skiff/reconcile/manager"
	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

var (
	// controllerKind is what the ReplicaSets' controller references name.
	controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")
	// replicaSetKind is what the pods' controller references name.
	replicaSetKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

const (
	// workers is kube-controller-manager's --concurrent-deployment-syncs.
	workers = 5
	// maxRetries: a Deployment whose sync keeps failing is dropped from
	// the queue after this many rate-limited retries (about 80 s of
	// back-off) until its next event, as upstream does.
	maxRetries = 15
)

// Controller is the Deployment controller.
type Controller struct {
	client    kubernetes.Interface
	log       *slog.Logger
	clock     clock.WithTicker
	recorder  record.EventRecorder
	dLister   appslisters.DeploymentLister
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	dInf := d.Informers.Apps().V1().Deployments()
	rsInf := d.Informers.Apps().V1().ReplicaSets()
	podInf := d.Informers.Core().V1().Pods()
	c := &Controller{
		client:    d.Client,
		log:       d.Logger.With("controller", "deployment"),
		clock:     d.Clock,
		recorder:  d.Recorder("deployment-controller"),
		dLister:   dInf.Lister(),
		rsLister:  rsInf.Lister(),
		podLister: podInf.Lister(),
		synced:    []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment", Clock: d.Clock}),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{dInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addDeployment, UpdateFunc: c.updateDeployment, DeleteFunc: c.deleteDeployment}},
		{rsInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addReplicaSet, UpdateFunc: c.updateReplicaSet, DeleteFunc: c.deleteReplicaSet}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.deletePod}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("deployment controller informer: %w", err)
		}
	}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "deployment" }

// Run starts the workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("deployment: caches did not sync: %w", ctx.Err())
	}
	c.log.Info("started", "workers", workers)
	manager.RunWorkers(ctx, c.queue, workers, c.Reconcile, c.syncFailed)
	return nil
}

// syncFailed retries a Deployment with back-off up to maxRetries times,
// then drops it until its next event, as upstream does.
func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	if c.queue.NumRequeues(key) < maxRetries {
		c.log.Info("sync failed, will retry", "deployment", key, "err", err)
		return manager.Retry
	}
	c.log.Error("sync failed, dropping out of the queue until the next change", "deployment", key, "err", err)
	return manager.GiveUp
}

func (c *Controller) enqueue(d *appsv1.Deployment) {
	if key, err := cache.MetaNamespaceKeyFunc(d); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueRateLimited(d *appsv1.Deployment) {
	if key, err := cache.MetaNamespaceKeyFunc(d); err == nil {
		c.queue.AddRateLimited(key)
	}
}

func (c *Controller) enqueueAfter(d *appsv1.Deployment, after time.Duration) {
	if key, err := cache.MetaNamespaceKeyFunc(d); err == nil {
		c.queue.AddAfter(key, after)
	}
}

func (c *Controller) addDeployment(obj any) { c.enqueue(obj.(*appsv1.Deployment)) }

func (c *Controller) updateDeployment(_, cur any) { c.enqueue(cur.(*appsv1.Deployment)) }

func (c *Controller) deleteDeployment(obj any) {
	if d, ok := manager.EventObject[*appsv1.Deployment](obj); ok {
		c.enqueue(d)
	}
}

// resolveControllerRef returns the Deployment a controller reference
// names, if it is the one with that UID.
func (c *Controller) resolveControllerRef(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	return ownerref.ResolveController(c.dLister.Deployments(ns), ref, controllerKind)
}

// deploymentsSelecting are the Deployments whose selector matches an
// orphan ReplicaSet: any of them may adopt it.
func (c *Controller) deploymentsSelecting(rs *appsv1.ReplicaSet) []*appsv1.Deployment {
	return ownerref.Selecting(c.dLister.Deployments(rs.Namespace), rs.Labels,
		func(d *appsv1.Deployment) *metav1.LabelSelector { return d.Spec.Selector })
}

func (c *Controller) addReplicaSet(obj any) {
	rs := obj.(*appsv1.ReplicaSet)
	if rs.DeletionTimestamp != nil {
		// Seen first already being deleted (after an informer restart).
		c.deleteReplicaSet(rs)
		return
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d := c.resolveControllerRef(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	for _, d := range c.deploymentsSelecting(rs) {
		c.enqueue(d)
	}
}

func (c *Controller) updateReplicaSet(oldObj, curObj any) {
	old, cur := oldObj.(*appsv1.ReplicaSet), curObj.(*appsv1.ReplicaSet)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if d := c.resolveControllerRef(old.Namespace, oldRef); d != nil {
			c.enqueue(d)
		}
	}
	if curRef != nil {
		if d := c.resolveControllerRef(cur.Namespace, curRef); d != nil {
			c.enqueue(d)
		}
		return
	}
	if refChanged || !reflect.DeepEqual(old.Labels, cur.Labels) {
		for _, d := range c.deploymentsSelecting(cur) {
			c.enqueue(d)
		}
	}
}

func (c *Controller) deleteReplicaSet(obj any) {
	rs, ok := manager.EventObject[*appsv1.ReplicaSet](obj)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d := c.resolveControllerRef(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
	}
}

// deletePod wakes a Recreate Deployment when one of its old pods is gone:
// the new ReplicaSet waits for exactly that.
func (c *Controller) deletePod(obj any) {
	pod, ok := manager.EventObject[*corev1.Pod](obj)
	if !ok {
		return
	}
	rs := ownerref.ResolveController(c.rsLister.ReplicaSets(pod.Namespace), metav1.GetControllerOf(pod), replicaSetKind)
	if rs == nil {
		return
	}
	if d := c.resolveControllerRef(rs.Namespace, metav1.GetControllerOf(rs)); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueue(d)
	}
}
