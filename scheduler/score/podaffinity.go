package score

import (
	"math"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

// hardPodAffinityWeight is what an existing pod's required affinity term
// that selects the incoming pod adds to its domain (kube-scheduler's
// default hardPodAffinityWeight).
const hardPodAffinityWeight = 1

// podAffinity is the preferred part of InterPodAffinity: a score per
// topology domain.
type podAffinity struct {
	scores map[string]map[string]int64 // topology key → value → score
}

func newPodAffinity(pod *framework.PodInfo, snap *framework.Snapshot) *podAffinity {
	own := len(pod.PreferredAffinity) > 0 || len(pod.PreferredAntiAffinity) > 0
	nodes := snap.NodesWithPodAffinity()
	if own {
		nodes = snap.Nodes()
	}
	preferred := resolveWeighted(pod.PreferredAffinity, snap)
	preferredAnti := resolveWeighted(pod.PreferredAntiAffinity, snap)
	nsLabels := snap.NamespaceLabels(pod.Pod.Namespace)
	pa := &podAffinity{scores: map[string]map[string]int64{}}
	add := func(t *framework.AffinityTerm, weight int64, n *framework.NodeInfo) {
		v, ok := n.Node().Labels[t.TopologyKey]
		if !ok {
			return
		}
		m := pa.scores[t.TopologyKey]
		if m == nil {
			m = map[string]int64{}
			pa.scores[t.TopologyKey] = m
		}
		m[v] += weight
	}
	for _, n := range nodes {
		if len(n.Node().Labels) == 0 {
			continue
		}
		for _, existing := range n.Pods() {
			if !own && !existing.HasAffinity() {
				continue
			}
			// The incoming pod's preferences, against the existing pod.
			for i := range preferred {
				if preferred[i].Matches(existing.Pod, nil) {
					add(&preferred[i].AffinityTerm, preferred[i].Weight, n)
				}
			}
			for i := range preferredAnti {
				if preferredAnti[i].Matches(existing.Pod, nil) {
					add(&preferredAnti[i].AffinityTerm, -preferredAnti[i].Weight, n)
				}
			}
			// The existing pod's rules, against the incoming pod.
			for i := range existing.RequiredAffinity {
				if existing.RequiredAffinity[i].Matches(pod.Pod, nsLabels) {
					add(&existing.RequiredAffinity[i], hardPodAffinityWeight, n)
				}
			}
			for i := range existing.PreferredAffinity {
				if existing.PreferredAffinity[i].Matches(pod.Pod, nsLabels) {
					add(&existing.PreferredAffinity[i].AffinityTerm, existing.PreferredAffinity[i].Weight, n)
				}
			}
			for i := range existing.PreferredAntiAffinity {
				if existing.PreferredAntiAffinity[i].Matches(pod.Pod, nsLabels) {
					add(&existing.PreferredAntiAffinity[i].AffinityTerm, -existing.PreferredAntiAffinity[i].Weight, n)
				}
			}
		}
	}
	if len(pa.scores) == 0 {
		return nil
	}
	return pa
}

func resolveWeighted(terms []framework.WeightedAffinityTerm, snap *framework.Snapshot) []framework.WeightedAffinityTerm {
	if len(terms) == 0 {
		return nil
	}
	out := make([]framework.WeightedAffinityTerm, len(terms))
	for i := range terms {
		out[i] = framework.WeightedAffinityTerm{
			AffinityTerm: terms[i].AffinityTerm.ResolveNamespaces(snap.Namespaces()),
			Weight:       terms[i].Weight,
		}
	}
	return out
}

func (pa *podAffinity) raw(n *framework.NodeInfo) int64 {
	var score int64
	for key, values := range pa.scores {
		if v, ok := n.Node().Labels[key]; ok {
			score += values[v]
		}
	}
	return score
}

// normalize maps the raw scores linearly from [min, max] to
// [0, MaxNodeScore]; equal scores all become 0.
func (pa *podAffinity) normalize(scores []int64) {
	var min int64 = math.MaxInt64
	var max int64 = math.MinInt64
	for _, s := range scores {
		if s > max {
			max = s
		}
		if s < min {
			min = s
		}
	}
	diff := max - min
	for i := range scores {
		f := 0.0
		if diff > 0 {
			f = float64(MaxNodeScore) * float64(scores[i]-min) / float64(diff)
		}
		scores[i] = int64(f)
	}
}
