package validation

import (
	"reflect"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The self reviews (kubectl auth can-i, auth can-i --list, auth whoami)
// are questions, not objects: nothing is stored, so, as kube-apiserver
// requires, their metadata must be empty.

// ValidateSelfSubjectAccessReview checks the question `kubectl auth can-i`
// asks: exactly one of resourceAttributes and nonResourceAttributes.
func ValidateSelfSubjectAccessReview(obj *authorizationv1.SelfSubjectAccessReview) field.ErrorList {
	allErrs := emptyReviewMeta(obj.ObjectMeta)
	spec, fldPath := obj.Spec, field.NewPath("spec")
	switch {
	case spec.ResourceAttributes != nil && spec.NonResourceAttributes != nil:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("nonResourceAttributes"), spec.NonResourceAttributes, "cannot be specified in combination with resourceAttributes"))
	case spec.ResourceAttributes == nil && spec.NonResourceAttributes == nil:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("resourceAttributes"), spec.NonResourceAttributes, "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
	}
	return allErrs
}

// ValidateSelfSubjectRulesReview checks `kubectl auth can-i --list`'s
// question; its namespace may be empty (cluster-scoped rules only).
func ValidateSelfSubjectRulesReview(obj *authorizationv1.SelfSubjectRulesReview) field.ErrorList {
	return emptyReviewMeta(obj.ObjectMeta)
}

// ValidateSelfSubjectReview checks `kubectl auth whoami`'s question.
func ValidateSelfSubjectReview(obj *authenticationv1.SelfSubjectReview) field.ErrorList {
	return emptyReviewMeta(obj.ObjectMeta)
}

func emptyReviewMeta(meta metav1.ObjectMeta) field.ErrorList {
	meta.ManagedFields = nil
	if !reflect.DeepEqual(metav1.ObjectMeta{}, meta) {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), meta, "must be empty")}
	}
	return nil
}
