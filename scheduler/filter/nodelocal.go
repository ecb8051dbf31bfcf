package filter

import (
	"fmt"
	"sort"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

// unschedulableTaint is the taint a cordoned node is treated as having: a
// pod that tolerates it may still land on the node.
var unschedulableTaint = v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}

// CheckUnschedulable rejects a cordoned node (spec.unschedulable) unless
// the pod tolerates node.kubernetes.io/unschedulable:NoSchedule.
func CheckUnschedulable(pod *framework.PodInfo, node *framework.NodeInfo) *Status {
	if node.Node().Spec.Unschedulable && !framework.Tolerated(pod.Pod.Spec.Tolerations, &unschedulableTaint) {
		return newStatus(UnschedulableAndUnresolvable, NodeUnschedulable, ReasonUnschedulable)
	}
	return nil
}

// CheckTaints rejects a node with a NoSchedule or NoExecute taint the pod
// does not tolerate, naming the first such taint. A node that is not
// Ready carries node.kubernetes.io/not-ready (or unreachable) here, see
// framework.EffectiveTaints.
func CheckTaints(pod *framework.PodInfo, node *framework.NodeInfo) *Status {
	if t, ok := framework.UntoleratedTaint(node.Taints(), pod.Pod.Spec.Tolerations); ok {
		return newStatus(UnschedulableAndUnresolvable, TaintToleration, fmt.Sprintf(reasonUntoleratedTaintFmt, t.Key, t.Value))
	}
	return nil
}

// CheckNodeAffinity rejects a node that does not match the pod's
// nodeSelector and required node affinity.
func CheckNodeAffinity(pod *framework.PodInfo, node *framework.NodeInfo) *Status {
	if !pod.RequiredNodeAffinity.Match(node.Node()) {
		return newStatus(UnschedulableAndUnresolvable, NodeAffinity, ReasonNodeAffinity)
	}
	return nil
}

// CheckPorts rejects a node where one of the pod's host ports is taken.
func CheckPorts(pod *framework.PodInfo, node *framework.NodeInfo) *Status {
	for _, hp := range pod.HostPorts {
		if node.PortConflict(hp) {
			return newStatus(Unschedulable, NodePorts, ReasonPorts)
		}
	}
	return nil
}

// CheckResources rejects a node whose allocatable minus what its pods
// request cannot hold the pod's requests, listing every short resource
// ("Too many pods", "Insufficient cpu", ...) as kube-scheduler does.
func CheckResources(pod *framework.PodInfo, node *framework.NodeInfo) *Status {
	var reasons []string
	alloc, used := node.Allocatable(), node.Requested()
	if int64(len(node.Pods()))+1 > alloc.Pods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	req := pod.Requests
	if req.IsZero() {
		return resourceStatus(reasons)
	}
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		reasons = append(reasons, fmt.Sprintf(reasonInsufficientFmt, v1.ResourceCPU))
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		reasons = append(reasons, fmt.Sprintf(reasonInsufficientFmt, v1.ResourceMemory))
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		reasons = append(reasons, fmt.Sprintf(reasonInsufficientFmt, v1.ResourceEphemeralStorage))
	}
	// Map order is random; sort so a node short of two extended
	// resources always reports them the same way.
	names := make([]string, 0, len(req.Scalar))
	for name, v := range req.Scalar {
		if v > 0 && v > alloc.Scalar[name]-used.Scalar[name] {
			names = append(names, string(name))
		}
	}
	sort.Strings(names)
	for _, name := range names {
		reasons = append(reasons, fmt.Sprintf(reasonInsufficientFmt, name))
	}
	return resourceStatus(reasons)
}

func resourceStatus(reasons []string) *Status {
	if len(reasons) == 0 {
		return nil
	}
	return newStatus(Unschedulable, NodeResourcesFit, reasons...)
}

// NodeLocal runs the filters that look only at the node itself and its
// pods, in kube-scheduler's order, and returns the first rejection.
func NodeLocal(pod *framework.PodInfo, node *framework.NodeInfo) *Status {
	if pod.NodeNames != nil {
		if _, ok := pod.NodeNames[node.Name()]; !ok {
			return NotCandidate()
		}
	}
	for _, check := range nodeLocalChecks {
		if st := check(pod, node); st != nil {
			return st
		}
	}
	return nil
}

var nodeLocalChecks = []func(*framework.PodInfo, *framework.NodeInfo) *Status{
	CheckUnschedulable,
	CheckTaints,
	CheckNodeAffinity,
	CheckPorts,
	CheckResources,
}
