package tables

import (
	"cmp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels that name a node's roles: node-role.kubernetes.io/<role> with any
// value, or the older kubernetes.io/role=<role>.
const (
	nodeRolePrefix = "node-role.kubernetes.io/"
	nodeRoleLabel  = "kubernetes.io/role"
)

func nodePrinter() Printer {
	info := corev1.NodeSystemInfo{}.SwaggerDoc()
	addresses := corev1.NodeStatus{}.SwaggerDoc()["addresses"]
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Status", Type: "string", Description: "The status of the node"},
			{Name: "Roles", Type: "string", Description: "The roles of the node"},
			ageColumn(),
			{Name: "Version", Type: "string", Description: info["kubeletVersion"]},
			{Name: "Internal-IP", Type: "string", Priority: 1, Description: addresses},
			{Name: "External-IP", Type: "string", Priority: 1, Description: addresses},
			{Name: "OS-Image", Type: "string", Priority: 1, Description: info["osImage"]},
			{Name: "Kernel-Version", Type: "string", Priority: 1, Description: info["kernelVersion"]},
			{Name: "Container-Runtime", Type: "string", Priority: 1, Description: info["containerRuntimeVersion"]},
		},
		Row: typedRow(nodeCells),
	}
}

func nodeCells(node *corev1.Node, now time.Time) ([]interface{}, error) {
	// Only the Ready condition shows; the last one of that type counts.
	var status []string
	var ready *corev1.NodeCondition
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == corev1.NodeReady {
			ready = &node.Status.Conditions[i]
		}
	}
	switch {
	case ready == nil:
		status = append(status, "Unknown")
	case ready.Status == corev1.ConditionTrue:
		status = append(status, string(corev1.NodeReady))
	default:
		status = append(status, "Not"+string(corev1.NodeReady))
	}
	if node.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}

	info := node.Status.NodeInfo
	return []interface{}{
		node.Name,
		strings.Join(status, ","),
		cmp.Or(strings.Join(nodeRoles(node), ","), none),
		since(node.CreationTimestamp, now),
		info.KubeletVersion,
		nodeAddress(node, corev1.NodeInternalIP),
		nodeAddress(node, corev1.NodeExternalIP),
		cmp.Or(info.OSImage, unknown),
		cmp.Or(info.KernelVersion, unknown),
		cmp.Or(info.ContainerRuntimeVersion, unknown),
	}, nil
}

// nodeRoles returns the node's roles, sorted and without repeats.
func nodeRoles(node *corev1.Node) []string {
	seen := map[string]bool{}
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix):
			if role := strings.TrimPrefix(k, nodeRolePrefix); role != "" {
				seen[role] = true
			}
		case k == nodeRoleLabel && v != "":
			seen[v] = true
		}
	}
	roles := make([]string, 0, len(seen))
	for r := range seen {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// nodeAddress returns the node's first address of a type, or "<none>".
func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return none
}
