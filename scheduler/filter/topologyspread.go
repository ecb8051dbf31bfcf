package filter

import (
	"fmt"
	"math"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

// SpreadConstraint is a parsed TopologySpreadConstraint with the API
// defaults applied (minDomains 1, nodeAffinityPolicy Honor,
// nodeTaintsPolicy Ignore). The score package uses it too.
type SpreadConstraint struct {
	MaxSkew            int32
	TopologyKey        string
	Selector           labels.Selector
	MinDomains         int32
	NodeAffinityPolicy v1.NodeInclusionPolicy
	NodeTaintsPolicy   v1.NodeInclusionPolicy
}

// SpreadConstraints parses the pod's constraints with the given
// whenUnsatisfiable action. matchLabelKeys become extra selector
// requirements on the pod's own label values.
func SpreadConstraints(pod *v1.Pod, action v1.UnsatisfiableConstraintAction) ([]SpreadConstraint, error) {
	var out []SpreadConstraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("parse topology spread selector of %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		for _, key := range c.MatchLabelKeys {
			if v, ok := pod.Labels[key]; ok {
				r, err := labels.NewRequirement(key, selection.Equals, []string{v})
				if err != nil {
					return nil, fmt.Errorf("parse matchLabelKeys of %s/%s: %w", pod.Namespace, pod.Name, err)
				}
				sel = sel.Add(*r)
			}
		}
		sc := SpreadConstraint{
			MaxSkew:            c.MaxSkew,
			TopologyKey:        c.TopologyKey,
			Selector:           sel,
			MinDomains:         1,
			NodeAffinityPolicy: v1.NodeInclusionPolicyHonor,
			NodeTaintsPolicy:   v1.NodeInclusionPolicyIgnore,
		}
		if c.MinDomains != nil {
			sc.MinDomains = *c.MinDomains
		}
		if c.NodeAffinityPolicy != nil {
			sc.NodeAffinityPolicy = *c.NodeAffinityPolicy
		}
		if c.NodeTaintsPolicy != nil {
			sc.NodeTaintsPolicy = *c.NodeTaintsPolicy
		}
		out = append(out, sc)
	}
	return out, nil
}

// IncludesNode reports whether node counts as a domain for the
// constraint under its node inclusion policies.
func (c *SpreadConstraint) IncludesNode(pod *framework.PodInfo, node *v1.Node, taints []v1.Taint) bool {
	if c.NodeAffinityPolicy == v1.NodeInclusionPolicyHonor && !pod.RequiredNodeAffinity.Match(node) {
		return false
	}
	if c.NodeTaintsPolicy == v1.NodeInclusionPolicyHonor {
		if _, untolerated := framework.UntoleratedTaint(taints, pod.Pod.Spec.Tolerations); untolerated {
			return false
		}
	}
	return true
}

// HasTopologyKeys reports whether the node carries every constraint's
// topology key.
func HasTopologyKeys(node *v1.Node, cs []SpreadConstraint) bool {
	for i := range cs {
		if _, ok := node.Labels[cs[i].TopologyKey]; !ok {
			return false
		}
	}
	return true
}

// CountMatching counts the pods on a node in namespace ns that the
// selector matches, skipping terminating pods (they are about to free
// their place, see kubernetes#87621).
func CountMatching(pods []*framework.PodInfo, sel labels.Selector, ns string) int {
	if sel.Empty() {
		return 0
	}
	n := 0
	for _, p := range pods {
		if p.Pod.DeletionTimestamp != nil || p.Pod.Namespace != ns {
			continue
		}
		if sel.Matches(labels.Set(p.Pod.Labels)) {
			n++
		}
	}
	return n
}

type topologyPair struct{ key, value string }

// TopologySpread is the DoNotSchedule part of PodTopologySpread: the
// matching-pod count of every topology domain, computed once per pod.
type TopologySpread struct {
	constraints []SpreadConstraint
	counts      map[topologyPair]int
	// minCount is the smallest count per topology key (MaxInt32 when the
	// key has no eligible domain) and domains the number of domains.
	minCount   map[string]int
	domains    map[string]int
	selfLabels labels.Set
}

// NewTopologySpread counts, for each DoNotSchedule constraint of the pod,
// the matching pods in every eligible topology domain of the snapshot.
func NewTopologySpread(pod *framework.PodInfo, snap *framework.Snapshot) (*TopologySpread, error) {
	cs, err := SpreadConstraints(pod.Pod, v1.DoNotSchedule)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	ts := &TopologySpread{
		constraints: cs,
		counts:      map[topologyPair]int{},
		minCount:    map[string]int{},
		domains:     map[string]int{},
		selfLabels:  labels.Set(pod.Pod.Labels),
	}
	for _, n := range snap.Nodes() {
		node := n.Node()
		if !HasTopologyKeys(node, cs) {
			continue
		}
		for i := range cs {
			c := &cs[i]
			if !c.IncludesNode(pod, node, n.Taints()) {
				continue
			}
			pair := topologyPair{c.TopologyKey, node.Labels[c.TopologyKey]}
			ts.counts[pair] += CountMatching(n.Pods(), c.Selector, pod.Pod.Namespace)
		}
	}
	for i := range cs {
		ts.minCount[cs[i].TopologyKey] = math.MaxInt32
	}
	for pair, n := range ts.counts {
		ts.domains[pair.key]++
		if n < ts.minCount[pair.key] {
			ts.minCount[pair.key] = n
		}
	}
	return ts, nil
}

// Check rejects a node where placing the pod would make some constraint's
// skew (matching pods in the node's domain, plus the pod itself if it
// matches, minus the global minimum) exceed maxSkew, or that lacks a
// constraint's topology label.
func (ts *TopologySpread) Check(node *framework.NodeInfo) *Status {
	if ts == nil {
		return nil
	}
	for i := range ts.constraints {
		c := &ts.constraints[i]
		value, ok := node.Node().Labels[c.TopologyKey]
		if !ok {
			return newStatus(UnschedulableAndUnresolvable, PodTopologySpread, ReasonSpreadMissingLabel)
		}
		min := ts.minCount[c.TopologyKey]
		// With fewer eligible domains than minDomains, the empty domains
		// that do not exist yet count as the global minimum of 0.
		if ts.domains[c.TopologyKey] < int(c.MinDomains) {
			min = 0
		}
		self := 0
		if c.Selector.Matches(ts.selfLabels) {
			self = 1
		}
		if ts.counts[topologyPair{c.TopologyKey, value}]+self-min > int(c.MaxSkew) {
			return newStatus(Unschedulable, PodTopologySpread, ReasonSpread)
		}
	}
	return nil
}
