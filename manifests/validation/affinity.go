package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func affinity(a *corev1.Affinity, opts podOptions, fldPath *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var allErrs field.ErrorList
	if na := a.NodeAffinity; na != nil {
		p := fldPath.Child("nodeAffinity")
		if na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
			allErrs = append(allErrs, nodeSelector(na.RequiredDuringSchedulingIgnoredDuringExecution, opts.allowInvalidLabelValueInRequiredNodeAffinity, p.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		}
		for i, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			tp := p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			if t.Weight <= 0 || t.Weight > 100 {
				allErrs = append(allErrs, field.Invalid(tp.Child("weight"), t.Weight, "must be in the range 1-100"))
			}
			// Preferred terms may name label values no node has.
			allErrs = append(allErrs, nodeSelectorTerm(t.Preference, true, tp.Child("preference"))...)
		}
	}
	if pa := a.PodAffinity; pa != nil {
		p := fldPath.Child("podAffinity")
		allErrs = append(allErrs, podAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, opts, p.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		allErrs = append(allErrs, weightedPodAffinityTerms(pa.PreferredDuringSchedulingIgnoredDuringExecution, opts, p.Child("preferredDuringSchedulingIgnoredDuringExecution"))...)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		p := fldPath.Child("podAntiAffinity")
		allErrs = append(allErrs, podAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, opts, p.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		allErrs = append(allErrs, weightedPodAffinityTerms(pa.PreferredDuringSchedulingIgnoredDuringExecution, opts, p.Child("preferredDuringSchedulingIgnoredDuringExecution"))...)
	}
	return allErrs
}

func nodeSelector(ns *corev1.NodeSelector, allowInvalidValue bool, fldPath *field.Path) field.ErrorList {
	termsPath := fldPath.Child("nodeSelectorTerms")
	if len(ns.NodeSelectorTerms) == 0 {
		return field.ErrorList{field.Required(termsPath, "must have at least one node selector term")}
	}
	var allErrs field.ErrorList
	for i, t := range ns.NodeSelectorTerms {
		allErrs = append(allErrs, nodeSelectorTerm(t, allowInvalidValue, termsPath.Index(i))...)
	}
	return allErrs
}

func nodeSelectorTerm(t corev1.NodeSelectorTerm, allowInvalidValue bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for j, r := range t.MatchExpressions {
		allErrs = append(allErrs, nodeSelectorRequirement(r, allowInvalidValue, fldPath.Child("matchExpressions").Index(j))...)
	}
	for j, r := range t.MatchFields {
		allErrs = append(allErrs, nodeFieldSelectorRequirement(r, fldPath.Child("matchFields").Index(j))...)
	}
	return allErrs
}

func nodeSelectorRequirement(r corev1.NodeSelectorRequirement, allowInvalidValue bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch r.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(r.Values) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(r.Values) > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 {
			allErrs = append(allErrs, field.Required(fldPath.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("operator"), r.Operator, "not a valid selector operator"))
	}
	allErrs = append(allErrs, metavalidation.ValidateLabelName(r.Key, fldPath.Child("key"))...)
	if !allowInvalidValue {
		for i, v := range r.Values {
			for _, msg := range validation.IsValidLabelValue(v) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("values").Index(i), v, msg))
			}
		}
	}
	return allErrs
}

// nodeFieldSelectorRequirement: matchFields can only select metadata.name.
func nodeFieldSelectorRequirement(r corev1.NodeSelectorRequirement, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch r.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(r.Values) != 1 {
			allErrs = append(allErrs, field.Required(fldPath.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("operator"), r.Operator, "not a valid selector operator"))
	}
	if r.Key != metav1.ObjectNameField {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("key"), r.Key, "not a valid field selector key"))
	} else {
		for i, v := range r.Values {
			allErrs = append(allErrs, objectName(NameIsDNSSubdomain, v, fldPath.Child("values").Index(i))...)
		}
	}
	return allErrs
}

func podAffinityTerms(terms []corev1.PodAffinityTerm, opts podOptions, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range terms {
		allErrs = append(allErrs, podAffinityTerm(t, opts, fldPath.Index(i))...)
	}
	return allErrs
}

func weightedPodAffinityTerms(terms []corev1.WeightedPodAffinityTerm, opts podOptions, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range terms {
		if t.Weight <= 0 || t.Weight > 100 {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i).Child("weight"), t.Weight, "must be in the range 1-100"))
		}
		allErrs = append(allErrs, podAffinityTerm(t.PodAffinityTerm, opts, fldPath.Index(i).Child("podAffinityTerm"))...)
	}
	return allErrs
}

func podAffinityTerm(t corev1.PodAffinityTerm, opts podOptions, fldPath *field.Path) field.ErrorList {
	selOpts := metavalidation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: opts.allowInvalidLabelValueInSelector}
	allErrs := metavalidation.ValidateLabelSelector(t.LabelSelector, selOpts, fldPath.Child("labelSelector"))
	allErrs = append(allErrs, metavalidation.ValidateLabelSelector(t.NamespaceSelector, selOpts, fldPath.Child("namespaceSelector"))...)
	for _, ns := range t.Namespaces {
		allErrs = append(allErrs, objectName(ValidateNamespaceName, ns, fldPath.Child("namespace"))...)
	}
	allErrs = append(allErrs, matchLabelKeysAndMismatchLabelKeys(fldPath, t.MatchLabelKeys, t.MismatchLabelKeys, t.LabelSelector)...)
	if t.TopologyKey == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("topologyKey"), "can not be empty"))
	}
	return append(allErrs, metavalidation.ValidateLabelName(t.TopologyKey, fldPath.Child("topologyKey"))...)
}

func matchLabelKeysAndMismatchLabelKeys(fldPath *field.Path, matchKeys, mismatchKeys []string, sel *metav1.LabelSelector) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, labelKeys(fldPath.Child("matchLabelKeys"), matchKeys, sel)...)
	allErrs = append(allErrs, labelKeys(fldPath.Child("mismatchLabelKeys"), mismatchKeys, sel)...)
	if sel != nil {
		index := map[string]int{}
		for i, k := range matchKeys {
			index[k] = i
		}
		seen := sets.New[string]()
		for k := range sel.MatchLabels {
			seen.Insert(k)
		}
		for _, e := range sel.MatchExpressions {
			if i, ok := index[e.Key]; ok && seen.Has(e.Key) {
				allErrs = append(allErrs, field.Invalid(fldPath.Index(i), e.Key, "exists in both matchLabelKeys and labelSelector"))
			}
			seen.Insert(e.Key)
		}
	}
	mismatch := sets.New(mismatchKeys...)
	for i, k := range matchKeys {
		if mismatch.Has(k) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("matchLabelKeys").Index(i), k, "exists in both matchLabelKeys and mismatchLabelKeys"))
		}
	}
	return allErrs
}

func labelKeys(fldPath *field.Path, keys []string, sel *metav1.LabelSelector) field.ErrorList {
	if len(keys) == 0 {
		return nil
	}
	if sel == nil {
		return field.ErrorList{field.Forbidden(fldPath, "must not be specified when labelSelector is not set")}
	}
	var allErrs field.ErrorList
	for i, k := range keys {
		allErrs = append(allErrs, metavalidation.ValidateLabelName(k, fldPath.Index(i))...)
	}
	return allErrs
}

// affinitySelectorsHaveInvalidValue tells whether a stored pod's affinity
// terms already use label values the strict rule refuses.
func affinitySelectorsHaveInvalidValue(a *corev1.Affinity) bool {
	if a == nil {
		return false
	}
	var terms []corev1.PodAffinityTerm
	for _, pa := range []*corev1.PodAffinity{a.PodAffinity} {
		if pa != nil {
			terms = append(terms, pa.RequiredDuringSchedulingIgnoredDuringExecution...)
			for _, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
				terms = append(terms, w.PodAffinityTerm)
			}
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		terms = append(terms, pa.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	for _, t := range terms {
		if metavalidation.LabelSelectorHasInvalidLabelValue(t.LabelSelector) || metavalidation.LabelSelectorHasInvalidLabelValue(t.NamespaceSelector) {
			return true
		}
	}
	return false
}

var (
	unsatisfiableActions = []corev1.UnsatisfiableConstraintAction{corev1.DoNotSchedule, corev1.ScheduleAnyway}
	inclusionPolicies    = []corev1.NodeInclusionPolicy{corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore}
)

func topologySpreadConstraints(cs []corev1.TopologySpreadConstraint, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	for i, c := range cs {
		p := fldPath.Index(i)
		if c.MaxSkew <= 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			allErrs = append(allErrs, field.Required(p.Child("topologyKey"), "can not be empty"))
		}
		if !sets.New(unsatisfiableActions...).Has(c.WhenUnsatisfiable) {
			allErrs = append(allErrs, field.NotSupported(p.Child("whenUnsatisfiable"), c.WhenUnsatisfiable, unsatisfiableActions))
		}
		for _, other := range cs[i+1:] {
			if c.TopologyKey == other.TopologyKey && c.WhenUnsatisfiable == other.WhenUnsatisfiable {
				allErrs = append(allErrs, field.Duplicate(p.Child("{topologyKey, whenUnsatisfiable}"), fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
				break
			}
		}
		if c.MinDomains != nil {
			if *c.MinDomains <= 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("minDomains"), c.MinDomains, "must be greater than zero"))
			}
			if c.WhenUnsatisfiable != corev1.DoNotSchedule {
				allErrs = append(allErrs, field.Invalid(p.Child("minDomains"), c.MinDomains, fmt.Sprintf("can only use minDomains if whenUnsatisfiable=%s, not %s", corev1.DoNotSchedule, c.WhenUnsatisfiable)))
			}
		}
		for _, pol := range []struct {
			v    *corev1.NodeInclusionPolicy
			name string
		}{{c.NodeAffinityPolicy, "nodeAffinityPolicy"}, {c.NodeTaintsPolicy, "nodeTaintsPolicy"}} {
			if pol.v != nil && !sets.New(inclusionPolicies...).Has(*pol.v) {
				allErrs = append(allErrs, field.NotSupported(p.Child(pol.name), pol.v, inclusionPolicies))
			}
		}
		if len(c.MatchLabelKeys) > 0 {
			keysPath := p.Child("matchLabelKeys")
			seen := sets.New[string]()
			if c.LabelSelector == nil {
				allErrs = append(allErrs, field.Forbidden(keysPath, "must not be specified when labelSelector is not set"))
			} else {
				for k := range c.LabelSelector.MatchLabels {
					seen.Insert(k)
				}
				for _, e := range c.LabelSelector.MatchExpressions {
					seen.Insert(e.Key)
				}
			}
			for j, k := range c.MatchLabelKeys {
				allErrs = append(allErrs, metavalidation.ValidateLabelName(k, keysPath.Index(j))...)
				if seen.Has(k) {
					allErrs = append(allErrs, field.Invalid(keysPath.Index(j), k, "exists in both matchLabelKeys and labelSelector"))
				}
			}
		}
		if !opts.allowInvalidTopologySpreadSelector {
			allErrs = append(allErrs, metavalidation.ValidateLabelSelector(c.LabelSelector, metavalidation.LabelSelectorValidationOptions{}, p.Child("labelSelector"))...)
		}
	}
	return allErrs
}
