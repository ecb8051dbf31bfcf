package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePodSpec checks a pod spec at fldPath. Workload kinds (Deployment,
// Job, …) call it on their pod templates so the rules live in one place.
func ValidatePodSpec(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(fldPath.Child("containers"), ""))
	}
	return errs
}

// ValidatePodTemplateSpec checks a pod template (labels, annotations and
// spec) at fldPath.
func ValidatePodTemplateSpec(tmpl *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	return ValidatePodSpec(&tmpl.Spec, fldPath.Child("spec"))
}
