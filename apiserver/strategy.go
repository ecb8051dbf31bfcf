package apiserver

import (
	"reflect"
	"time"

	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-dev/skiff/manifests/defaults"
	"github.com/skiff-dev/skiff/manifests/flux"
)

// The strategy is what kube-apiserver's per-type rest strategies do to an
// object on its way in: system-owned metadata, the split between the main
// resource (spec) and the status subresource, and metadata.generation.
// It works on any k8s.io/api type through its Spec and Status fields.

// generationKinds are the kinds whose strategy tracks metadata.generation
// (bumped when the spec changes) in Kubernetes.
var generationKinds = map[schema.GroupVersionKind]bool{
	corev1.SchemeGroupVersion.WithKind("Pod"):                   true,
	appsv1.SchemeGroupVersion.WithKind("Deployment"):            true,
	appsv1.SchemeGroupVersion.WithKind("ReplicaSet"):            true,
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"):           true,
	appsv1.SchemeGroupVersion.WithKind("DaemonSet"):             true,
	batchv1.SchemeGroupVersion.WithKind("Job"):                  true,
	batchv1.SchemeGroupVersion.WithKind("CronJob"):              true,
	networkingv1.SchemeGroupVersion.WithKind("Ingress"):         true,
	corev1.SchemeGroupVersion.WithKind("ReplicationController"): true,
	// EndpointSlices have no spec: the endpoints and ports are the
	// "spec" (specChanged compares everything but metadata).
	discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"): true,
	// Custom resources (Flux's, served from Go types here) get a
	// generation from the API server, bumped on spec changes; Flux's
	// status.observedGeneration is compared against it.
	flux.GitRepositoryKind: true,
	flux.KustomizationKind: true,
	flux.ReceiverKind:      true,
}

// keepStatusOnCreate are kinds whose status may be set by the creator
// (the node agent registers a Node with its status).
var keepStatusOnCreate = map[schema.GroupVersionKind]bool{
	corev1.SchemeGroupVersion.WithKind("Node"): true,
}

func structField(obj runtime.Object, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.Elem().FieldByName(name)
	return f, f.IsValid() && f.CanSet()
}

// copyField sets dst.<name> to a deep copy of src.<name>.
func copyField(dst, src runtime.Object, name string) {
	d, ok := structField(dst, name)
	if !ok {
		return
	}
	c, ok := structField(src.DeepCopyObject(), name)
	if !ok {
		return
	}
	d.Set(c)
}

func resetField(obj runtime.Object, name string) {
	if f, ok := structField(obj, name); ok {
		f.Set(reflect.Zero(f.Type()))
	}
}

// specChanged reports whether anything outside metadata and status differs.
// keepSystemMeta carries the metadata no update may change over from the
// stored object (kube-apiserver's rest.BeforeUpdate).
func keepSystemMeta(obj, old runtime.Object) {
	m, _ := meta.Accessor(obj)
	om, _ := meta.Accessor(old)
	// A UID in the update is a precondition (validation refuses a
	// different one as immutable, as kube-apiserver does); none means "this one".
	if m.GetUID() == "" {
		m.SetUID(om.GetUID())
	}
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetDeletionTimestamp(om.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	m.SetManagedFields(om.GetManagedFields())
	m.SetSelfLink("")
	m.SetGeneration(om.GetGeneration())
}

// generationChanges says whether an update bumps metadata.generation: a
// spec change, and for Deployments an annotation change too (kube-apiserver
// does so because rollbacks were once requested by annotation).
func generationChanges(obj, old runtime.Object) bool {
	if d, ok := obj.(*appsv1.Deployment); ok && !equality.Semantic.DeepEqual(d.Annotations, old.(*appsv1.Deployment).Annotations) {
		return true
	}
	return specChanged(obj, old)
}

func specChanged(a, b runtime.Object) bool {
	if f1, ok := structField(a, "Spec"); ok {
		f2, _ := structField(b, "Spec")
		return !equality.Semantic.DeepEqual(f1.Interface(), f2.Interface())
	}
	ac, bc := a.DeepCopyObject(), b.DeepCopyObject()
	for _, o := range []runtime.Object{ac, bc} {
		resetField(o, "ObjectMeta")
		resetField(o, "Status")
		resetField(o, "TypeMeta")
	}
	return !equality.Semantic.DeepEqual(ac, bc)
}

// prepareForCreate sets the system-owned fields of a new object.
func (res *resource) prepareForCreate(obj runtime.Object, now time.Time) {
	m, _ := meta.Accessor(obj)
	m.SetUID(types.UID(uuid.NewString()))
	m.SetCreationTimestamp(metav1.NewTime(now.Truncate(time.Second)))
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetManagedFields(nil)
	m.SetSelfLink("")
	m.SetGeneration(0)
	if generationKinds[res.t.GroupVersionKind] {
		m.SetGeneration(1)
	}
	if res.t.HasStatus() && !keepStatusOnCreate[res.t.GroupVersionKind] {
		resetField(obj, "Status")
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status.Phase = corev1.PodPending
		o.Status.QOSClass = defaults.PodQOSClass(o)
		if o.Spec.NodeName != "" {
			// A pod created already bound counts as scheduled.
			o.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second))}}
		}
	case *corev1.Namespace:
		o.Status.Phase = corev1.NamespaceActive
	case *batchv1.Job:
		// The generated selector names the Job's UID, assigned just above.
		defaults.JobSelector(o)
	}
}

// prepareForUpdate carries the system-owned fields over from the existing
// object and keeps the half of the object the subresource may not change.
// It returns the object to store, which may be a new object.
func (res *resource) prepareForUpdate(obj, old runtime.Object, subresource string) runtime.Object {
	switch subresource {
	case "status":
		// The spec comes from the existing object; metadata other than
		// the system-owned fields may change, as with the built-in
		// kinds' status strategies in kube-apiserver (the upstream
		// deployment controller writes the revision annotation through
		// deployments/status). Newer APIs reset metadata too
		// (ResetObjectMetaForStatus); Skiff serves none of those.
		copyField(obj, old, "Spec")
		keepSystemMeta(obj, old)
		switch o := obj.(type) {
		case *corev1.Pod:
			// Old kubelets corrupted owner references through pods/status.
			o.OwnerReferences = old.(*corev1.Pod).OwnerReferences
		case *appsv1.Deployment:
			// Labels select; only a spec update may change them.
			o.Labels = old.(*appsv1.Deployment).Labels
		}
		return obj
	case "binding":
		// The binding handler changed only spec.nodeName, annotations and
		// the PodScheduled condition of a copy of the current object.
		return obj
	case "ephemeralcontainers":
		// Only the ephemeral containers change (kubectl debug); the rest
		// of the pod is the stored one.
		out := old.DeepCopyObject().(*corev1.Pod)
		out.Spec.EphemeralContainers = obj.(*corev1.Pod).Spec.EphemeralContainers
		out.ResourceVersion = obj.(*corev1.Pod).ResourceVersion
		return out
	case "finalize":
		out := old.DeepCopyObject().(*corev1.Namespace)
		out.Spec.Finalizers = obj.(*corev1.Namespace).Spec.Finalizers
		out.ResourceVersion = obj.(*corev1.Namespace).ResourceVersion
		return out
	}
	keepSystemMeta(obj, old)
	if res.t.HasStatus() {
		copyField(obj, old, "Status")
	}
	if generationKinds[res.t.GroupVersionKind] && generationChanges(obj, old) {
		m, _ := meta.Accessor(obj)
		m.SetGeneration(m.GetGeneration() + 1)
	}
	switch o := obj.(type) {
	case *corev1.Namespace:
		o.Status = old.(*corev1.Namespace).Status
	case *corev1.Service:
		// A manifest re-applied without the allocated clusterIP and node
		// ports keeps them, as kube-apiserver's service storage does.
		defaults.ServiceForUpdate(o, old.(*corev1.Service))
	}
	return obj
}
