package nodeinfo

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Status is kubectl's STATUS column of a node and whether it is Ready.
func Status(n *corev1.Node) (string, bool) {
	st, ready := "Unknown", false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
			if ready {
				st = "Ready"
			} else {
				st = "NotReady"
			}
		}
	}
	if n.Spec.Unschedulable {
		st += ",SchedulingDisabled"
	}
	return st, ready
}

// Roles is kubectl's ROLES column: node-role.kubernetes.io/<role> labels
// (and the older kubernetes.io/role), or <none>.
func Roles(n *corev1.Node) string {
	var roles []string
	for k, v := range n.Labels {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
			roles = append(roles, r)
		} else if k == "kubernetes.io/role" && v != "" {
			roles = append(roles, v)
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	sort.Strings(roles)
	return strings.Join(roles, ",")
}

// PodCounts counts the pods bound to each node that have not terminated
// (kubectl describe node's "Non-terminated Pods").
func PodCounts(pods []corev1.Pod) map[string]int {
	out := map[string]int{}
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out[p.Spec.NodeName]++
		}
	}
	return out
}

// InternalIP is the node's InternalIP address, or "".
func InternalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}
