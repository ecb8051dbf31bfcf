package podsecurity

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// The safe sysctls: namespaced to the pod and isolated from other pods on
// the node. The standards grow the set; each version keeps its own.
var (
	safeSysctls1_0 = sets.New(
		"kernel.shm_rmid_forced",
		"net.ipv4.ip_local_port_range",
		"net.ipv4.tcp_syncookies",
		"net.ipv4.ping_group_range",
		"net.ipv4.ip_unprivileged_port_start",
	)
	safeSysctls1_27 = safeSysctls1_0.Union(sets.New("net.ipv4.ip_local_reserved_ports"))
	safeSysctls1_29 = safeSysctls1_27.Union(sets.New(
		"net.ipv4.tcp_keepalive_time",
		"net.ipv4.tcp_fin_timeout",
		"net.ipv4.tcp_keepalive_intvl",
		"net.ipv4.tcp_keepalive_probes",
	))
	safeSysctls1_32 = safeSysctls1_29.Union(sets.New("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"))
	safeSysctls1_37 = safeSysctls1_32.Union(sets.New("net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"))
)

// Sysctls (baseline): spec.securityContext.sysctls may set only safe
// sysctls. Names are compared as written, like upstream: the slash form of
// a safe name is refused, which errs on the safe side.
func sysctls(safe sets.Set[string]) checkFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
		if spec.SecurityContext == nil {
			return nil
		}
		var bad []string
		for _, s := range spec.SecurityContext.Sysctls {
			if !safe.Has(s.Name) {
				bad = append(bad, s.Name)
			}
		}
		if len(bad) == 0 {
			return nil
		}
		return &Violation{Control: "forbidden sysctls", Detail: strings.Join(bad, ", ")}
	}
}
