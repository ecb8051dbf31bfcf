package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateNamespace checks a new Namespace.
func ValidateNamespace(obj *corev1.Namespace) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, false, ValidateNamespaceName, field.NewPath("metadata"))
}

// ValidateNamespaceUpdate checks a change to a Namespace.
func ValidateNamespaceUpdate(obj, old *corev1.Namespace) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidatePod checks a new Pod.
func ValidatePod(obj *corev1.Pod) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidatePodUpdate checks a change to a Pod.
func ValidatePodUpdate(obj, old *corev1.Pod) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateService checks a new Service.
func ValidateService(obj *corev1.Service) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNS1035Label, field.NewPath("metadata"))
}

// ValidateServiceUpdate checks a change to a Service.
func ValidateServiceUpdate(obj, old *corev1.Service) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateEndpoints checks a new Endpoints.
func ValidateEndpoints(obj *corev1.Endpoints) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateEndpointsUpdate checks a change to a Endpoints.
func ValidateEndpointsUpdate(obj, old *corev1.Endpoints) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateConfigMap checks a new ConfigMap.
func ValidateConfigMap(obj *corev1.ConfigMap) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateConfigMapUpdate checks a change to a ConfigMap.
func ValidateConfigMapUpdate(obj, old *corev1.ConfigMap) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateSecret checks a new Secret.
func ValidateSecret(obj *corev1.Secret) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateSecretUpdate checks a change to a Secret.
func ValidateSecretUpdate(obj, old *corev1.Secret) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateServiceAccount checks a new ServiceAccount.
func ValidateServiceAccount(obj *corev1.ServiceAccount) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateServiceAccountUpdate checks a change to a ServiceAccount.
func ValidateServiceAccountUpdate(obj, old *corev1.ServiceAccount) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateNode checks a new Node.
func ValidateNode(obj *corev1.Node) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, false, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateNodeUpdate checks a change to a Node.
func ValidateNodeUpdate(obj, old *corev1.Node) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateEvent checks a new Event.
func ValidateEvent(obj *corev1.Event) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateEventUpdate checks a change to a Event.
func ValidateEventUpdate(obj, old *corev1.Event) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateDeployment checks a new Deployment.
func ValidateDeployment(obj *appsv1.Deployment) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateDeploymentUpdate checks a change to a Deployment.
func ValidateDeploymentUpdate(obj, old *appsv1.Deployment) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateReplicaSet checks a new ReplicaSet.
func ValidateReplicaSet(obj *appsv1.ReplicaSet) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateReplicaSetUpdate checks a change to a ReplicaSet.
func ValidateReplicaSetUpdate(obj, old *appsv1.ReplicaSet) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateStatefulSet checks a new StatefulSet.
func ValidateStatefulSet(obj *appsv1.StatefulSet) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateStatefulSetUpdate checks a change to a StatefulSet.
func ValidateStatefulSetUpdate(obj, old *appsv1.StatefulSet) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateDaemonSet checks a new DaemonSet.
func ValidateDaemonSet(obj *appsv1.DaemonSet) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateDaemonSetUpdate checks a change to a DaemonSet.
func ValidateDaemonSetUpdate(obj, old *appsv1.DaemonSet) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateControllerRevision checks a new ControllerRevision.
func ValidateControllerRevision(obj *appsv1.ControllerRevision) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateControllerRevisionUpdate checks a change to a ControllerRevision.
func ValidateControllerRevisionUpdate(obj, old *appsv1.ControllerRevision) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateJob checks a new Job.
func ValidateJob(obj *batchv1.Job) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateJobUpdate checks a change to a Job.
func ValidateJobUpdate(obj, old *batchv1.Job) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateCronJob checks a new CronJob.
func ValidateCronJob(obj *batchv1.CronJob) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateCronJobUpdate checks a change to a CronJob.
func ValidateCronJobUpdate(obj, old *batchv1.CronJob) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateEndpointSlice checks a new EndpointSlice.
func ValidateEndpointSlice(obj *discoveryv1.EndpointSlice) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateEndpointSliceUpdate checks a change to a EndpointSlice.
func ValidateEndpointSliceUpdate(obj, old *discoveryv1.EndpointSlice) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateLease checks a new Lease.
func ValidateLease(obj *coordinationv1.Lease) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateLeaseUpdate checks a change to a Lease.
func ValidateLeaseUpdate(obj, old *coordinationv1.Lease) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateEventsV1Event checks a new Event.
func ValidateEventsV1Event(obj *eventsv1.Event) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateEventsV1EventUpdate checks a change to a Event.
func ValidateEventsV1EventUpdate(obj, old *eventsv1.Event) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// ValidateIngress checks a new Ingress.
func ValidateIngress(obj *networkingv1.Ingress) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ValidateIngressUpdate checks a change to a Ingress.
func ValidateIngressUpdate(obj, old *networkingv1.Ingress) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}
