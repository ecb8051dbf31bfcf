package defaults

import corev1 "k8s.io/api/core/v1"

// PodSpec fills the defaults of a pod spec; workload kinds call it on their
// pod templates.
func PodSpec(spec *corev1.PodSpec) {}

// PodTemplateSpec fills the defaults of a pod template.
func PodTemplateSpec(tmpl *corev1.PodTemplateSpec) { PodSpec(&tmpl.Spec) }
