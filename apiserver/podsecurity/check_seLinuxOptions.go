package podsecurity

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// The SELinux types a pod may ask for: the container types of the
// standard policies (container_engine_t from 1.31, for nested runtimes).
var (
	seLinuxTypes1_0  = sets.New("", "container_t", "container_init_t", "container_kvm_t")
	seLinuxTypes1_31 = seLinuxTypes1_0.Union(sets.New("container_engine_t"))
)

// SELinux (baseline): seLinuxOptions.type of the pod and of every
// container must be one of the allowed types; user and role must be unset.
func seLinuxOptions(allowed sets.Set[string]) checkFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
		badTypes := sets.New[string]()
		setUser, setRole := false, false
		valid := func(o *corev1.SELinuxOptions) bool {
			ok := true
			if !allowed.Has(o.Type) {
				ok = false
				badTypes.Insert(o.Type)
			}
			if o.User != "" {
				ok, setUser = false, true
			}
			if o.Role != "" {
				ok, setRole = false, true
			}
			return ok
		}
		var setters []string
		if sc := spec.SecurityContext; sc != nil && sc.SELinuxOptions != nil && !valid(sc.SELinuxOptions) {
			setters = append(setters, "pod")
		}
		var containers []string
		visitContainers(spec, func(c *corev1.Container) {
			if sc := c.SecurityContext; sc != nil && sc.SELinuxOptions != nil && !valid(sc.SELinuxOptions) {
				containers = append(containers, c.Name)
			}
		})
		if len(containers) > 0 {
			setters = append(setters, containersPhrase(containers))
		}
		if len(setters) == 0 {
			return nil
		}
		var what []string
		if badTypes.Len() > 0 {
			what = append(what, pluralize("type", "types", badTypes.Len())+" "+joinQuote(sets.List(badTypes)))
		}
		if setUser {
			what = append(what, "user may not be set")
		}
		if setRole {
			what = append(what, "role may not be set")
		}
		return &Violation{
			Control: "seLinuxOptions",
			Detail:  fmt.Sprintf("%s set forbidden securityContext.seLinuxOptions: %s", strings.Join(setters, " and "), strings.Join(what, "; ")),
		}
	}
}
