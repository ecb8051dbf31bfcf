package flux

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The types Flux's controllers share, from github.com/fluxcd/pkg/apis/meta
// and github.com/fluxcd/pkg/apis/kustomize.

// LocalObjectReference names an object in the referring object's namespace.
type LocalObjectReference struct {
	Name string `json:"name"`
}

// NamespacedObjectKindReference locates a typed object in any namespace.
type NamespacedObjectKindReference struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
}

// SecretKeyReference names one key of a Secret in the referring object's
// namespace.
type SecretKeyReference struct {
	Name string `json:"name"`
	Key  string `json:"key,omitempty"`
}

// KubeConfigReference locates the kubeconfig of a remote cluster.
type KubeConfigReference struct {
	SecretRef    *SecretKeyReference   `json:"secretRef,omitempty"`
	ConfigMapRef *LocalObjectReference `json:"configMapRef,omitempty"`
}

// ReconcileRequestStatus records the last handled value of the
// reconcile.fluxcd.io/requestedAt annotation.
type ReconcileRequestStatus struct {
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// Artifact is the output of a source reconciliation.
type Artifact struct {
	Path           string            `json:"path"`
	URL            string            `json:"url"`
	Revision       string            `json:"revision"`
	Digest         string            `json:"digest,omitempty"`
	LastUpdateTime metav1.Time       `json:"lastUpdateTime"`
	Size           *int64            `json:"size,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

// Snapshot is one entry of a reconciliation history.
type Snapshot struct {
	Digest                 string            `json:"digest"`
	FirstReconciled        metav1.Time       `json:"firstReconciled"`
	LastReconciled         metav1.Time       `json:"lastReconciled"`
	LastReconciledDuration Duration          `json:"lastReconciledDuration"`
	LastReconciledStatus   string            `json:"lastReconciledStatus"`
	TotalReconciliations   int64             `json:"totalReconciliations"`
	Metadata               map[string]string `json:"metadata,omitempty"`
}

// Image replaces an image's name, tag or digest (kustomize images).
type Image struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// Selector selects the objects a patch applies to.
type Selector struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	Name               string `json:"name,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
}

// Patch is a strategic merge or JSON 6902 patch and the objects it targets.
type Patch struct {
	Patch  string    `json:"patch,omitempty"`
	Target *Selector `json:"target,omitempty"`
}

// CustomHealthCheck judges the health of one kind of custom resource with
// CEL expressions.
type CustomHealthCheck struct {
	APIVersion             string `json:"apiVersion"`
	Kind                   string `json:"kind"`
	HealthCheckExpressions `json:",inline"`
}

// HealthCheckExpressions are the CEL expressions of a CustomHealthCheck.
type HealthCheckExpressions struct {
	InProgress string `json:"inProgress,omitempty"`
	Failed     string `json:"failed,omitempty"`
	Current    string `json:"current"`
}
