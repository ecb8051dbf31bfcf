package score

import (
	"math"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-dev/skiff/scheduler/filter"
	"github.com/skiff-dev/skiff/scheduler/framework"
)

// DefaultSpreadConstraints are kube-scheduler's system default
// constraints, applied to a pod without topologySpreadConstraints of its
// own, with the selector of the services and controllers that own it.
func DefaultSpreadConstraints(sel labels.Selector) []filter.SpreadConstraint {
	base := filter.SpreadConstraint{
		Selector:           sel,
		MinDomains:         1,
		NodeAffinityPolicy: v1.NodeInclusionPolicyHonor,
		NodeTaintsPolicy:   v1.NodeInclusionPolicyIgnore,
	}
	host, zone := base, base
	host.TopologyKey, host.MaxSkew = v1.LabelHostname, 3
	zone.TopologyKey, zone.MaxSkew = v1.LabelTopologyZone, 5
	return []filter.SpreadConstraint{host, zone}
}

// spread is the ScheduleAnyway part of PodTopologySpread.
type spread struct {
	constraints []filter.SpreadConstraint
	ns          string
	ignored     map[string]bool
	// counts holds, per constraint other than hostname, the matching pods
	// per topology value; hostname counts are taken from the node itself.
	counts  []map[string]int64
	weights []float64
}

func newSpread(pod *framework.PodInfo, feasible []*framework.NodeInfo, snap *framework.Snapshot, defaultSelector labels.Selector) (*spread, error) {
	var cs []filter.SpreadConstraint
	requireAll := true
	if len(pod.Pod.Spec.TopologySpreadConstraints) > 0 {
		var err error
		if cs, err = filter.SpreadConstraints(pod.Pod, v1.ScheduleAnyway); err != nil {
			return nil, err
		}
	} else if defaultSelector != nil && !defaultSelector.Empty() {
		cs = DefaultSpreadConstraints(defaultSelector)
		// System defaults do not require every key, so nodes without a
		// zone label still get hostname spreading.
		requireAll = false
	}
	if len(cs) == 0 {
		return nil, nil
	}
	s := &spread{
		constraints: cs,
		ns:          pod.Pod.Namespace,
		ignored:     map[string]bool{},
		counts:      make([]map[string]int64, len(cs)),
		weights:     make([]float64, len(cs)),
	}
	sizes := make([]int, len(cs))
	for i := range cs {
		s.counts[i] = map[string]int64{}
	}
	for _, n := range feasible {
		if requireAll && !filter.HasTopologyKeys(n.Node(), cs) {
			s.ignored[n.Name()] = true
			continue
		}
		for i := range cs {
			if cs[i].TopologyKey == v1.LabelHostname {
				continue
			}
			v := n.Node().Labels[cs[i].TopologyKey]
			if _, ok := s.counts[i][v]; !ok {
				s.counts[i][v] = 0
				sizes[i]++
			}
		}
	}
	for i := range cs {
		size := sizes[i]
		if cs[i].TopologyKey == v1.LabelHostname {
			size = len(feasible) - len(s.ignored)
		}
		// Weigh counts by log(domains+2) so that counts in a topology with
		// few large domains do not drown those of one with many small ones.
		s.weights[i] = math.Log(float64(size + 2))
	}
	for _, n := range snap.Nodes() {
		node := n.Node()
		if requireAll && !filter.HasTopologyKeys(node, cs) {
			continue
		}
		for i := range cs {
			c := &cs[i]
			if c.TopologyKey == v1.LabelHostname || !c.IncludesNode(pod, node, n.Taints()) {
				continue
			}
			v := node.Labels[c.TopologyKey]
			if _, ok := s.counts[i][v]; ok {
				s.counts[i][v] += int64(filter.CountMatching(n.Pods(), c.Selector, s.ns))
			}
		}
	}
	return s, nil
}

// raw sums, over the constraints, the matching pods in the node's domain
// weighted by the topology weight, plus maxSkew-1 to soften small skews.
func (s *spread) raw(n *framework.NodeInfo) int64 {
	if s.ignored[n.Name()] {
		return 0
	}
	var score float64
	for i := range s.constraints {
		c := &s.constraints[i]
		v, ok := n.Node().Labels[c.TopologyKey]
		if !ok {
			continue
		}
		var cnt int64
		if c.TopologyKey == v1.LabelHostname {
			cnt = int64(filter.CountMatching(n.Pods(), c.Selector, s.ns))
		} else {
			cnt = s.counts[i][v]
		}
		score += float64(cnt)*s.weights[i] + float64(c.MaxSkew-1)
	}
	return int64(math.Round(score))
}

// normalize reverses the raw scores (fewer matching pods is better):
// MaxNodeScore * (max + min - score) / max; ignored nodes get 0.
func (s *spread) normalize(nodes []*framework.NodeInfo, scores []int64) {
	var min int64 = math.MaxInt64
	var max int64
	for i, n := range nodes {
		if s.ignored[n.Name()] {
			continue
		}
		if scores[i] < min {
			min = scores[i]
		}
		if scores[i] > max {
			max = scores[i]
		}
	}
	for i, n := range nodes {
		switch {
		case s.ignored[n.Name()]:
			scores[i] = 0
		case max == 0:
			scores[i] = MaxNodeScore
		default:
			scores[i] = MaxNodeScore * (max + min - scores[i]) / max
		}
	}
}
