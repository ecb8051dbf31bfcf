package podsecurity

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// AppArmor (baseline): the runtime's default profile applies unless a pod
// opts out, and baseline forbids opting out.
//
//	spec.securityContext.appArmorProfile.type, and every container's:
//	  RuntimeDefault, Localhost, undefined
//	metadata.annotations["container.apparmor.security.beta.kubernetes.io/*"]:
//	  runtime/default, localhost/*, empty
func appArmorProfile(meta *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	allowedType := func(t corev1.AppArmorProfileType) bool {
		return t == corev1.AppArmorProfileTypeRuntimeDefault || t == corev1.AppArmorProfileTypeLocalhost
	}
	var setters []string
	badTypes := sets.New[string]()
	if sc := spec.SecurityContext; sc != nil && sc.AppArmorProfile != nil && !allowedType(sc.AppArmorProfile.Type) {
		setters = append(setters, "pod")
		badTypes.Insert(string(sc.AppArmorProfile.Type))
	}
	var containers []string
	visitContainers(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.AppArmorProfile != nil && !allowedType(sc.AppArmorProfile.Type) {
			containers = append(containers, c.Name)
			badTypes.Insert(string(sc.AppArmorProfile.Type))
		}
	})
	if len(containers) > 0 {
		setters = append(setters, containersPhrase(containers))
	}
	var annotations []string
	for k, v := range meta.Annotations {
		if !strings.HasPrefix(k, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix) {
			continue
		}
		if v == "" || v == corev1.DeprecatedAppArmorBetaProfileRuntimeDefault || strings.HasPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix) {
			continue
		}
		annotations = append(annotations, fmt.Sprintf("%s=%q", k, v))
	}
	values := sets.List(badTypes)
	if len(annotations) > 0 {
		sort.Strings(annotations)
		values = append(values, annotations...)
		setters = append(setters, pluralize("annotation", "annotations", len(annotations)))
	}
	if len(setters) == 0 {
		return nil
	}
	return &Violation{
		Control: pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
		Detail:  fmt.Sprintf("%s must not set AppArmor profile type to %s", strings.Join(setters, " and "), joinQuote(values)),
	}
}
