package podsecurity

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// baselineCapabilities are the capabilities a container runtime grants by
// default, minus NET_RAW: adding any of them grants nothing new.
var baselineCapabilities = sets.New(
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)

// Capabilities (baseline): securityContext.capabilities.add of every
// container may hold only the baseline set.
func capabilitiesBaseline(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var containers []string
	added := sets.New[string]()
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
			return
		}
		bad := false
		for _, cp := range c.SecurityContext.Capabilities.Add {
			if !baselineCapabilities.Has(string(cp)) {
				bad = true
				added.Insert(string(cp))
			}
		}
		if bad {
			containers = append(containers, c.Name)
		}
	})
	if len(containers) == 0 {
		return nil
	}
	return &Violation{
		Control: "non-default capabilities",
		Detail:  fmt.Sprintf("%s must not include %s in securityContext.capabilities.add", containersPhrase(containers), joinQuote(sets.List(added))),
	}
}

// Capabilities (restricted, 1.22+): every container must drop ALL and may
// add back only NET_BIND_SERVICE.
func capabilitiesRestricted(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var missingDrop, adding []string
	added := sets.New[string]()
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
			missingDrop = append(missingDrop, c.Name)
			return
		}
		caps := c.SecurityContext.Capabilities
		dropsAll := false
		for _, cp := range caps.Drop {
			if cp == "ALL" {
				dropsAll = true
				break
			}
		}
		if !dropsAll {
			missingDrop = append(missingDrop, c.Name)
		}
		bad := false
		for _, cp := range caps.Add {
			if cp != "NET_BIND_SERVICE" {
				bad = true
				added.Insert(string(cp))
			}
		}
		if bad {
			adding = append(adding, c.Name)
		}
	})
	var details []string
	if len(missingDrop) > 0 {
		details = append(details, fmt.Sprintf(`%s must set securityContext.capabilities.drop=["ALL"]`, containersPhrase(missingDrop)))
	}
	if len(adding) > 0 {
		details = append(details, fmt.Sprintf("%s must not include %s in securityContext.capabilities.add", containersPhrase(adding), joinQuote(sets.List(added))))
	}
	if len(details) == 0 {
		return nil
	}
	return &Violation{Control: "unrestricted capabilities", Detail: strings.Join(details, "; ")}
}
