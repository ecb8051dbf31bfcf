package filter

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

// PodAffinity is the required part of the InterPodAffinity plugin:
// per topology domain, how many existing pods the incoming pod's terms
// select, and how many existing pods' anti-affinity terms select the
// incoming pod.
type PodAffinity struct {
	pod          *framework.PodInfo
	affinity     []framework.AffinityTerm
	antiAffinity []framework.AffinityTerm
	// affinityCounts counts, per domain, pods matching all of the pod's
	// affinity terms; antiCounts pods matching one of its anti-affinity
	// terms; existingAnti pods whose anti-affinity selects the pod.
	affinityCounts map[topologyPair]int
	antiCounts     map[topologyPair]int
	existingAnti   map[topologyPair]int
}

// NewPodAffinity computes the counts over the snapshot. It returns
// nil when neither the pod nor any pod in the cluster has a required
// rule to check.
func NewPodAffinity(pod *framework.PodInfo, snap *framework.Snapshot) (*PodAffinity, error) {
	if pod.AffinityErr != nil {
		return nil, pod.AffinityErr
	}
	withAnti := snap.NodesWithRequiredAntiAffinity()
	if len(pod.RequiredAffinity) == 0 && len(pod.RequiredAntiAffinity) == 0 && len(withAnti) == 0 {
		return nil, nil
	}
	ipa := &PodAffinity{
		pod:            pod,
		affinity:       resolve(pod.RequiredAffinity, snap),
		antiAffinity:   resolve(pod.RequiredAntiAffinity, snap),
		affinityCounts: map[topologyPair]int{},
		antiCounts:     map[topologyPair]int{},
		existingAnti:   map[topologyPair]int{},
	}
	nsLabels := snap.NamespaceLabels(pod.Pod.Namespace)
	for _, n := range withAnti {
		node := n.Node()
		for _, existing := range n.Pods() {
			for i := range existing.RequiredAntiAffinity {
				t := &existing.RequiredAntiAffinity[i]
				if v, ok := node.Labels[t.TopologyKey]; ok && t.Matches(pod.Pod, nsLabels) {
					ipa.existingAnti[topologyPair{t.TopologyKey, v}]++
				}
			}
		}
	}
	if len(ipa.affinity) > 0 || len(ipa.antiAffinity) > 0 {
		for _, n := range snap.Nodes() {
			node := n.Node()
			for _, existing := range n.Pods() {
				if matchesAll(ipa.affinity, existing) {
					for i := range ipa.affinity {
						t := &ipa.affinity[i]
						if v, ok := node.Labels[t.TopologyKey]; ok {
							ipa.affinityCounts[topologyPair{t.TopologyKey, v}]++
						}
					}
				}
				for i := range ipa.antiAffinity {
					t := &ipa.antiAffinity[i]
					if v, ok := node.Labels[t.TopologyKey]; ok && t.Matches(existing.Pod, nil) {
						ipa.antiCounts[topologyPair{t.TopologyKey, v}]++
					}
				}
			}
		}
	}
	return ipa, nil
}

func resolve(terms []framework.AffinityTerm, snap *framework.Snapshot) []framework.AffinityTerm {
	if len(terms) == 0 {
		return nil
	}
	out := make([]framework.AffinityTerm, len(terms))
	for i := range terms {
		out[i] = terms[i].ResolveNamespaces(snap.Namespaces())
	}
	return out
}

// matchesAll reports whether p matches every term (resolved terms need no
// namespace labels). No terms match nothing.
func matchesAll(terms []framework.AffinityTerm, p *framework.PodInfo) bool {
	if len(terms) == 0 {
		return false
	}
	for i := range terms {
		if !terms[i].Matches(p.Pod, nil) {
			return false
		}
	}
	return true
}

// Check rejects a node in a domain that breaks a required rule: the pod's
// affinity finds no matching pod there, its anti-affinity finds one, or an
// existing pod's anti-affinity there selects the pod.
func (ipa *PodAffinity) Check(node *framework.NodeInfo) *Status {
	if ipa == nil {
		return nil
	}
	nodeLabels := node.Node().Labels
	if !ipa.satisfiesAffinity(nodeLabels) {
		return newStatus(UnschedulableAndUnresolvable, InterPodAffinity, ReasonPodAffinity)
	}
	for i := range ipa.antiAffinity {
		t := &ipa.antiAffinity[i]
		if v, ok := nodeLabels[t.TopologyKey]; ok && ipa.antiCounts[topologyPair{t.TopologyKey, v}] > 0 {
			return newStatus(Unschedulable, InterPodAffinity, ReasonPodAntiAffinity)
		}
	}
	if len(ipa.existingAnti) > 0 {
		for k, v := range nodeLabels {
			if ipa.existingAnti[topologyPair{k, v}] > 0 {
				return newStatus(Unschedulable, InterPodAffinity, ReasonExistingAntiAffinity)
			}
		}
	}
	return nil
}

func (ipa *PodAffinity) satisfiesAffinity(nodeLabels labels.Set) bool {
	podsExist := true
	for i := range ipa.affinity {
		t := &ipa.affinity[i]
		v, ok := nodeLabels[t.TopologyKey]
		if !ok {
			// The node must carry every topology key.
			return false
		}
		if ipa.affinityCounts[topologyPair{t.TopologyKey, v}] <= 0 {
			podsExist = false
		}
	}
	if podsExist {
		return true
	}
	// The first pod of a group whose affinity selects itself: if no pod
	// anywhere matches yet and the pod matches its own terms, let it
	// start the group rather than stay pending forever.
	return len(ipa.affinityCounts) == 0 && matchesAll(ipa.affinity, ipa.pod)
}
