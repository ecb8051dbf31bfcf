package tables

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodeCells(t *testing.T) {
	info := corev1.NodeSystemInfo{
		KubeletVersion: "v1.33.0-skiff", OSImage: "Debian GNU/Linux 12 (bookworm)",
		KernelVersion: "6.1.0-37-amd64", ContainerRuntimeVersion: "docker://20.10.24",
	}
	ready := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "skiff-server", CreationTimestamp: ago(9 * 24 * time.Hour), Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "",
			"node-role.kubernetes.io/master":        "true",
			"kubernetes.io/hostname":                "skiff-server",
		}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
			},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "skiff-server"},
				{Type: corev1.NodeInternalIP, Address: "172.18.0.2"},
				{Type: corev1.NodeInternalIP, Address: "fd00::2"},
				{Type: corev1.NodeExternalIP, Address: "203.0.113.7"},
			},
			NodeInfo: info,
		},
	}
	cordoned := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-1", CreationTimestamp: ago(3 * time.Hour), Labels: map[string]string{
			"kubernetes.io/role":             "worker",
			"node-role.kubernetes.io/gpu":    "",
			"node-role.kubernetes.io/worker": "",
			"node-role.kubernetes.io/":       "",
		}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.3"}},
			NodeInfo:   info,
		},
	}
	registering := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-2", CreationTimestamp: ago(2 * time.Second)}}
	readyCordoned := ready.DeepCopy()
	readyCordoned.Spec.Unschedulable = true
	// When a condition type repeats, the last one counts.
	flapping := ready.DeepCopy()
	flapping.Status.Conditions = append(flapping.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse})

	checkCells(t, corev1.SchemeGroupVersion.WithKind("Node"), []cellCase{
		{"ready with roles", ready, []interface{}{"skiff-server", "Ready", "control-plane,master", "9d", "v1.33.0-skiff",
			"172.18.0.2", "203.0.113.7", "Debian GNU/Linux 12 (bookworm)", "6.1.0-37-amd64", "docker://20.10.24"}},
		{"cordoned and not ready", cordoned, []interface{}{"worker-1", "NotReady,SchedulingDisabled", "gpu,worker", "3h", "v1.33.0-skiff",
			"172.18.0.3", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0-37-amd64", "docker://20.10.24"}},
		{"ready and cordoned", readyCordoned, []interface{}{"skiff-server", "Ready,SchedulingDisabled", "control-plane,master", "9d", "v1.33.0-skiff",
			"172.18.0.2", "203.0.113.7", "Debian GNU/Linux 12 (bookworm)", "6.1.0-37-amd64", "docker://20.10.24"}},
		{"no status yet", registering, []interface{}{"worker-2", "Unknown", "<none>", "2s", "",
			"<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
		{"last ready condition counts", flapping, []interface{}{"skiff-server", "NotReady", "control-plane,master", "9d", "v1.33.0-skiff",
			"172.18.0.2", "203.0.113.7", "Debian GNU/Linux 12 (bookworm)", "6.1.0-37-amd64", "docker://20.10.24"}},
	})
}
