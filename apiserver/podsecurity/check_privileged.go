package podsecurity

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Privileged containers (baseline): securityContext.privileged must not be
// true — a privileged container disables nearly every isolation.
func privileged(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var containers []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			containers = append(containers, c.Name)
		}
	})
	if len(containers) == 0 {
		return nil
	}
	return &Violation{Control: "privileged", Detail: containersPhrase(containers) + " must not set securityContext.privileged=true"}
}

// /proc mount type (baseline; restricted from 1.35 under its own ID):
// securityContext.procMount must be Default or unset, keeping the
// runtime's masks over sensitive /proc paths.
func procMount(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var containers []string
	types := sets.New[string]()
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.ProcMount == nil {
			return
		}
		if t := *c.SecurityContext.ProcMount; t != corev1.DefaultProcMount {
			containers = append(containers, c.Name)
			types.Insert(string(t))
		}
	})
	if len(containers) == 0 {
		return nil
	}
	return &Violation{
		Control: "procMount",
		Detail:  fmt.Sprintf("%s must not set securityContext.procMount to %s", containersPhrase(containers), joinQuote(sets.List(types))),
	}
}
