package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/reconcile/manager"
)

const (
	workers = 2
	// A namespace whose content is still going is looked at again after
	// an exponential backoff: quick for the usual second-long pod
	// terminations, sparse for content held by a finalizer for long.
	retryBase = 250 * time.Millisecond
	retryMax  = 30 * time.Second
)

// Controller is the namespace controller.
type Controller struct {
	log    *slog.Logger
	client kubernetes.Interface
	md     metadata.Interface
	disc   Discovery
	clock  clock.PassiveClock
	queue  workqueue.TypedRateLimitingInterface[string]
	synced cache.InformerSynced
}

// New builds the controller and registers its namespace informer on d.
func New(d *manager.Deps) (*Controller, error) {
	return newController(d.Client, d.Metadata, d.Client.Discovery(), d.Informers, d.Logger, d.Clock)
}

func newController(client kubernetes.Interface, md metadata.Interface, disc Discovery, inf informers.SharedInformerFactory, log *slog.Logger, clk clock.PassiveClock) (*Controller, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	c := &Controller{
		log:    log.With("controller", "namespace"),
		client: client,
		md:     md,
		disc:   disc,
		clock:  clk,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](retryBase, retryMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"}),
	}
	nsInformer := inf.Core().V1().Namespaces().Informer()
	enqueue := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.queue.Add(ns.Name)
		}
	}
	if _, err := nsInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return nil, err
	}
	c.synced = nsInformer.HasSynced
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "namespace" }

// Run empties terminating namespaces until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil
	}
	manager.RunWorkers(ctx, c.queue, workers, c.Reconcile, c.syncFailed)
	return nil
}

// syncFailed retries a namespace with back-off whatever failed: content
// still going away is the usual case and logged only at debug level.
func (c *Controller) syncFailed(ctx context.Context, name string, err error) manager.Failure {
	var remaining *contentRemainingError
	switch {
	case errors.As(err, &remaining):
		c.log.Debug("namespace content remains", "namespace", name, "objects", remaining.objects)
	case ctx.Err() == nil:
		c.log.Warn("namespace deletion failed; will retry", "namespace", name, "err", err)
	}
	return manager.Retry
}

// contentRemainingError: objects are on their way out (finalizers,
// graceful termination); the namespace is looked at again later.
type contentRemainingError struct{ objects int }

func (e *contentRemainingError) Error() string {
	return fmt.Sprintf("%d objects remain in the namespace", e.objects)
}

// Reconcile takes one step towards deleting a terminating namespace:
// delete what is in it, record how that went in its conditions, and once
// nothing is left remove the "kubernetes" finalizer so the API server
// deletes it.
func (c *Controller) Reconcile(ctx context.Context, name string) error {
	nsClient := c.client.CoreV1().Namespaces()
	// A live read: other controllers may have changed it, or it may be
	// gone already.
	ns, err := nsClient.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil
	}

	res := c.deleteContent(ctx, name)
	if err := c.writeStatus(ctx, ns, res); err != nil {
		return err
	}
	if !res.done() {
		if err := res.err(); err != nil {
			return err
		}
		n := 0
		for _, k := range res.remaining {
			n += k
		}
		return &contentRemainingError{objects: n}
	}

	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := nsClient.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != ns.UID {
			return apierrors.NewNotFound(corev1.Resource("namespaces"), name)
		}
		cur.Spec.Finalizers = slices.DeleteFunc(cur.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
		_, err = nsClient.Finalize(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalize namespace %s: %w", name, err)
	}
	c.log.Info("namespace emptied and finalized", "namespace", name)
	return nil
}

// writeStatus records the phase and the deletion conditions, re-reading
// the namespace on a conflict.
func (c *Controller) writeStatus(ctx context.Context, ns *corev1.Namespace, res contentResult) error {
	now := metav1.NewTime(c.clock.Now())
	failing := res.conditions(now)
	nsClient := c.client.CoreV1().Namespaces()
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := ns
		if !first {
			var err error
			if cur, err = nsClient.Get(ctx, ns.Name, metav1.GetOptions{}); err != nil {
				return err
			}
			if cur.UID != ns.UID {
				return apierrors.NewNotFound(corev1.Resource("namespaces"), ns.Name)
			}
		}
		first = false
		cur = cur.DeepCopy()
		changed := updateConditions(&cur.Status, failing, now)
		if cur.Status.Phase != corev1.NamespaceTerminating {
			cur.Status.Phase = corev1.NamespaceTerminating
			changed = true
		}
		if !changed {
			return nil
		}
		_, err := nsClient.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status of namespace %s: %w", ns.Name, err)
	}
	return nil
}
