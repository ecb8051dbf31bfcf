package servicelb

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/manager"
)

// Name is the controller's name, as --controllers spells it.
const Name = "service-lb-controller"

const workers = 2

// Controller sets the ingress of LoadBalancer Services to the Ready
// nodes' addresses.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
	synced   []cache.InformerSynced
	// queue holds Service keys (namespace/name).
	queue workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	c := &Controller{
		client: d.Client,
		log:    d.Logger.With("controller", Name),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 2*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "servicelb", Clock: d.Clock},
		),
	}
	svcInf := d.Informers.Core().V1().Services()
	nodeInf := d.Informers.Core().V1().Nodes()
	c.services, c.nodes = svcInf.Lister(), nodeInf.Lister()
	svcReg, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueService,
		UpdateFunc: func(_, cur any) { c.enqueueService(cur) },
	})
	if err != nil {
		return nil, fmt.Errorf("servicelb: register service handler: %w", err)
	}
	nodeReg, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueueAll() },
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Node)
			n, ok2 := cur.(*corev1.Node)
			// Heartbeats change nothing this controller reads.
			if ok1 && ok2 && slices.Equal(nodeAddresses([]*corev1.Node{o}), nodeAddresses([]*corev1.Node{n})) {
				return
			}
			c.enqueueAll()
		},
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	if err != nil {
		return nil, fmt.Errorf("servicelb: register node handler: %w", err)
	}
	c.synced = []cache.InformerSynced{svcReg.HasSynced, nodeReg.HasSynced}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return Name }

// Run syncs Services until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Info("controller started")
	manager.RunWorkers(ctx, c.queue, workers, c.Reconcile, c.syncFailed)
	c.log.Info("controller stopped")
	return nil
}

func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	c.log.Error("sync failed, will retry", "service", key, "retries", c.queue.NumRequeues(key), "err", err)
	return manager.Retry
}

// Reconcile brings the ingress of one Service in line with the Ready
// nodes. Services of other types, and LoadBalancers of another class, are
// not this controller's (the API server clears the status of a Service
// that stops being a LoadBalancer).
func (c *Controller) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.LoadBalancerClass != nil || svc.DeletionTimestamp != nil {
		return nil
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	want := Ingress(nodes)
	if apiequality.Semantic.DeepEqual(svc.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	next := svc.DeepCopy()
	next.Status.LoadBalancer.Ingress = want
	_, err = c.client.CoreV1().Services(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	switch {
	case err == nil:
		c.log.Info("load balancer ingress updated", "namespace", ns, "service", name, "ingress", nodeAddresses(nodes))
		return nil
	case apierrors.IsNotFound(err):
		return nil
	}
	// A conflict means the cache was behind: the update event requeues it.
	return fmt.Errorf("update status of service %s: %w", key, err)
}

// Ingress is the load balancer ingress for the given nodes: one entry
// (ipMode VIP, the API server's default) per distinct InternalIP of a
// Ready node, sorted, or nil when no node is Ready.
func Ingress(nodes []*corev1.Node) []corev1.LoadBalancerIngress {
	var out []corev1.LoadBalancerIngress
	for _, ip := range nodeAddresses(nodes) {
		out = append(out, corev1.LoadBalancerIngress{IP: ip, IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)})
	}
	return out
}

// nodeAddresses are the distinct InternalIPs of the Ready nodes that are
// not being deleted, sorted as addresses. Several nodes on one host (agents
// sharing a Docker engine) share an address.
func nodeAddresses(nodes []*corev1.Node) []string {
	var addrs []netip.Addr
	for _, n := range nodes {
		if n.DeletionTimestamp != nil || !ready(n) {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && !slices.Contains(addrs, ip) {
				addrs = append(addrs, ip)
			}
			break
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (c *Controller) enqueueService(obj any) {
	svc, ok := obj.(*corev1.Service)
	if !ok || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(svc); err == nil {
		c.queue.Add(key)
	}
}

// enqueueAll queues every LoadBalancer Service: a node came, went, or
// changed readiness or address.
func (c *Controller) enqueueAll() {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range svcs {
		c.enqueueService(svc)
	}
}
