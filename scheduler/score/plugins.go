package score

import (
	"math"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

// MaxNodeScore is the highest normalised score a plugin gives a node.
const MaxNodeScore int64 = 100

// Plugin names a scoring plugin; the names are kube-scheduler's.
type Plugin uint8

// The scoring plugins.
const (
	NodeResourcesFit Plugin = iota
	NodeResourcesBalancedAllocation
	TaintToleration
	NodeAffinity
	PodTopologySpread
	InterPodAffinity
	NumPlugins
)

var pluginNames = [NumPlugins]string{
	NodeResourcesFit:                "NodeResourcesFit",
	NodeResourcesBalancedAllocation: "NodeResourcesBalancedAllocation",
	TaintToleration:                 "TaintToleration",
	NodeAffinity:                    "NodeAffinity",
	PodTopologySpread:               "PodTopologySpread",
	InterPodAffinity:                "InterPodAffinity",
}

func (p Plugin) String() string { return pluginNames[p] }

// Weight is the plugin's weight in kube-scheduler's default profile.
func (p Plugin) Weight() int64 { return weights[p] }

var weights = [NumPlugins]int64{
	NodeResourcesFit:                1,
	NodeResourcesBalancedAllocation: 1,
	TaintToleration:                 3,
	NodeAffinity:                    2,
	PodTopologySpread:               2,
	InterPodAffinity:                2,
}

// LeastAllocated scores the share of cpu and memory left free after
// placing the pod, averaged with equal weights, from the non-zero
// requests (so best-effort pods still count). A resource the node does
// not offer is left out.
func LeastAllocated(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	alloc := node.Allocatable()
	usedCPU, usedMem := node.NonZeroRequested()
	var sum, n int64
	for _, r := range [...][2]int64{
		{usedCPU + pod.NonZeroMilliCPU, alloc.MilliCPU},
		{usedMem + pod.NonZeroMemory, alloc.Memory},
	} {
		requested, capacity := r[0], r[1]
		if capacity == 0 {
			continue
		}
		n++
		if requested <= capacity {
			sum += (capacity - requested) * MaxNodeScore / capacity
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// BalancedAllocation favours nodes whose cpu and memory would be used in
// equal shares: MaxNodeScore * (1 - standard deviation of the used
// fractions), from the actual requests. ok is false for a pod that
// requests neither, which kube-scheduler does not score at all.
func BalancedAllocation(pod *framework.PodInfo, node *framework.NodeInfo) (score int64, ok bool) {
	if pod.Requests.MilliCPU == 0 && pod.Requests.Memory == 0 {
		return 0, false
	}
	alloc, used := node.Allocatable(), node.Requested()
	var fractions []float64
	for _, r := range [...][2]int64{
		{used.MilliCPU + pod.Requests.MilliCPU, alloc.MilliCPU},
		{used.Memory + pod.Requests.Memory, alloc.Memory},
	} {
		if r[1] == 0 {
			continue
		}
		fractions = append(fractions, math.Min(float64(r[0])/float64(r[1]), 1))
	}
	std := 0.0
	if len(fractions) == 2 {
		std = math.Abs((fractions[0] - fractions[1]) / 2)
	}
	return int64((1 - std) * float64(MaxNodeScore)), true
}

// UntoleratedPreferNoSchedule counts the node's PreferNoSchedule taints
// that the pod's tolerations (those with effect PreferNoSchedule or none)
// do not tolerate. Normalised reversed: fewer is better.
func UntoleratedPreferNoSchedule(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	var tolerations []v1.Toleration
	for _, t := range pod.Pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == v1.TaintEffectPreferNoSchedule {
			tolerations = append(tolerations, t)
		}
	}
	var n int64
	for i := range node.Taints() {
		t := &node.Taints()[i]
		if t.Effect == v1.TaintEffectPreferNoSchedule && !framework.Tolerated(tolerations, t) {
			n++
		}
	}
	return n
}

// PreferredNodeAffinity is the sum of the weights of the pod's preferred
// node affinity terms that node matches.
func PreferredNodeAffinity(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	return pod.PreferredNodeAffinity.Score(node.Node())
}

// DefaultNormalize scales scores to 0..MaxNodeScore by their maximum, and
// with reverse turns them around (an all-zero list then becomes all
// MaxNodeScore), as kube-scheduler's helper.DefaultNormalizeScore does.
func DefaultNormalize(scores []int64, reverse bool) {
	var max int64
	for _, s := range scores {
		if s > max {
			max = s
		}
	}
	if max == 0 {
		if reverse {
			for i := range scores {
				scores[i] = MaxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = MaxNodeScore * s / max
		if reverse {
			s = MaxNodeScore - s
		}
		scores[i] = s
	}
}
