package statefulset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/reconcile/history"
	"github.com/skiff-dev/skiff/reconcile/manager"
	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

var controllerKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// workers is how many StatefulSets sync at once. kube-controller-manager
// runs 5; Skiff's clusters are small and its cores shared.
const workers = 2

// Controller is the StatefulSet controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker

	setLister appslisters.StatefulSetLister
	podLister corelisters.PodLister
	revisions *history.Store
	synced    []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	return newController(d.Client, d.Informers, d.Recorder("statefulset-controller"), d.Logger, d.Clock)
}

func newController(client kubernetes.Interface, inf informers.SharedInformerFactory, rec record.EventRecorder, log *slog.Logger, clk clock.WithTicker) (*Controller, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	setInf := inf.Apps().V1().StatefulSets()
	podInf := inf.Core().V1().Pods()
	crInf := inf.Apps().V1().ControllerRevisions()
	c := &Controller{
		client:    client,
		recorder:  rec,
		log:       log.With("controller", "statefulset"),
		clock:     clk,
		setLister: setInf.Lister(),
		podLister: podInf.Lister(),
		revisions: &history.Store{Client: client, Lister: crInf.Lister()},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "statefulset", Clock: clk}),
	}
	setReg, err := setInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj.(*appsv1.StatefulSet)) },
		UpdateFunc: func(_, cur any) { c.enqueue(cur.(*appsv1.StatefulSet)) },
		DeleteFunc: func(obj any) {
			if set, ok := manager.EventObject[*appsv1.StatefulSet](obj); ok {
				c.enqueue(set)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("statefulset: register informer handler: %w", err)
	}
	podReg, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod})
	if err != nil {
		return nil, fmt.Errorf("statefulset: register informer handler: %w", err)
	}
	// Revisions are only read: every change to them comes from this
	// controller or from a set change it already watches.
	c.synced = []cache.InformerSynced{setReg.HasSynced, podReg.HasSynced, crInf.Informer().HasSynced}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "statefulset" }

// Run syncs StatefulSets until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("statefulset: caches did not sync")
	}
	c.log.Info("started")
	manager.RunWorkers(ctx, c.queue, workers, c.sync, c.syncFailed)
	return nil
}

func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	c.log.Error("sync failed, retrying", "statefulset", key, "err", err)
	return manager.Retry
}

func (c *Controller) enqueue(set *appsv1.StatefulSet) {
	c.queue.Add(set.Namespace + "/" + set.Name)
}

// resolve returns the StatefulSet a controller reference names, if it is
// still that one.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.StatefulSet {
	return ownerref.ResolveController(c.setLister.StatefulSets(ns), ref, controllerKind)
}

func (c *Controller) enqueueSelecting(pod *corev1.Pod) {
	sets, err := c.setLister.GetPodStatefulSets(pod)
	if err != nil {
		return
	}
	for _, set := range sets {
		c.enqueue(set)
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if set := c.resolve(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
		return
	}
	// An orphan: whoever selects it may adopt it.
	c.enqueueSelecting(pod)
}

func (c *Controller) updatePod(old, cur any) {
	o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
	if n.ResourceVersion != "" && n.ResourceVersion == o.ResourceVersion {
		return
	}
	curRef, oldRef := metav1.GetControllerOf(n), metav1.GetControllerOf(o)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if set := c.resolve(o.Namespace, oldRef); set != nil {
			c.enqueue(set)
		}
	}
	if curRef != nil {
		set := c.resolve(n.Namespace, curRef)
		if set == nil {
			return
		}
		c.enqueue(set)
		if !runningAndReady(o) && runningAndReady(n) && set.Spec.MinReadySeconds > 0 {
			// Availability arrives with time alone (a second late,
			// against clock skew in AddAfter).
			c.queue.AddAfter(set.Namespace+"/"+set.Name, time.Duration(set.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if refChanged || !equality.Semantic.DeepEqual(o.Labels, n.Labels) {
		c.enqueueSelecting(n)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := manager.EventObject[*corev1.Pod](obj)
	if !ok {
		return
	}
	if set := c.resolve(pod.Namespace, metav1.GetControllerOf(pod)); set != nil {
		c.enqueue(set)
	}
}
