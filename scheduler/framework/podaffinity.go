package framework

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// AffinityTerm is a parsed PodAffinityTerm.
type AffinityTerm struct {
	// Namespaces the term selects pods in. When the term names none and
	// has no namespaceSelector it means the owning pod's namespace.
	Namespaces map[string]struct{}
	// NamespaceSelector selects namespaces by their labels;
	// labels.Nothing() when unset.
	NamespaceSelector labels.Selector
	Selector          labels.Selector
	TopologyKey       string
}

// WeightedAffinityTerm is a parsed WeightedPodAffinityTerm.
type WeightedAffinityTerm struct {
	AffinityTerm
	Weight int64
}

func newAffinityTerm(pod *v1.Pod, term *v1.PodAffinityTerm) (AffinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return AffinityTerm{}, err
	}
	nsSel, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
	if err != nil {
		return AffinityTerm{}, err
	}
	ns := make(map[string]struct{}, len(term.Namespaces)+1)
	if len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
		ns[pod.Namespace] = struct{}{}
	}
	for _, n := range term.Namespaces {
		ns[n] = struct{}{}
	}
	return AffinityTerm{Namespaces: ns, NamespaceSelector: nsSel, Selector: sel, TopologyKey: term.TopologyKey}, nil
}

// Matches reports whether pod, whose namespace carries nsLabels, is
// selected by the term.
func (t *AffinityTerm) Matches(pod *v1.Pod, nsLabels labels.Set) bool {
	if _, ok := t.Namespaces[pod.Namespace]; ok || t.NamespaceSelector.Matches(nsLabels) {
		return t.Selector.Matches(labels.Set(pod.Labels))
	}
	return false
}

// ResolveNamespaces returns the term with a label-based namespace selector
// replaced by the namespaces it selects now, as upstream does for the
// incoming pod's terms: matching then needs only the existing pod's
// namespace name. A selector that selects every namespace ({}) is kept as
// it is, since it needs no lookup.
func (t AffinityTerm) ResolveNamespaces(namespaces map[string]labels.Set) AffinityTerm {
	if t.NamespaceSelector.Empty() {
		return t
	}
	ns := make(map[string]struct{}, len(t.Namespaces))
	for n := range t.Namespaces {
		ns[n] = struct{}{}
	}
	for name, l := range namespaces {
		if t.NamespaceSelector.Matches(l) {
			ns[name] = struct{}{}
		}
	}
	t.Namespaces = ns
	t.NamespaceSelector = labels.Nothing()
	return t
}

func affinityTerms(pod *v1.Pod, terms []v1.PodAffinityTerm) ([]AffinityTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]AffinityTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func weightedAffinityTerms(pod *v1.Pod, terms []v1.WeightedPodAffinityTerm) ([]WeightedAffinityTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]WeightedAffinityTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i].PodAffinityTerm)
		if err != nil {
			return nil, err
		}
		out = append(out, WeightedAffinityTerm{AffinityTerm: t, Weight: int64(terms[i].Weight)})
	}
	return out, nil
}
