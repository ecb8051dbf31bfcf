package framework

import (
	"k8s.io/apimachinery/pkg/labels"
)

// Snapshot is the state one scheduling decision reads: every known node
// (in a stable order, by name) with its pods, and the labels of every
// namespace. It is immutable.
type Snapshot struct {
	nodes                    []*NodeInfo
	withAffinity             []*NodeInfo
	withRequiredAntiAffinity []*NodeInfo
	namespaces               map[string]labels.Set
}

// NewSnapshot builds a snapshot. nodes must be ordered (the scheduler
// cache orders them by name) and have a node object; namespaces maps a
// namespace name to its labels. Both are kept, not copied: the caller
// must not modify them afterwards.
func NewSnapshot(nodes []*NodeInfo, namespaces map[string]labels.Set) *Snapshot {
	s := &Snapshot{nodes: nodes, namespaces: namespaces}
	for _, n := range nodes {
		if n.HasPodsWithAffinity() {
			s.withAffinity = append(s.withAffinity, n)
		}
		if n.HasPodsWithRequiredAntiAffinity() {
			s.withRequiredAntiAffinity = append(s.withRequiredAntiAffinity, n)
		}
	}
	return s
}

// Nodes lists every node. The slice must not be modified.
func (s *Snapshot) Nodes() []*NodeInfo { return s.nodes }

// NodesWithPodAffinity lists the nodes hosting a pod with pod
// (anti-)affinity.
func (s *Snapshot) NodesWithPodAffinity() []*NodeInfo { return s.withAffinity }

// NodesWithRequiredAntiAffinity lists the nodes hosting a pod with
// required pod anti-affinity.
func (s *Snapshot) NodesWithRequiredAntiAffinity() []*NodeInfo { return s.withRequiredAntiAffinity }

// NamespaceLabels returns the labels of a namespace (nil if unknown).
func (s *Snapshot) NamespaceLabels(name string) labels.Set { return s.namespaces[name] }

// Namespaces maps every known namespace to its labels. It must not be
// modified.
func (s *Snapshot) Namespaces() map[string]labels.Set { return s.namespaces }

// Node returns the named node, or nil. It is a linear search, for tests
// and diagnostics.
func (s *Snapshot) Node(name string) *NodeInfo {
	for _, n := range s.nodes {
		if n.Name() == name {
			return n
		}
	}
	return nil
}
