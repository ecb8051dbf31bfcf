package daemonset

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
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/reconcile/expectations"
	"github.com/skiff-dev/skiff/reconcile/history"
	"github.com/skiff-dev/skiff/reconcile/manager"
	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

const (
	// workers is how many DaemonSets sync at once (kube-controller-manager's
	// --concurrent-daemonset-syncs default).
	workers = 2
	// burstReplicas caps the creations or deletions of one sync, so a
	// DaemonSet on a big cluster does not flood the API server.
	burstReplicas = 250
	// Failed daemon pods are replaced with a backoff per node, so a pod
	// the node keeps rejecting does not hot-loop.
	failedBackoffInitial = time.Second
	failedBackoffMax     = 15 * time.Minute
	backoffGCInterval    = time.Minute
)

// Event reasons, as upstream's daemon set controller reports them.
const (
	reasonSelectingAll     = "SelectingAll"
	reasonFailedDaemonPod  = "FailedDaemonPod"
	reasonSucceededDaemon  = "SucceededDaemonPod"
	reasonSuccessfulCreate = "SuccessfulCreate"
	reasonFailedCreate     = "FailedCreate"
	reasonSuccessfulDelete = "SuccessfulDelete"
	reasonFailedDelete     = "FailedDelete"
)

// Controller is the DaemonSet controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker

	dsLister   appslisters.DaemonSetLister
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	revisions  *history.Store
	synced     []cache.InformerSynced

	queue   workqueue.TypedRateLimitingInterface[string]
	exp     *expectations.Expectations
	backoff *flowcontrol.Backoff
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	return newController(d.Client, d.Informers, d.Recorder("daemonset-controller"), d.Logger, d.Clock)
}

func newController(client kubernetes.Interface, inf informers.SharedInformerFactory, rec record.EventRecorder, log *slog.Logger, clk clock.WithTicker) (*Controller, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	dsInf := inf.Apps().V1().DaemonSets()
	podInf := inf.Core().V1().Pods()
	nodeInf := inf.Core().V1().Nodes()
	crInf := inf.Apps().V1().ControllerRevisions()
	c := &Controller{
		client:     client,
		recorder:   rec,
		log:        log.With("controller", "daemonset"),
		clock:      clk,
		dsLister:   dsInf.Lister(),
		podLister:  podInf.Lister(),
		nodeLister: nodeInf.Lister(),
		revisions:  &history.Store{Client: client, Lister: crInf.Lister()},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "daemonset", Clock: clk}),
		exp:     expectations.New(clk),
		backoff: flowcontrol.NewFakeBackOff(failedBackoffInitial, failedBackoffMax, clk),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addDaemonSet, UpdateFunc: c.updateDaemonSet, DeleteFunc: c.deleteDaemonSet}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addNode, UpdateFunc: c.updateNode, DeleteFunc: c.deleteNode}},
		{crInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addRevision, UpdateFunc: c.updateRevision, DeleteFunc: c.deleteRevision}},
	}
	for _, h := range handlers {
		reg, err := h.inf.AddEventHandler(h.h)
		if err != nil {
			return nil, fmt.Errorf("daemonset: register informer handler: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "daemonset" }

// Run syncs DaemonSets until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("daemonset: caches did not sync")
	}
	c.log.Info("started")
	go wait.UntilWithContext(ctx, func(context.Context) { c.backoff.GC() }, backoffGCInterval)
	manager.RunWorkers(ctx, c.queue, workers, c.sync, c.syncFailed)
	return nil
}

func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	c.log.Error("sync failed, retrying", "daemonset", key, "err", err)
	return manager.Retry
}

func (c *Controller) enqueue(ds *appsv1.DaemonSet) {
	c.queue.Add(ds.Namespace + "/" + ds.Name)
}

func (c *Controller) enqueueAfter(ds *appsv1.DaemonSet, d time.Duration) {
	c.queue.AddAfter(ds.Namespace+"/"+ds.Name, d)
}

func (c *Controller) addDaemonSet(obj any) { c.enqueue(obj.(*appsv1.DaemonSet)) }

func (c *Controller) updateDaemonSet(old, cur any) {
	o, n := old.(*appsv1.DaemonSet), cur.(*appsv1.DaemonSet)
	if o.UID != n.UID {
		// Deleted and recreated between two watch events: start clean.
		c.exp.Delete(o.Namespace + "/" + o.Name)
	}
	c.enqueue(n)
}

func (c *Controller) deleteDaemonSet(obj any) {
	ds, ok := manager.EventObject[*appsv1.DaemonSet](obj)
	if !ok {
		return
	}
	key := ds.Namespace + "/" + ds.Name
	// A new DaemonSet of the same name must not inherit these.
	c.exp.Delete(key)
	c.queue.Add(key)
}

// resolve returns the DaemonSet a controller reference names, if it is
// still that one.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	return ownerref.ResolveController(c.dsLister.DaemonSets(ns), ref, controllerKind)
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already terminating (a restart):
		// that is a deletion, not a creation.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ds := c.resolve(pod.Namespace, ref); ds != nil {
			c.exp.Observed(ds.Namespace+"/"+ds.Name, true)
			c.enqueue(ds)
		}
		return
	}
	// An orphan: whoever selects it may adopt it.
	c.enqueueSelecting(pod)
}

func (c *Controller) enqueueSelecting(pod *corev1.Pod) {
	sets, err := c.dsLister.GetPodDaemonSets(pod)
	if err != nil {
		return
	}
	for _, ds := range sets {
		c.enqueue(ds)
	}
}

func (c *Controller) updatePod(old, cur any) {
	o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
	if n.ResourceVersion != "" && n.ResourceVersion == o.ResourceVersion {
		return
	}
	if n.DeletionTimestamp != nil {
		// Graceful deletion started: replace the pod now rather than
		// when the node has finished with it.
		c.deletePod(n)
		return
	}
	curRef, oldRef := metav1.GetControllerOf(n), metav1.GetControllerOf(o)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if ds := c.resolve(o.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef != nil {
		ds := c.resolve(n.Namespace, curRef)
		if ds == nil {
			return
		}
		c.enqueue(ds)
		wasReady, _ := podReady(o)
		isReady, _ := podReady(n)
		if !wasReady && isReady && ds.Spec.MinReadySeconds > 0 {
			// Availability changes with time alone; look again when it
			// should have (a second late, against clock skew in AddAfter).
			c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
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
	ds := c.resolve(pod.Namespace, metav1.GetControllerOf(pod))
	if ds == nil {
		return
	}
	c.exp.Observed(ds.Namespace+"/"+ds.Name, false)
	c.enqueue(ds)
}

func (c *Controller) allDaemonSets() []*appsv1.DaemonSet {
	list, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return nil
	}
	return list
}

func (c *Controller) addNode(obj any) {
	node := obj.(*corev1.Node)
	for _, ds := range c.allDaemonSets() {
		if run, _ := nodeShouldRun(node, ds); run {
			c.enqueue(ds)
		}
	}
}

// nodeChangeMatters: only a change of labels, taints, or of which
// conditions are true can change where daemons run; heartbeats cannot.
func nodeChangeMatters(o, n *corev1.Node) bool {
	trueConds := func(n *corev1.Node) map[corev1.NodeConditionType]bool {
		m := map[corev1.NodeConditionType]bool{}
		for _, c := range n.Status.Conditions {
			if c.Status == corev1.ConditionTrue {
				m[c.Type] = true
			}
		}
		return m
	}
	if !reflect.DeepEqual(trueConds(o), trueConds(n)) {
		return true
	}
	oc, nc := o.DeepCopy(), n.DeepCopy()
	oc.ResourceVersion, oc.Status.Conditions = "", nil
	nc.ResourceVersion, nc.Status.Conditions = "", nil
	return !equality.Semantic.DeepEqual(oc, nc)
}

func (c *Controller) updateNode(old, cur any) {
	o, n := old.(*corev1.Node), cur.(*corev1.Node)
	if !nodeChangeMatters(o, n) {
		return
	}
	for _, ds := range c.allDaemonSets() {
		oRun, oCont := nodeShouldRun(o, ds)
		nRun, nCont := nodeShouldRun(n, ds)
		if oRun != nRun || oCont != nCont {
			c.enqueue(ds)
		}
	}
}

// deleteNode: a deleted node changes desiredNumberScheduled even when
// no daemon pod ran there (upstream waits for a pod event or a resync).
func (c *Controller) deleteNode(obj any) {
	if _, ok := manager.EventObject[*corev1.Node](obj); !ok {
		return
	}
	for _, ds := range c.allDaemonSets() {
		c.enqueue(ds)
	}
}

func (c *Controller) addRevision(obj any) {
	rev := obj.(*appsv1.ControllerRevision)
	if rev.DeletionTimestamp != nil {
		c.deleteRevision(rev)
		return
	}
	if ref := metav1.GetControllerOf(rev); ref != nil {
		if ds := c.resolve(rev.Namespace, ref); ds != nil {
			c.enqueue(ds)
		}
		return
	}
	c.enqueueSelectingRevision(rev)
}

func (c *Controller) enqueueSelectingRevision(rev *appsv1.ControllerRevision) {
	sets, err := c.dsLister.GetHistoryDaemonSets(rev)
	if err != nil {
		return
	}
	for _, ds := range sets {
		c.enqueue(ds)
	}
}

func (c *Controller) updateRevision(old, cur any) {
	o, n := old.(*appsv1.ControllerRevision), cur.(*appsv1.ControllerRevision)
	if n.ResourceVersion != "" && n.ResourceVersion == o.ResourceVersion {
		return
	}
	curRef, oldRef := metav1.GetControllerOf(n), metav1.GetControllerOf(o)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if ds := c.resolve(o.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef != nil {
		if ds := c.resolve(n.Namespace, curRef); ds != nil {
			c.enqueue(ds)
		}
		return
	}
	if refChanged || !equality.Semantic.DeepEqual(o.Labels, n.Labels) {
		c.enqueueSelectingRevision(n)
	}
}

func (c *Controller) deleteRevision(obj any) {
	rev, ok := manager.EventObject[*appsv1.ControllerRevision](obj)
	if !ok {
		return
	}
	if ds := c.resolve(rev.Namespace, metav1.GetControllerOf(rev)); ds != nil {
		c.enqueue(ds)
	}
}
