package score

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

// NodeScore is a candidate node's score: the weighted Total, and each
// plugin's normalised (unweighted) score for diagnostics and tests.
type NodeScore struct {
	Name    string
	Total   int64
	Plugins [NumPlugins]int64
}

// Cycle is the score state of one scheduling attempt of one pod.
type Cycle struct {
	pod      *framework.PodInfo
	spread   *spread
	affinity *podAffinity
}

// Prepare computes what the scores need to know about the whole cluster.
// feasible are the nodes that passed the filters; defaultSpread selects
// the pods this pod should spread away from when it has no
// topologySpreadConstraints of its own (nil for none): the selectors of
// the services, ReplicaSets and StatefulSets that select or own it.
func Prepare(pod *framework.PodInfo, feasible []*framework.NodeInfo, snap *framework.Snapshot, defaultSpread labels.Selector) (*Cycle, error) {
	sp, err := newSpread(pod, feasible, snap, defaultSpread)
	if err != nil {
		return nil, err
	}
	return &Cycle{pod: pod, spread: sp, affinity: newPodAffinity(pod, snap)}, nil
}

// ForEach runs f(i) for i in [0, n), possibly in parallel, and returns
// when all calls have.
type ForEach func(n int, f func(i int))

// Sequential is a ForEach that runs in the calling goroutine.
func Sequential(n int, f func(i int)) {
	for i := 0; i < n; i++ {
		f(i)
	}
}

// Score scores nodes (the feasible nodes given to Prepare, in any order).
func (c *Cycle) Score(nodes []*framework.NodeInfo, forEach ForEach) []NodeScore {
	raw := make([][]int64, NumPlugins)
	for p := range raw {
		raw[p] = make([]int64, len(nodes))
	}
	forEach(len(nodes), func(i int) {
		n := nodes[i]
		raw[NodeResourcesFit][i] = LeastAllocated(c.pod, n)
		raw[NodeResourcesBalancedAllocation][i], _ = BalancedAllocation(c.pod, n)
		raw[TaintToleration][i] = UntoleratedPreferNoSchedule(c.pod, n)
		raw[NodeAffinity][i] = PreferredNodeAffinity(c.pod, n)
		if c.spread != nil {
			raw[PodTopologySpread][i] = c.spread.raw(n)
		}
		if c.affinity != nil {
			raw[InterPodAffinity][i] = c.affinity.raw(n)
		}
	})
	DefaultNormalize(raw[TaintToleration], true)
	DefaultNormalize(raw[NodeAffinity], false)
	if c.spread != nil {
		c.spread.normalize(nodes, raw[PodTopologySpread])
	}
	if c.affinity != nil {
		c.affinity.normalize(raw[InterPodAffinity])
	}
	out := make([]NodeScore, len(nodes))
	for i, n := range nodes {
		out[i].Name = n.Name()
		for p := Plugin(0); p < NumPlugins; p++ {
			out[i].Plugins[p] = raw[p][i]
			out[i].Total += raw[p][i] * p.Weight()
		}
	}
	return out
}
