package framework

import (
	"maps"
	"slices"

	v1 "k8s.io/api/core/v1"
)

// NodeInfo is a node and the pods the scheduler counts on it (bound and
// assumed). It is immutable: the With* methods return a new NodeInfo that
// shares whatever did not change, so a Snapshot taken earlier never sees
// a later change.
type NodeInfo struct {
	node        *v1.Node
	taints      []v1.Taint
	allocatable Resource

	pods      []*PodInfo
	requested Resource
	// nonZeroMilliCPU and nonZeroMemory sum the pods' non-zero requests.
	nonZeroMilliCPU, nonZeroMemory int64
	// usedPorts counts how many pods bind each host port.
	usedPorts map[HostPort]int
	// podsWithAffinity and podsWithRequiredAntiAffinity let a decision
	// skip nodes that cannot matter to inter-pod affinity.
	podsWithAffinity             int
	podsWithRequiredAntiAffinity int
}

// NewNodeInfo builds a NodeInfo for node (which may be nil while the
// scheduler has seen pods bound to a node it has not seen yet).
func NewNodeInfo(node *v1.Node, pods ...*PodInfo) *NodeInfo {
	n := (&NodeInfo{}).WithNode(node)
	for _, p := range pods {
		n = n.WithPod(p)
	}
	return n
}

// Node is the node object; nil if only its pods are known.
func (n *NodeInfo) Node() *v1.Node { return n.node }

// Name is the node's name ("" when the node is unknown).
func (n *NodeInfo) Name() string {
	if n.node == nil {
		return ""
	}
	return n.node.Name
}

// Taints are the node's taints plus those its conditions imply; see
// EffectiveTaints.
func (n *NodeInfo) Taints() []v1.Taint { return n.taints }

// Allocatable is what the node offers to pods.
func (n *NodeInfo) Allocatable() Resource { return n.allocatable }

// Requested is the sum of the requests of the pods on the node.
func (n *NodeInfo) Requested() Resource { return n.requested }

// NonZeroRequested is the pods' cpu and memory requests with the
// scheduler's defaults for containers that request nothing.
func (n *NodeInfo) NonZeroRequested() (milliCPU, memory int64) {
	return n.nonZeroMilliCPU, n.nonZeroMemory
}

// Pods are the pods on the node. The slice must not be modified.
func (n *NodeInfo) Pods() []*PodInfo { return n.pods }

// HasPodsWithAffinity reports whether any pod on the node has pod
// (anti-)affinity.
func (n *NodeInfo) HasPodsWithAffinity() bool { return n.podsWithAffinity > 0 }

// HasPodsWithRequiredAntiAffinity reports whether any pod on the node has
// required pod anti-affinity.
func (n *NodeInfo) HasPodsWithRequiredAntiAffinity() bool { return n.podsWithRequiredAntiAffinity > 0 }

// PortConflict reports whether binding p would clash with a host port
// already bound on the node: same protocol and port, and the same IP or
// either side on the 0.0.0.0 wildcard.
func (n *NodeInfo) PortConflict(p HostPort) bool {
	if p.Port <= 0 || len(n.usedPorts) == 0 {
		return false
	}
	if p.IP == DefaultBindAllHostIP {
		for used := range n.usedPorts {
			if used.Protocol == p.Protocol && used.Port == p.Port {
				return true
			}
		}
		return false
	}
	if n.usedPorts[p] > 0 {
		return true
	}
	wild := p
	wild.IP = DefaultBindAllHostIP
	return n.usedPorts[wild] > 0
}

// WithNode returns n with its node object replaced.
func (n *NodeInfo) WithNode(node *v1.Node) *NodeInfo {
	out := *n
	out.node = node
	out.taints = nil
	out.allocatable = Resource{}
	if node != nil {
		out.taints = EffectiveTaints(node)
		out.allocatable = ResourceFromList(node.Status.Allocatable)
	}
	return &out
}

// WithPod returns n with p added.
func (n *NodeInfo) WithPod(p *PodInfo) *NodeInfo {
	out := *n
	out.pods = append(slices.Clip(n.pods), p)
	out.account(p, 1)
	return &out
}

// WithoutPod returns n without the pod with the given key, and whether it
// was there.
func (n *NodeInfo) WithoutPod(key string) (*NodeInfo, bool) {
	for i, p := range n.pods {
		if p.Key() != key {
			continue
		}
		out := *n
		out.pods = slices.Delete(slices.Clone(n.pods), i, i+1)
		out.account(p, -1)
		return &out, true
	}
	return n, false
}

// account adds (sign 1) or removes (sign -1) p's usage. out is a fresh
// copy whose maps are still shared with the original, so they are cloned
// before being written.
func (n *NodeInfo) account(p *PodInfo, sign int64) {
	n.requested = n.requested.plus(p.Requests, sign)
	n.nonZeroMilliCPU += sign * p.NonZeroMilliCPU
	n.nonZeroMemory += sign * p.NonZeroMemory
	if len(p.HostPorts) > 0 {
		ports := maps.Clone(n.usedPorts)
		if ports == nil {
			ports = map[HostPort]int{}
		}
		for _, hp := range p.HostPorts {
			ports[hp] += int(sign)
			if ports[hp] <= 0 {
				delete(ports, hp)
			}
		}
		n.usedPorts = ports
	}
	if p.HasAffinity() {
		n.podsWithAffinity += int(sign)
	}
	if len(p.RequiredAntiAffinity) > 0 {
		n.podsWithRequiredAntiAffinity += int(sign)
	}
}
