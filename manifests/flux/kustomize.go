package flux

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kustomization builds the manifests at a path of a source's artifact and
// applies them.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type Kustomization struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   KustomizationSpec   `json:"spec,omitempty"`
	Status KustomizationStatus `json:"status,omitempty"`
}

// KustomizationList is a list of Kustomizations.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type KustomizationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Kustomization `json:"items"`
}

// KustomizationSpec is what to build from which source, and how to apply it.
type KustomizationSpec struct {
	CommonMetadata          *CommonMetadata                 `json:"commonMetadata,omitempty"`
	DependsOn               []DependencyReference           `json:"dependsOn,omitempty"`
	Decryption              *Decryption                     `json:"decryption,omitempty"`
	Interval                Duration                        `json:"interval"`
	RetryInterval           *Duration                       `json:"retryInterval,omitempty"`
	KubeConfig              *KubeConfigReference            `json:"kubeConfig,omitempty"`
	Path                    string                          `json:"path,omitempty"`
	PostBuild               *PostBuild                      `json:"postBuild,omitempty"`
	Prune                   bool                            `json:"prune"`
	DeletionPolicy          string                          `json:"deletionPolicy,omitempty"`
	HealthChecks            []NamespacedObjectKindReference `json:"healthChecks,omitempty"`
	NamePrefix              string                          `json:"namePrefix,omitempty"`
	NameSuffix              string                          `json:"nameSuffix,omitempty"`
	Patches                 []Patch                         `json:"patches,omitempty"`
	Images                  []Image                         `json:"images,omitempty"`
	ServiceAccountName      string                          `json:"serviceAccountName,omitempty"`
	SourceRef               CrossNamespaceSourceReference   `json:"sourceRef"`
	Suspend                 bool                            `json:"suspend,omitempty"`
	TargetNamespace         string                          `json:"targetNamespace,omitempty"`
	Timeout                 *Duration                       `json:"timeout,omitempty"`
	Force                   bool                            `json:"force,omitempty"`
	Wait                    bool                            `json:"wait,omitempty"`
	Components              []string                        `json:"components,omitempty"`
	IgnoreMissingComponents bool                            `json:"ignoreMissingComponents,omitempty"`
	HealthCheckExprs        []CustomHealthCheck             `json:"healthCheckExprs,omitempty"`
	DriftIgnoreRules        []DriftIgnoreRule               `json:"driftIgnoreRules,omitempty"`
}

// CommonMetadata is the labels and annotations added to every applied
// object.
type CommonMetadata struct {
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// DependencyReference names a Kustomization that must be ready first.
type DependencyReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	ReadyExpr string `json:"readyExpr,omitempty"`
}

// Decryption is how encrypted Secrets are decrypted before they are applied.
type Decryption struct {
	Provider           string                `json:"provider"`
	ServiceAccountName string                `json:"serviceAccountName,omitempty"`
	SecretRef          *LocalObjectReference `json:"secretRef,omitempty"`
}

// PostBuild is the variable substitution run over the built manifests.
type PostBuild struct {
	Substitute     map[string]string     `json:"substitute,omitempty"`
	SubstituteFrom []SubstituteReference `json:"substituteFrom,omitempty"`
}

// SubstituteReference names a ConfigMap or Secret holding variables.
type SubstituteReference struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Optional bool   `json:"optional,omitempty"`
}

// CrossNamespaceSourceReference names the source of a Kustomization.
type CrossNamespaceSourceReference struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
}

// DriftIgnoreRule names JSON pointers that drift detection leaves alone.
type DriftIgnoreRule struct {
	Paths  []string  `json:"paths"`
	Target *Selector `json:"target,omitempty"`
}

// KustomizationStatus is what the kustomize controller observed and did.
type KustomizationStatus struct {
	ReconcileRequestStatus    `json:",inline"`
	ObservedGeneration        int64              `json:"observedGeneration,omitempty"`
	Conditions                []metav1.Condition `json:"conditions,omitempty"`
	LastAppliedRevision       string             `json:"lastAppliedRevision,omitempty"`
	LastAppliedOriginRevision string             `json:"lastAppliedOriginRevision,omitempty"`
	LastAttemptedRevision     string             `json:"lastAttemptedRevision,omitempty"`
	Inventory                 *ResourceInventory `json:"inventory,omitempty"`
	History                   []Snapshot         `json:"history,omitempty"`
}

// ResourceInventory lists the objects a Kustomization applied.
type ResourceInventory struct {
	Entries []ResourceRef `json:"entries"`
}

// ResourceRef locates one applied object.
type ResourceRef struct {
	// ID is "<namespace>_<name>_<group>_<kind>".
	ID      string `json:"id"`
	Version string `json:"v"`
}
