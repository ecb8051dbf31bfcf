package framework

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// nodeSelectorTerm is one parsed NodeSelectorTerm. A term that fails to
// parse matches no node: upstream ignores parse errors for backwards
// compatibility, and the API server validates the terms anyway.
type nodeSelectorTerm struct {
	labels labels.Selector // nil when the term has no matchExpressions
	fields fields.Selector // nil when the term has no matchFields
	err    error
}

func parseNodeSelectorTerm(term *v1.NodeSelectorTerm) nodeSelectorTerm {
	var t nodeSelectorTerm
	if len(term.MatchExpressions) > 0 {
		sel := labels.NewSelector()
		for _, expr := range term.MatchExpressions {
			op, ok := labelOps[expr.Operator]
			if !ok {
				t.err = fmt.Errorf("%q is not a valid node selector operator", expr.Operator)
				return t
			}
			r, err := labels.NewRequirement(expr.Key, op, expr.Values)
			if err != nil {
				t.err = err
				return t
			}
			sel = sel.Add(*r)
		}
		t.labels = sel
	}
	if len(term.MatchFields) > 0 {
		var sels []fields.Selector
		for _, expr := range term.MatchFields {
			if len(expr.Values) != 1 {
				t.err = fmt.Errorf("unexpected number of value (%d) for node field selector operator %q", len(expr.Values), expr.Operator)
				return t
			}
			switch expr.Operator {
			case v1.NodeSelectorOpIn:
				sels = append(sels, fields.OneTermEqualSelector(expr.Key, expr.Values[0]))
			case v1.NodeSelectorOpNotIn:
				sels = append(sels, fields.OneTermNotEqualSelector(expr.Key, expr.Values[0]))
			default:
				t.err = fmt.Errorf("%q is not a valid node field selector operator", expr.Operator)
				return t
			}
		}
		t.fields = fields.AndSelectors(sels...)
	}
	return t
}

var labelOps = map[v1.NodeSelectorOperator]selection.Operator{
	v1.NodeSelectorOpIn:           selection.In,
	v1.NodeSelectorOpNotIn:        selection.NotIn,
	v1.NodeSelectorOpExists:       selection.Exists,
	v1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	v1.NodeSelectorOpGt:           selection.GreaterThan,
	v1.NodeSelectorOpLt:           selection.LessThan,
}

func (t *nodeSelectorTerm) match(node *v1.Node) bool {
	if t.err != nil {
		return false
	}
	if t.labels != nil && !t.labels.Matches(labels.Set(node.Labels)) {
		return false
	}
	// metadata.name is the only node field a term can select on.
	if t.fields != nil && node.Name != "" && !t.fields.Matches(fields.Set{metav1.ObjectNameField: node.Name}) {
		return false
	}
	return true
}

func isEmptyTerm(t *v1.NodeSelectorTerm) bool {
	return len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0
}

// RequiredNodeAffinity is a pod's nodeSelector ANDed with its
// requiredDuringSchedulingIgnoredDuringExecution node affinity, whose
// terms are ORed.
type RequiredNodeAffinity struct {
	selector    labels.Selector // from spec.nodeSelector; nil when unset
	hasAffinity bool
	terms       []nodeSelectorTerm
}

func newRequiredNodeAffinity(pod *v1.Pod) RequiredNodeAffinity {
	var r RequiredNodeAffinity
	if len(pod.Spec.NodeSelector) > 0 {
		r.selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		r.hasAffinity = true
		for i := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			term := &a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[i]
			// An empty term selects no node, so it can never be the one that matches.
			if !isEmptyTerm(term) {
				r.terms = append(r.terms, parseNodeSelectorTerm(term))
			}
		}
	}
	return r
}

// IsEmpty reports whether the pod constrains nodes at all.
func (r *RequiredNodeAffinity) IsEmpty() bool { return r.selector == nil && !r.hasAffinity }

// Match reports whether node satisfies the pod's required node affinity
// and node selector.
func (r *RequiredNodeAffinity) Match(node *v1.Node) bool {
	if r.selector != nil && !r.selector.Matches(labels.Set(node.Labels)) {
		return false
	}
	if !r.hasAffinity {
		return true
	}
	for i := range r.terms {
		if r.terms[i].match(node) {
			return true
		}
	}
	return false
}

// PreferredNodeAffinity is a pod's preferred node affinity terms.
type PreferredNodeAffinity struct {
	terms   []nodeSelectorTerm
	weights []int64
}

func newPreferredNodeAffinity(pod *v1.Pod) PreferredNodeAffinity {
	var p PreferredNodeAffinity
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return p
	}
	for i := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		term := &a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i]
		if term.Weight == 0 || isEmptyTerm(&term.Preference) {
			continue
		}
		p.terms = append(p.terms, parseNodeSelectorTerm(&term.Preference))
		p.weights = append(p.weights, int64(term.Weight))
	}
	return p
}

// IsEmpty reports whether the pod has no preferred node affinity.
func (p *PreferredNodeAffinity) IsEmpty() bool { return len(p.terms) == 0 }

// Score is the sum of the weights of the terms node matches.
func (p *PreferredNodeAffinity) Score(node *v1.Node) int64 {
	var sum int64
	for i := range p.terms {
		if p.terms[i].match(node) {
			sum += p.weights[i]
		}
	}
	return sum
}

// nodeNamesFromAffinity returns the only node names the pod's required
// node affinity can match, from matchFields metadata.name In, as
// upstream's NodeAffinity PreFilter does. names is nil when any node may
// match; conflict is true when every term pins different names so no node
// can match.
func nodeNamesFromAffinity(pod *v1.Pod) (names map[string]struct{}, conflict bool) {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil, false
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return nil, false
	}
	var union map[string]struct{}
	for _, t := range terms {
		var termNames map[string]struct{}
		for _, r := range t.MatchFields {
			if r.Key != metav1.ObjectNameField || r.Operator != v1.NodeSelectorOpIn {
				continue
			}
			s := make(map[string]struct{}, len(r.Values))
			for _, v := range r.Values {
				if termNames == nil {
					s[v] = struct{}{}
				} else if _, ok := termNames[v]; ok {
					s[v] = struct{}{}
				}
			}
			termNames = s
		}
		if termNames == nil {
			// Terms are ORed: one term without a name pin lets every node through.
			return nil, false
		}
		if union == nil {
			union = map[string]struct{}{}
		}
		for n := range termNames {
			union[n] = struct{}{}
		}
	}
	return union, len(union) == 0
}
