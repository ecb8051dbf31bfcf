package fluxobj

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/skiff-dev/skiff/manifests/flux"
)

// The resources of the two kinds the controllers reconcile.
var (
	GitRepositories = flux.SourceGroupVersion.WithResource("gitrepositories")
	Kustomizations  = flux.KustomizeGroupVersion.WithResource("kustomizations")
)

// Condition types, as Flux's fluxcd/pkg/apis/meta and the controllers'
// APIs name them, plus Skiff's NotSupported.
const (
	ReadyCondition       = "Ready"
	ReconcilingCondition = "Reconciling"
	StalledCondition     = "Stalled"
	HealthyCondition     = "Healthy"
	// ArtifactInStorageCondition and FetchFailedCondition are
	// source-controller's.
	ArtifactInStorageCondition = "ArtifactInStorage"
	FetchFailedCondition       = "FetchFailed"
	// NotSupportedCondition is Skiff's own: True when the spec sets fields
	// Skiff does not implement, naming them, so that nothing is silently
	// ignored. Flux has no such condition.
	NotSupportedCondition = "NotSupported"
)

// Condition reasons, as Flux writes them.
const (
	SucceededReason              = "Succeeded"
	FailedReason                 = "Failed"
	ProgressingReason            = "Progressing"
	ProgressingWithRetryReason   = "ProgressingWithRetry"
	NewRevisionReason            = "NewRevision"
	GitOperationFailedReason     = "GitOperationFailed"
	AuthenticationFailedReason   = "AuthenticationFailed"
	StorageOperationFailedReason = "StorageOperationFailed"
	URLInvalidReason             = "URLInvalid"
	ReconciliationSucceeded      = "ReconciliationSucceeded"
	ReconciliationFailed         = "ReconciliationFailed"
	ArtifactFailedReason         = "ArtifactFailed"
	BuildFailedReason            = "BuildFailed"
	HealthCheckFailedReason      = "HealthCheckFailed"
	DependencyNotReadyReason     = "DependencyNotReady"
	PruneFailedReason            = "PruneFailed"
	NotSupportedReason           = "NotSupported"
)

// RequestedAtAnnotation is what `flux reconcile` sets to ask for a
// reconcile now; the controllers record the value they handled in
// status.lastHandledReconcileAt.
const RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// RequestedAt returns the annotation's value, "" when absent.
func RequestedAt(o metav1.Object) string { return o.GetAnnotations()[RequestedAtAnnotation] }

// FromUnstructured converts what the dynamic client or a dynamic informer
// returns into a typed Flux object (a deep copy: the cache is untouched).
func FromUnstructured[T any, P interface {
	*T
	runtime.Object
}](obj any) (P, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("want *unstructured.Unstructured, got %T", obj)
	}
	out := P(new(T))
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), out); err != nil {
		return nil, fmt.Errorf("decode %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return out, nil
}

// ToUnstructured converts a typed object for the dynamic client.
func ToUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// UpdateStatus writes obj's status through the status subresource of gvr.
// obj must carry the resourceVersion it was read at, so that a write
// based on a stale read fails with a conflict and is retried; on success
// obj gets the new resourceVersion, so the caller may write again.
func UpdateStatus(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, obj interface {
	runtime.Object
	metav1.Object
}, gvk schema.GroupVersionKind) error {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	u, err := ToUnstructured(obj)
	if err != nil {
		return err
	}
	out, err := dyn.Resource(gvr).Namespace(u.GetNamespace()).UpdateStatus(ctx, u, metav1.UpdateOptions{FieldManager: "skiff-gitsync"})
	if err != nil {
		return fmt.Errorf("update status of %s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
	}
	obj.SetResourceVersion(out.GetResourceVersion())
	return nil
}

// StatusChanged reports whether two statuses differ other than in the
// timestamps SetCondition keeps, so an unchanged reconcile writes nothing.
func StatusChanged(old, new any) bool { return !apiequality.Semantic.DeepEqual(old, new) }

// SetCondition sets a condition, keeping lastTransitionTime when the
// status does not change (meta.SetStatusCondition's rule), and stamps
// observedGeneration.
func SetCondition(conds *[]metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: generation})
}

// RemoveCondition deletes a condition type.
func RemoveCondition(conds *[]metav1.Condition, typ string) { meta.RemoveStatusCondition(conds, typ) }

// FindCondition returns a condition, nil when absent.
func FindCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}

// SetNotSupported writes (or clears) the NotSupported condition for the
// given spec fields, e.g. "spec.verify".
func SetNotSupported(conds *[]metav1.Condition, generation int64, fields []string) {
	if len(fields) == 0 {
		RemoveCondition(conds, NotSupportedCondition)
		return
	}
	fields = slices.Clone(fields)
	slices.Sort(fields)
	SetCondition(conds, generation, NotSupportedCondition, metav1.ConditionTrue, NotSupportedReason,
		"fields not supported by Skiff: "+strings.Join(fields, ", "))
}

// SortConditions puts conditions in Flux's order (Ready, then Reconciling,
// Stalled, then the rest by type), so that `kubectl describe` reads the
// same way on every run.
func SortConditions(conds []metav1.Condition) {
	rank := func(t string) int {
		switch t {
		case ReadyCondition:
			return 0
		case ReconcilingCondition:
			return 1
		case StalledCondition:
			return 2
		}
		return 3
	}
	slices.SortStableFunc(conds, func(a, b metav1.Condition) int {
		if d := rank(a.Type) - rank(b.Type); d != 0 {
			return d
		}
		return strings.Compare(a.Type, b.Type)
	})
}
