package podsecurity

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

func allowedSeccompType(t corev1.SeccompProfileType) bool {
	return t == corev1.SeccompProfileTypeRuntimeDefault || t == corev1.SeccompProfileTypeLocalhost
}

// Seccomp before 1.19 (baseline) was set by annotations; they may name
// only the runtime's default or a node-local profile.
func seccompAnnotations(meta *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	allowed := func(v string) bool {
		return v == corev1.SeccompProfileRuntimeDefault || v == corev1.DeprecatedSeccompProfileDockerDefault ||
			strings.HasPrefix(v, corev1.SeccompLocalhostProfileNamePrefix)
	}
	bad := sets.New[string]()
	if v, ok := meta.Annotations[corev1.SeccompPodAnnotationKey]; ok && !allowed(v) {
		bad.Insert(fmt.Sprintf("%s=%q", corev1.SeccompPodAnnotationKey, v))
	}
	visitContainers(spec, func(c *corev1.Container) {
		k := corev1.SeccompContainerAnnotationKeyPrefix + c.Name
		if v, ok := meta.Annotations[k]; ok && !allowed(v) {
			bad.Insert(fmt.Sprintf("%s=%q", k, v))
		}
	})
	if bad.Len() == 0 {
		return nil
	}
	return &Violation{
		Control: "seccompProfile",
		Detail:  fmt.Sprintf("forbidden %s %s", pluralize("annotation", "annotations", bad.Len()), strings.Join(sets.List(bad), ", ")),
	}
}

// seccompSetters finds the pod and containers that set a seccomp profile
// type other than RuntimeDefault or Localhost, and (for restricted) the
// containers that set none while the pod sets no valid one either.
func seccompSetters(spec *corev1.PodSpec) (setters []string, badTypes sets.Set[string], unset []string) {
	badTypes = sets.New[string]()
	podValid := false
	if sc := spec.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		if allowedSeccompType(sc.SeccompProfile.Type) {
			podValid = true
		} else {
			setters = append(setters, "pod")
			badTypes.Insert(string(sc.SeccompProfile.Type))
		}
	}
	var containers []string
	visitContainers(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
			if !allowedSeccompType(sc.SeccompProfile.Type) {
				containers = append(containers, c.Name)
				badTypes.Insert(string(sc.SeccompProfile.Type))
			}
		} else if !podValid {
			unset = append(unset, c.Name)
		}
	})
	if len(containers) > 0 {
		setters = append(setters, containersPhrase(containers))
	}
	return setters, badTypes, unset
}

func seccompForbidden(setters []string, badTypes sets.Set[string]) *Violation {
	return &Violation{
		Control: "seccompProfile",
		Detail:  fmt.Sprintf("%s must not set securityContext.seccompProfile.type to %s", strings.Join(setters, " and "), joinQuote(sets.List(badTypes))),
	}
}

// Seccomp (baseline, 1.19+): seccompProfile.type of the pod and of every
// container may be RuntimeDefault, Localhost or unset — never Unconfined.
func seccompProfileBaseline(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	setters, badTypes, _ := seccompSetters(spec)
	if len(setters) == 0 {
		return nil
	}
	return seccompForbidden(setters, badTypes)
}

// Seccomp (restricted, 1.19+): as baseline, and every container must end
// up with RuntimeDefault or Localhost, set on it or inherited from the pod.
func seccompProfileRestricted(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	setters, badTypes, unset := seccompSetters(spec)
	if len(setters) > 0 {
		return seccompForbidden(setters, badTypes)
	}
	if len(unset) == 0 {
		return nil
	}
	return &Violation{
		Control: "seccompProfile",
		Detail:  fmt.Sprintf(`pod or %s must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`, containersPhrase(unset)),
	}
}
