package ownerref

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Getter is the Get of a namespaced lister, e.g.
// DeploymentLister.Deployments(ns).
type Getter[T metav1.Object] interface {
	Get(name string) (T, error)
}

// Lister is the List of a namespaced lister, e.g.
// ReplicaSetLister.ReplicaSets(ns).
type Lister[T metav1.Object] interface {
	List(selector labels.Selector) ([]T, error)
}

// ResolveController returns the owner a controller reference names when
// it is of kind's Kind (any version, as kube-controller-manager's
// controllers check) and the cached object of that name is the very one
// the reference means (same UID, so not a namesake created since). It
// returns the zero T (nil) for a nil reference, another kind, an object
// not in the cache, or a namesake. objects is the owners' lister for the
// dependent's namespace.
func ResolveController[T metav1.Object](objects Getter[T], ref *metav1.OwnerReference, kind schema.GroupVersionKind) T {
	var none T
	if ref == nil || ref.Kind != kind.Kind {
		return none
	}
	return resolveUID(objects, ref)
}

// ResolveControllerOfVersion is ResolveController for controllers that
// also require the reference's apiVersion to be exactly kind's
// group/version (Skiff's ReplicaSet and Job controllers).
func ResolveControllerOfVersion[T metav1.Object](objects Getter[T], ref *metav1.OwnerReference, kind schema.GroupVersionKind) T {
	var none T
	if ref == nil || ref.Kind != kind.Kind || ref.APIVersion != kind.GroupVersion().String() {
		return none
	}
	return resolveUID(objects, ref)
}

func resolveUID[T metav1.Object](objects Getter[T], ref *metav1.OwnerReference) T {
	var none T
	obj, err := objects.Get(ref.Name)
	if err != nil || obj.GetUID() != ref.UID {
		return none
	}
	return obj
}

// Selecting returns the owners whose label selector matches an object's
// labels: the candidates to adopt it when it is an orphan. An object
// without labels has none; an owner whose selector is empty or invalid
// selects nothing (never everything), as upstream's listers'
// GetPod<Owner>s do. objects is the owners' lister for the object's
// namespace; selectorOf reads an owner's spec.selector. A failed list
// yields none: the caller is an event handler with no one to report to,
// and the informer's next event tries again.
func Selecting[T metav1.Object](objects Lister[T], objLabels map[string]string, selectorOf func(T) *metav1.LabelSelector) []T {
	if len(objLabels) == 0 {
		return nil
	}
	all, err := objects.List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []T
	for _, owner := range all {
		sel, err := metav1.LabelSelectorAsSelector(selectorOf(owner))
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(objLabels)) {
			continue
		}
		out = append(out, owner)
	}
	return out
}
