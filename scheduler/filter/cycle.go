package filter

import (
	"fmt"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

// Cycle is the filter state of one scheduling attempt of one pod.
type Cycle struct {
	pod      *framework.PodInfo
	spread   *TopologySpread
	affinity *PodAffinity
}

// Prepare computes what the filters need to know about the whole cluster
// for this pod. An error means the pod's spec cannot be evaluated (a
// selector that does not parse), not that it does not fit.
func Prepare(pod *framework.PodInfo, snap *framework.Snapshot) (*Cycle, error) {
	spread, err := NewTopologySpread(pod, snap)
	if err != nil {
		return nil, err
	}
	affinity, err := NewPodAffinity(pod, snap)
	if err != nil {
		return nil, err
	}
	return &Cycle{pod: pod, spread: spread, affinity: affinity}, nil
}

// PreFilter returns a rejection that holds for every node, before any
// node is checked: node affinity terms whose node-name pins exclude each
// other.
func (c *Cycle) PreFilter() *Status {
	if c.pod.NodeNamesConflict {
		return newStatus(UnschedulableAndUnresolvable, NodeAffinity, ReasonNodeAffinityConflict)
	}
	return nil
}

// NotCandidate is the rejection of the nodes left out because the pod's
// node affinity pins other node names.
func NotCandidate() *Status {
	return newStatus(UnschedulableAndUnresolvable, NodeAffinity, fmt.Sprintf(reasonNotInPreFilterNodesFmt, NodeAffinity))
}

// Check runs every filter against node in kube-scheduler's order and
// returns the first rejection, or nil if the pod fits. Safe for
// concurrent use.
func (c *Cycle) Check(node *framework.NodeInfo) *Status {
	if st := NodeLocal(c.pod, node); st != nil {
		return st
	}
	if st := c.spread.Check(node); st != nil {
		return st
	}
	return c.affinity.Check(node)
}
