package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

// Name is the controller's name, as --controllers spells it.
const Name = "receiver"

// FieldManager is the manager status writes are recorded under, as Flux's
// controller names itself.
const FieldManager = "notification-controller"

const workers = 2

// GVR is the resource the controller reconciles.
var GVR = flux.NotificationGroupVersion.WithResource("receivers")

// Condition types and reasons, as Flux's (fluxcd/pkg/apis/meta and the
// notification API) spell them.
const (
	ReadyCondition       = "Ready"
	ReconcilingCondition = "Reconciling"
	StalledCondition     = "Stalled"

	SucceededReason            = "Succeeded"
	TokenNotFoundReason        = "TokenNotFound"
	ValidationFailedReason     = "ValidationFailed"
	NotSupportedReason         = "NotSupported"
	ProgressingWithRetryReason = "ProgressingWithRetry"
)

// ReconcileRequestAnnotation is what `flux reconcile` and webhooks set to
// ask for a reconcile now.
const ReconcileRequestAnnotation = "reconcile.fluxcd.io/requestedAt"

// SupportedTypes are the receiver types Skiff verifies payloads for.
var SupportedTypes = []string{"generic", "generic-hmac", "github", "gitlab"}

// defaultInterval is the CRD's default spec.interval, for an object the
// API server did not default (written before defaulting existed).
const defaultInterval = 10 * time.Minute

// errTokenNotFound marks a missing Secret or token: retried with back-off.
var errTokenNotFound = errors.New("token not found")

// tokenNotFound carries Flux's message for a missing Secret or token and
// is errTokenNotFound to errors.Is.
type tokenNotFound struct{ error }

func (tokenNotFound) Is(target error) bool { return target == errTokenNotFound }

// Controller writes the webhook path and readiness of Receivers.
type Controller struct {
	client    kubernetes.Interface
	dyn       dynamic.Interface
	log       *slog.Logger
	clock     clock.WithTicker
	factory   dynamicinformer.DynamicSharedInformerFactory
	receivers cache.GenericLister
	synced    cache.InformerSynced
	// queue holds Receiver keys (namespace/name).
	queue workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller. dyn reaches Flux's types, which have no typed
// clientset; the controller runs its own dynamic informer over it (the
// manager's factories hold typed and metadata informers only).
func New(d *manager.Deps, dyn dynamic.Interface) (*Controller, error) {
	if dyn == nil {
		return nil, errors.New("receiver: a dynamic client is required")
	}
	c := &Controller{
		client: d.Client,
		dyn:    dyn,
		log:    d.Logger.With("controller", Name),
		clock:  d.Clock,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			// A missing Secret is retried from 100 ms up to a minute: it
			// usually arrives in the same `kubectl apply`.
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: Name, Clock: d.Clock},
		),
	}
	c.factory = dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	inf := c.factory.ForResource(GVR)
	c.receivers = inf.Lister()
	reg, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	})
	if err != nil {
		return nil, fmt.Errorf("receiver: register handler: %w", err)
	}
	c.synced = reg.HasSynced
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return Name }

// Run reconciles Receivers until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	c.log.Info("controller started")
	manager.RunWorkers(ctx, c.queue, workers, c.Reconcile, c.syncFailed)
	c.log.Info("controller stopped")
	return nil
}

func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	if errors.Is(err, errTokenNotFound) {
		c.log.Info("receiver token not found, will retry", "receiver", key, "retries", c.queue.NumRequeues(key), "err", err)
	} else {
		c.log.Error("sync failed, will retry", "receiver", key, "retries", c.queue.NumRequeues(key), "err", err)
	}
	return manager.Retry
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// Reconcile computes one Receiver's status and writes it when it changed.
// A healthy Receiver is requeued after its interval to re-read its token.
func (c *Controller) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	obj, err := c.receivers.ByNamespace(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return fmt.Errorf("receiver %s: unexpected %T in the cache", key, obj)
	}
	rcv := &flux.Receiver{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, rcv); err != nil {
		return fmt.Errorf("receiver %s: decode: %w", key, err)
	}
	if rcv.DeletionTimestamp != nil {
		return nil
	}
	var token string
	var tokenErr error
	if !rcv.Spec.Suspend {
		token, tokenErr = c.token(ctx, rcv)
	}
	next, res := Evaluate(rcv, token, tokenErr, metav1.NewTime(c.clock.Now()))
	if err := c.writeStatus(ctx, u, rcv, next); err != nil {
		return err
	}
	switch {
	case res.Err != nil:
		return res.Err
	case res.RequeueAfter > 0:
		c.queue.AddAfter(key, res.RequeueAfter)
	}
	return nil
}

// token reads the Receiver's token from its Secret, with Flux's messages.
func (c *Controller) token(ctx context.Context, rcv *flux.Receiver) (string, error) {
	ref := rcv.Namespace + "/" + rcv.Spec.SecretRef.Name
	s, err := c.client.CoreV1().Secrets(rcv.Namespace).Get(ctx, rcv.Spec.SecretRef.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return "", tokenNotFound{fmt.Errorf("unable to read token from secret '%s' error: %w", ref, err)}
		}
		// Not the token's absence: an API failure, retried as any error.
		return "", fmt.Errorf("unable to read token from secret '%s' error: %w", ref, err)
	}
	tok, ok := s.Data["token"]
	if !ok {
		return "", tokenNotFound{fmt.Errorf("invalid '%s' secret data: required fields 'token'", ref)}
	}
	return string(tok), nil
}

func (c *Controller) writeStatus(ctx context.Context, u *unstructured.Unstructured, rcv *flux.Receiver, next flux.ReceiverStatus) error {
	if apiequality.Semantic.DeepEqual(rcv.Status, next) {
		return nil
	}
	upd := rcv.DeepCopy()
	upd.Status = next
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(upd)
	if err != nil {
		return fmt.Errorf("receiver %s/%s: encode: %w", rcv.Namespace, rcv.Name, err)
	}
	out := &unstructured.Unstructured{Object: content}
	out.SetAPIVersion(flux.NotificationGroupVersion.String())
	out.SetKind(flux.ReceiverKind.Kind)
	_, err = c.dyn.Resource(GVR).Namespace(rcv.Namespace).UpdateStatus(ctx, out, metav1.UpdateOptions{FieldManager: FieldManager})
	switch {
	case err == nil:
	case apierrors.IsNotFound(err):
		return nil
	default:
		// A conflict means the cache was behind: the update event requeues it.
		return fmt.Errorf("update status of receiver %s/%s: %w", rcv.Namespace, rcv.Name, err)
	}
	if next.WebhookPath != rcv.Status.WebhookPath || readyReason(next) != readyReason(rcv.Status) {
		r := meta.FindStatusCondition(next.Conditions, ReadyCondition)
		c.log.Info("receiver status updated", "namespace", rcv.Namespace, "receiver", rcv.Name,
			"ready", string(r.Status), "reason", r.Reason, "message", r.Message)
	}
	return nil
}

func readyReason(st flux.ReceiverStatus) string {
	if r := meta.FindStatusCondition(st.Conditions, ReadyCondition); r != nil {
		return string(r.Status) + "/" + r.Reason
	}
	return ""
}

// Result is what a reconcile asks of the queue.
type Result struct {
	// RequeueAfter: reconcile again after this long (the interval).
	RequeueAfter time.Duration
	// Err: retry with back-off.
	Err error
}

// Evaluate is the Receiver's next status, a pure function of the object,
// the token read from its Secret (or why it could not be) and the time,
// with what to do next. It leaves the input untouched.
func Evaluate(rcv *flux.Receiver, token string, tokenErr error, now metav1.Time) (flux.ReceiverStatus, Result) {
	st := *rcv.Status.DeepCopy()
	if v, ok := rcv.Annotations[ReconcileRequestAnnotation]; ok {
		st.LastHandledReconcileAt = v
	}
	if rcv.Spec.Suspend {
		// As Flux: a suspended object's status is left alone.
		return st, Result{}
	}
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg,
			ObservedGeneration: rcv.Generation, LastTransitionTime: now})
	}
	stalled := func(reason, msg string) (flux.ReceiverStatus, Result) {
		st.WebhookPath = ""
		set(ReadyCondition, metav1.ConditionFalse, reason, msg)
		set(StalledCondition, metav1.ConditionTrue, reason, msg)
		meta.RemoveStatusCondition(&st.Conditions, ReconcilingCondition)
		// The spec was read and judged: only a change of it can help.
		st.ObservedGeneration = rcv.Generation
		return st, Result{}
	}
	if !slices.Contains(SupportedTypes, rcv.Spec.Type) {
		return stalled(NotSupportedReason, fmt.Sprintf("receiver type '%s' is not supported by Skiff (supported: %s)",
			rcv.Spec.Type, strings.Join(SupportedTypes, ", ")))
	}
	if rcv.Spec.ResourceFilter != "" {
		return stalled(NotSupportedReason, "spec.resourceFilter is not supported by Skiff (CEL resource filters are not evaluated)")
	}
	if err := ValidateResources(rcv.Spec.Resources); err != nil {
		return stalled(ValidationFailedReason, err.Error())
	}
	meta.RemoveStatusCondition(&st.Conditions, StalledCondition)
	if tokenErr != nil {
		st.WebhookPath = ""
		set(ReadyCondition, metav1.ConditionFalse, TokenNotFoundReason, tokenErr.Error())
		set(ReconcilingCondition, metav1.ConditionTrue, ProgressingWithRetryReason, "Reconciliation in progress")
		return st, Result{Err: tokenErr}
	}
	st.WebhookPath = WebhookPath(token, rcv.Name, rcv.Namespace)
	set(ReadyCondition, metav1.ConditionTrue, SucceededReason, "Receiver initialized for path: "+st.WebhookPath)
	meta.RemoveStatusCondition(&st.Conditions, ReconcilingCondition)
	st.ObservedGeneration = rcv.Generation
	interval := defaultInterval
	if rcv.Spec.Interval != nil && rcv.Spec.Interval.Duration > 0 {
		interval = rcv.Spec.Interval.Duration
	}
	return st, Result{RequeueAfter: interval}
}

// ValidateResources refuses resource references no webhook could
// annotate: Flux's receiver fails on them each time a hook arrives.
func ValidateResources(refs []flux.CrossNamespaceObjectReference) error {
	var errs []string
	for i, r := range refs {
		if r.APIVersion == "" && flux.ReceiverDefaultAPIVersions[r.Kind] == "" {
			errs = append(errs, fmt.Sprintf("spec.resources[%d]: apiVersion must be specified for kind '%s'", i, r.Kind))
		}
		if r.APIVersion != "" {
			if _, err := schema.ParseGroupVersion(r.APIVersion); err != nil {
				errs = append(errs, fmt.Sprintf("spec.resources[%d]: apiVersion '%s': %v", i, r.APIVersion, err))
			}
		}
		if r.Name == "*" && len(r.MatchLabels) == 0 {
			errs = append(errs, fmt.Sprintf("spec.resources[%d]: matchLabels field not set when using wildcard '*' as name", i))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
