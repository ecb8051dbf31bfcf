package validation

import (
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Name rules, as Kubernetes applies them per kind.
var (
	// NameIsDNSSubdomain: lower-case RFC 1123 subdomain, ≤253 characters.
	NameIsDNSSubdomain = apivalidation.NameIsDNSSubdomain
	// NameIsDNSLabel: lower-case RFC 1123 label, ≤63 characters.
	NameIsDNSLabel = apivalidation.NameIsDNSLabel
	// NameIsDNS1035Label: RFC 1035 label (starts with a letter), ≤63 characters.
	NameIsDNS1035Label = apivalidation.NameIsDNS1035Label
	// ValidateNamespaceName: namespaces are DNS labels.
	ValidateNamespaceName = apivalidation.ValidateNamespaceName
	// NameIsPathSegment: anything that can be one segment of a URL path; the
	// only rule for kinds without a stricter one (core/v1 Events).
	NameIsPathSegment = path.ValidatePathSegmentName
)

// standardFinalizers are the finalizer names Kubernetes accepts without a
// domain prefix.
var standardFinalizers = map[string]bool{
	"kubernetes":                     true,
	metav1.FinalizerOrphanDependents: true,
	metav1.FinalizerDeleteDependents: true,
}

// objectMeta validates the metadata of a new object the way the core,
// apps, batch, discovery and networking groups do: the generic rules plus a
// check that unprefixed finalizers are standard ones.
func objectMeta(meta *metav1.ObjectMeta, namespaced bool, nameFn apivalidation.ValidateNameFunc, fldPath *field.Path) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(meta, namespaced, nameFn, fldPath)
	for i, f := range meta.Finalizers {
		allErrs = append(allErrs, kubeFinalizerName(f, fldPath.Child("finalizers").Index(i))...)
	}
	return allErrs
}

// objectMetaUpdate validates a change of metadata (immutable name, UID,
// namespace, …) plus the finalizer names of the new object.
func objectMetaUpdate(meta, old *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(meta, old, fldPath)
	for i, f := range meta.Finalizers {
		allErrs = append(allErrs, kubeFinalizerName(f, fldPath.Child("finalizers").Index(i))...)
	}
	return allErrs
}

func kubeFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	if !strings.Contains(name, "/") && !standardFinalizers[name] {
		return field.ErrorList{field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified")}
	}
	return nil
}

func dns1123Label(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

func dns1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

func qualifiedName(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsQualifiedName(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// objectName applies a name rule to a reference to another object.
func objectName(fn apivalidation.ValidateNameFunc, value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range fn(value, false) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

func nonNegative(value int64, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(value, fldPath)
}

func immutable(value, old any, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(value, old, fldPath)
}

// unreported is the path of a check whose errors are only counted, such as
// "did the stored object already break this rule?".
func unreported() *field.Path { return field.NewPath("") }
