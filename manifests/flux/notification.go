package flux

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Receiver turns webhook calls into reconcile requests for its resources.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type Receiver struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ReceiverSpec   `json:"spec,omitempty"`
	Status ReceiverStatus `json:"status,omitempty"`
}

// ReceiverList is a list of Receivers.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type ReceiverList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Receiver `json:"items"`
}

// ReceiverSpec is which webhooks to accept and what they trigger.
type ReceiverSpec struct {
	Type           string                          `json:"type"`
	Interval       *Duration                       `json:"interval,omitempty"`
	Events         []string                        `json:"events,omitempty"`
	Resources      []CrossNamespaceObjectReference `json:"resources"`
	ResourceFilter string                          `json:"resourceFilter,omitempty"`
	SecretRef      LocalObjectReference            `json:"secretRef"`
	Suspend        bool                            `json:"suspend,omitempty"`
}

// CrossNamespaceObjectReference names the objects a webhook triggers.
type CrossNamespaceObjectReference struct {
	APIVersion  string            `json:"apiVersion,omitempty"`
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// ReceiverStatus is what the notification controller observed.
type ReceiverStatus struct {
	ReconcileRequestStatus `json:",inline"`
	Conditions             []metav1.Condition `json:"conditions,omitempty"`
	WebhookPath            string             `json:"webhookPath,omitempty"`
	ObservedGeneration     int64              `json:"observedGeneration,omitempty"`
}

// ReceiverDefaultAPIVersions are the apiVersions Flux's receiver assumes
// for a spec.resources entry that names no apiVersion. The Receiver
// controller checks references with it and the API server's webhook
// endpoint resolves them with it.
var ReceiverDefaultAPIVersions = map[string]string{
	"Bucket":          "source.toolkit.fluxcd.io/v1",
	"HelmChart":       "source.toolkit.fluxcd.io/v1",
	"HelmRepository":  "source.toolkit.fluxcd.io/v1",
	"GitRepository":   "source.toolkit.fluxcd.io/v1",
	"OCIRepository":   "source.toolkit.fluxcd.io/v1beta2",
	"ImageRepository": "image.toolkit.fluxcd.io/v1beta2",
}
