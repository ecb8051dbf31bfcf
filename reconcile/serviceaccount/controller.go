package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/reconcile/manager"
)

// DefaultName is the ServiceAccount every namespace gets.
const DefaultName = "default"

// workers is kube-controller-manager's --concurrent-serviceaccount-syncs
// default.
const workers = 1

// Controller ensures the default ServiceAccount of every namespace.
type Controller struct {
	client     kubernetes.Interface
	log        *slog.Logger
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	synced     []cache.InformerSynced
	// queue holds namespace names.
	queue workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	c := &Controller{
		client: d.Client,
		log:    d.Logger.With("controller", "serviceaccount"),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 2*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount", Clock: d.Clock},
		),
	}
	nsInf := d.Informers.Core().V1().Namespaces()
	saInf := d.Informers.Core().V1().ServiceAccounts()
	c.namespaces, c.accounts = nsInf.Lister(), saInf.Lister()

	nsReg, err := nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueNamespace,
		// An update may be the namespace turning Active again after a
		// restore, or a relist after a lost watch: either way, check.
		UpdateFunc: func(_, cur any) { c.enqueueNamespace(cur) },
	})
	if err != nil {
		return nil, fmt.Errorf("serviceaccount: register namespace handler: %w", err)
	}
	saReg, err := saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.onServiceAccountDelete,
	})
	if err != nil {
		return nil, fmt.Errorf("serviceaccount: register serviceaccount handler: %w", err)
	}
	c.synced = []cache.InformerSynced{nsReg.HasSynced, saReg.HasSynced}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "serviceaccount" }

// Run syncs namespaces until ctx ends.
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

func (c *Controller) syncFailed(_ context.Context, ns string, err error) manager.Failure {
	c.log.Error("sync failed, will retry", "namespace", ns, "retries", c.queue.NumRequeues(ns), "err", err)
	return manager.Retry
}

// Reconcile creates the default ServiceAccount of namespace ns if the
// namespace is active and the account is missing.
func (c *Controller) Reconcile(ctx context.Context, ns string) error {
	n, err := c.namespaces.Get(ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.Status.Phase != corev1.NamespaceActive {
		return nil
	}
	switch _, err := c.accounts.ServiceAccounts(ns).Get(DefaultName); {
	case err == nil:
		return nil
	case !apierrors.IsNotFound(err):
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: DefaultName}}
	_, err = c.client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	switch {
	case err == nil:
		c.log.Info("serviceaccount created", "namespace", ns, "serviceaccount", DefaultName)
		return nil
	case apierrors.IsAlreadyExists(err):
		// The cache was behind; the account is there.
		return nil
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		// The namespace started terminating since the cache saw it.
		return nil
	}
	return fmt.Errorf("create serviceaccount %s/%s: %w", ns, DefaultName, err)
}

func (c *Controller) enqueueNamespace(obj any) {
	if n, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(n.Name)
	}
}

func (c *Controller) onServiceAccountDelete(obj any) {
	if sa, ok := manager.EventObject[*corev1.ServiceAccount](obj); ok && sa.Name == DefaultName {
		c.queue.Add(sa.Namespace)
	}
}
