package framework

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func rl(kv ...string) v1.ResourceList {
	out := v1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func container(name string, requests v1.ResourceList) v1.Container {
	return v1.Container{Name: name, Resources: v1.ResourceRequirements{Requests: requests}}
}

func TestPodRequests(t *testing.T) {
	always := v1.ContainerRestartPolicyAlways
	sidecar := func(c v1.Container) v1.Container { c.RestartPolicy = &always; return c }
	tests := []struct {
		name                  string
		spec                  v1.PodSpec
		cpu, mem              int64 // what NodeResourcesFit counts
		nonZeroCPU, nonZeroMi int64 // what scoring counts (memory in MiB)
	}{{
		name:       "no requests",
		spec:       v1.PodSpec{Containers: []v1.Container{container("a", nil)}},
		nonZeroCPU: 100, nonZeroMi: 200,
	}, {
		name: "app containers add up",
		spec: v1.PodSpec{Containers: []v1.Container{
			container("a", rl("cpu", "1", "memory", "1Gi")),
			container("b", rl("cpu", "500m")),
		}},
		cpu: 1500, mem: 1 << 30, nonZeroCPU: 1500, nonZeroMi: 1024 + 200,
	}, {
		name: "largest init container wins over a smaller app sum",
		spec: v1.PodSpec{
			InitContainers: []v1.Container{container("i1", rl("cpu", "2", "memory", "3Gi")), container("i2", rl("cpu", "3"))},
			Containers:     []v1.Container{container("a", rl("cpu", "1", "memory", "1Gi")), container("b", rl("cpu", "1", "memory", "1Gi"))},
		},
		cpu: 3000, mem: 3 << 30, nonZeroCPU: 3000, nonZeroMi: 3 * 1024,
	}, {
		name: "sidecars add to the app sum and to later init containers",
		spec: v1.PodSpec{
			InitContainers: []v1.Container{sidecar(container("mesh", rl("cpu", "1"))), container("migrate", rl("cpu", "2"))},
			Containers:     []v1.Container{container("a", rl("cpu", "1"))},
		},
		cpu: 3000, nonZeroCPU: 3000, nonZeroMi: 400,
	}, {
		name: "overhead on top",
		spec: v1.PodSpec{
			Overhead:   rl("cpu", "250m", "memory", "64Mi"),
			Containers: []v1.Container{container("a", rl("cpu", "1", "memory", "1Gi"))},
		},
		cpu: 1250, mem: 1<<30 + 64<<20, nonZeroCPU: 1250, nonZeroMi: 1024 + 64,
	}, {
		name: "explicit zero is not defaulted",
		spec: v1.PodSpec{Containers: []v1.Container{container("a", rl("cpu", "0", "memory", "0"))}},
	}, {
		name: "pod-level requests replace the container sum",
		spec: v1.PodSpec{
			Resources:  &v1.ResourceRequirements{Requests: rl("cpu", "2")},
			Containers: []v1.Container{container("a", rl("cpu", "1", "memory", "1Gi"))},
		},
		cpu: 2000, mem: 1 << 30, nonZeroCPU: 2000, nonZeroMi: 1024,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPodInfo(&v1.Pod{Spec: tt.spec})
			if p.Requests.MilliCPU != tt.cpu || p.Requests.Memory != tt.mem {
				t.Errorf("requests cpu %dm memory %d, want %dm %d", p.Requests.MilliCPU, p.Requests.Memory, tt.cpu, tt.mem)
			}
			if p.NonZeroMilliCPU != tt.nonZeroCPU || p.NonZeroMemory != tt.nonZeroMi<<20 {
				t.Errorf("non-zero cpu %dm memory %dMi, want %dm %dMi", p.NonZeroMilliCPU, p.NonZeroMemory>>20, tt.nonZeroCPU, tt.nonZeroMi)
			}
		})
	}
}

func TestScalarResources(t *testing.T) {
	for name, want := range map[v1.ResourceName]bool{
		"example.com/gpu":       true,
		"hugepages-2Mi":         true,
		"kubernetes.io/batch":   true,
		"requests.example/x":    false,
		v1.ResourceCPU:          false,
		v1.ResourceStorage:      false,
		"attachable-volumes-io": true,
	} {
		if got := IsScalar(name); got != want {
			t.Errorf("IsScalar(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestTolerates(t *testing.T) {
	taint := v1.Taint{Key: "k", Value: "5", Effect: v1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		tol  v1.Toleration
		want bool
	}{
		{"equal value", v1.Toleration{Key: "k", Operator: v1.TolerationOpEqual, Value: "5"}, true},
		{"empty operator is Equal", v1.Toleration{Key: "k", Value: "5"}, true},
		{"other value", v1.Toleration{Key: "k", Value: "6"}, false},
		{"exists", v1.Toleration{Key: "k", Operator: v1.TolerationOpExists}, true},
		{"other key", v1.Toleration{Key: "x", Operator: v1.TolerationOpExists}, false},
		{"empty key exists matches all", v1.Toleration{Operator: v1.TolerationOpExists}, true},
		{"effect must match", v1.Toleration{Key: "k", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute}, false},
		{"gt compares integers", v1.Toleration{Key: "k", Operator: v1.TolerationOpGt, Value: "4"}, true},
		{"gt is strict", v1.Toleration{Key: "k", Operator: v1.TolerationOpGt, Value: "5"}, false},
		{"lt", v1.Toleration{Key: "k", Operator: v1.TolerationOpLt, Value: "10"}, true},
		{"lt with a non-number", v1.Toleration{Key: "k", Operator: v1.TolerationOpLt, Value: "ten"}, false},
	}
	for _, tt := range tests {
		if got := Tolerates(&tt.tol, &taint); got != tt.want {
			t.Errorf("%s: Tolerates = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEffectiveTaintsKeepExistingOnes(t *testing.T) {
	node := &v1.Node{
		Spec: v1.NodeSpec{Taints: []v1.Taint{{Key: v1.TaintNodeNotReady, Effect: v1.TaintEffectNoSchedule}}},
		Status: v1.NodeStatus{Conditions: []v1.NodeCondition{
			{Type: v1.NodeReady, Status: v1.ConditionFalse},
			{Type: v1.NodeDiskPressure, Status: v1.ConditionTrue},
		}},
	}
	got := EffectiveTaints(node)
	if len(got) != 2 || got[0].Key != v1.TaintNodeNotReady || got[1].Key != v1.TaintNodeDiskPressure {
		t.Errorf("taints %v, want not-ready once and disk-pressure", got)
	}
	ready := &v1.Node{Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}}}
	if got := EffectiveTaints(ready); len(got) != 0 {
		t.Errorf("ready node has taints %v", got)
	}
}

func TestPortConflicts(t *testing.T) {
	podWith := func(ports ...v1.ContainerPort) *PodInfo {
		return NewPodInfo(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Ports: ports}}}})
	}
	n := NewNodeInfo(&v1.Node{}, podWith(v1.ContainerPort{HostPort: 80, HostIP: "10.0.0.1"}, v1.ContainerPort{HostPort: 53, Protocol: v1.ProtocolUDP}))
	tests := []struct {
		port HostPort
		want bool
	}{
		{HostPort{"10.0.0.1", v1.ProtocolTCP, 80}, true},
		{HostPort{"10.0.0.2", v1.ProtocolTCP, 80}, false},
		{HostPort{DefaultBindAllHostIP, v1.ProtocolTCP, 80}, true},
		{HostPort{DefaultBindAllHostIP, v1.ProtocolUDP, 80}, false},
		{HostPort{"10.0.0.9", v1.ProtocolUDP, 53}, true},
		{HostPort{"10.0.0.9", v1.ProtocolTCP, 53}, false},
	}
	for _, tt := range tests {
		if got := n.PortConflict(tt.port); got != tt.want {
			t.Errorf("PortConflict(%+v) = %v, want %v", tt.port, got, tt.want)
		}
	}
	// Removing the pod frees its ports, and the old value is unchanged.
	freed, ok := n.WithoutPod("/p")
	if !ok || freed.PortConflict(HostPort{"10.0.0.1", v1.ProtocolTCP, 80}) || !n.PortConflict(HostPort{"10.0.0.1", v1.ProtocolTCP, 80}) {
		t.Errorf("WithoutPod: removed %v, freed conflict %v, original conflict %v", ok,
			freed.PortConflict(HostPort{"10.0.0.1", v1.ProtocolTCP, 80}), n.PortConflict(HostPort{"10.0.0.1", v1.ProtocolTCP, 80}))
	}
}
