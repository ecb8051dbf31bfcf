package defaults

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Namespace fills the fields of a Namespace that the Kubernetes API server defaults.
func Namespace(obj *corev1.Namespace) {}

// Pod fills the fields of a Pod that the Kubernetes API server defaults.
func Pod(obj *corev1.Pod) {}

// Service fills the fields of a Service that the Kubernetes API server defaults.
func Service(obj *corev1.Service) {}

// Endpoints fills the fields of a Endpoints that the Kubernetes API server defaults.
func Endpoints(obj *corev1.Endpoints) {}

// ConfigMap fills the fields of a ConfigMap that the Kubernetes API server defaults.
func ConfigMap(obj *corev1.ConfigMap) {}

// Secret fills the fields of a Secret that the Kubernetes API server defaults.
func Secret(obj *corev1.Secret) {}

// ServiceAccount fills the fields of a ServiceAccount that the Kubernetes API server defaults.
func ServiceAccount(obj *corev1.ServiceAccount) {}

// Node fills the fields of a Node that the Kubernetes API server defaults.
func Node(obj *corev1.Node) {}

// Event fills the fields of a Event that the Kubernetes API server defaults.
func Event(obj *corev1.Event) {}

// Deployment fills the fields of a Deployment that the Kubernetes API server defaults.
func Deployment(obj *appsv1.Deployment) {}

// ReplicaSet fills the fields of a ReplicaSet that the Kubernetes API server defaults.
func ReplicaSet(obj *appsv1.ReplicaSet) {}

// StatefulSet fills the fields of a StatefulSet that the Kubernetes API server defaults.
func StatefulSet(obj *appsv1.StatefulSet) {}

// DaemonSet fills the fields of a DaemonSet that the Kubernetes API server defaults.
func DaemonSet(obj *appsv1.DaemonSet) {}

// ControllerRevision fills the fields of a ControllerRevision that the Kubernetes API server defaults.
func ControllerRevision(obj *appsv1.ControllerRevision) {}

// Job fills the fields of a Job that the Kubernetes API server defaults.
func Job(obj *batchv1.Job) {}

// CronJob fills the fields of a CronJob that the Kubernetes API server defaults.
func CronJob(obj *batchv1.CronJob) {}

// EndpointSlice fills the fields of a EndpointSlice that the Kubernetes API server defaults.
func EndpointSlice(obj *discoveryv1.EndpointSlice) {}

// Lease fills the fields of a Lease that the Kubernetes API server defaults.
func Lease(obj *coordinationv1.Lease) {}

// EventsV1Event fills the fields of a Event that the Kubernetes API server defaults.
func EventsV1Event(obj *eventsv1.Event) {}

// Ingress fills the fields of a Ingress that the Kubernetes API server defaults.
func Ingress(obj *networkingv1.Ingress) {}
