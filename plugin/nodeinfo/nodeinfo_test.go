package nodeinfo

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStatusAndRoles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		node   corev1.Node
		status string
		ready  bool
		roles  string
	}{
		{name: "no conditions yet", status: "Unknown", roles: "<none>"},
		{name: "ready", node: corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
			status: "Ready", ready: true, roles: "<none>"},
		{name: "not ready, cordoned, two roles", node: corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "edge", "other": "x"}},
			Spec:       corev1.NodeSpec{Unschedulable: true},
			Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}}},
			status: "NotReady,SchedulingDisabled", roles: "edge,worker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, ready := Status(&tc.node)
			if st != tc.status || ready != tc.ready {
				t.Errorf("Status = %q, %v; want %q, %v", st, ready, tc.status, tc.ready)
			}
			if r := Roles(&tc.node); r != tc.roles {
				t.Errorf("Roles = %q, want %q", r, tc.roles)
			}
		})
	}
}

func TestPodCountsSkipsTerminatedAndUnbound(t *testing.T) {
	pod := func(node string, phase corev1.PodPhase) corev1.Pod {
		return corev1.Pod{Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
	}
	got := PodCounts([]corev1.Pod{pod("a", corev1.PodRunning), pod("a", corev1.PodPending), pod("a", corev1.PodSucceeded),
		pod("b", corev1.PodFailed), pod("", corev1.PodPending), pod("b", corev1.PodRunning)})
	if got["a"] != 2 || got["b"] != 1 || len(got) != 2 {
		t.Errorf("PodCounts = %v, want a:2 b:1", got)
	}
}
