package validation

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	// CronJob time zones must resolve even on hosts without zoneinfo.
	_ "time/tzdata"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Labels the job strategy puts on a generated selector's pods.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

// Limits from kubernetes/pkg/apis/batch/validation.
const (
	maxParallelismForIndexedJob             = 100000
	maxFailedIndexesForIndexedJob           = 100_000
	completionsSoftLimit                    = 100_000
	parallelismLimitForHighCompletions      = 10_000
	maxFailedIndexesLimitForHighCompletions = 10_000
	maxPodFailurePolicyRules                = 20
	maxPodFailurePolicyOnExitCodesValues    = 255
	maxPodFailurePolicyOnPodConditions      = 20
	maxManagedByLength                      = 63
	maxSucceededIndexesLength               = 64 * 1024
	maxSuccessPolicyRules                   = 20
	// A CronJob's Jobs are named <cronjob>-<11-digit timestamp>; a Job name
	// is a DNS label.
	maxCronJobNameLength = validation.DNS1035LabelMaxLength - 11
)

var (
	podFailurePolicyActions = []batchv1.PodFailurePolicyAction{batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex,
		batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore}
	onExitCodesOperators = []batchv1.PodFailurePolicyOnExitCodesOperator{batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn}
	conditionStatuses    = []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}
	replacementPolicies  = []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}
)

// ValidateJob checks a new Job. A Job that lets the server generate its
// selector may arrive without one (the selector needs the UID the server
// assigns); once it has a UID the generated selector and labels are checked.
func ValidateJob(obj *batchv1.Job) field.ErrorList {
	return validateJob(obj, podOptions{}, true)
}

func validateJob(obj *batchv1.Job, opts podOptions, requirePrefixedLabels bool) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, generatedSelector(obj, requirePrefixedLabels)...)
	allErrs = append(allErrs, jobSpecWithSelector(&obj.Spec, field.NewPath("spec"), opts)...)
	if c := obj.Spec.Completions; isIndexed(&obj.Spec) && c != nil && *c > 0 {
		// Indexed pods are named <job>-<index>, which must be a DNS label.
		host := fmt.Sprintf("%s-%d", obj.Name, *c-1)
		if len(validation.IsDNS1123Label(host)) > 0 {
			allErrs = append(allErrs, field.Invalid(field.NewPath("metadata").Child("name"), obj.Name,
				fmt.Sprintf("will not able to create pod with invalid DNS label: %s", host)))
		}
	}
	return allErrs
}

func isIndexed(spec *batchv1.JobSpec) bool {
	return ptr.Deref(spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
}

func generatedSelector(obj *batchv1.Job, requirePrefixedLabels bool) field.ErrorList {
	if ptr.Deref(obj.Spec.ManualSelector, false) || obj.Spec.Selector == nil || obj.UID == "" {
		return nil
	}
	var allErrs field.ErrorList
	metaPath := field.NewPath("spec").Child("template").Child("metadata")
	expected := map[string]string{legacyControllerUIDLabel: string(obj.UID), legacyJobNameLabel: obj.Name}
	if requirePrefixedLabels {
		expected[batchv1.ControllerUidLabel] = string(obj.UID)
		expected[batchv1.JobNameLabel] = obj.Name
	}
	for _, k := range []string{legacyControllerUIDLabel, legacyJobNameLabel, batchv1.ControllerUidLabel, batchv1.JobNameLabel} {
		want, ok := expected[k]
		if !ok {
			continue
		}
		if got, found := obj.Spec.Template.Labels[k]; !found {
			allErrs = append(allErrs, field.Required(metaPath.Child("labels").Key(k), fmt.Sprintf("must be '%s'", want)))
		} else if got != want {
			allErrs = append(allErrs, field.Invalid(metaPath.Child("labels").Key(k), obj.Spec.Template.Labels, fmt.Sprintf("must be '%s'", want)))
		}
	}
	if sel, err := metav1.LabelSelectorAsSelector(obj.Spec.Selector); err == nil && !sel.Matches(labels.Set(expected)) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec").Child("selector"), obj.Spec.Selector, "`selector` not auto-generated"))
	}
	return allErrs
}

// jobSpecWithSelector is the Job's spec rule: the job template rules plus a
// selector that matches the template.
func jobSpecWithSelector(spec *batchv1.JobSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := jobSpec(spec, fldPath, opts)
	if spec.Selector == nil {
		// The server generates the selector of a Job that does not ask for
		// a manual one.
		if ptr.Deref(spec.ManualSelector, false) {
			allErrs = append(allErrs, field.Required(fldPath.Child("selector"), ""))
		}
		return allErrs
	}
	selOpts := metavalidation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: opts.allowInvalidLabelValueInSelector}
	allErrs = append(allErrs, metavalidation.ValidateLabelSelector(spec.Selector, selOpts, fldPath.Child("selector"))...)
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return allErrs
}

// jobSpec checks what a Job and a CronJob's job template share.
func jobSpec(spec *batchv1.JobSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range []struct {
		v    *int32
		name string
	}{
		{spec.Parallelism, "parallelism"}, {spec.Completions, "completions"}, {spec.BackoffLimit, "backoffLimit"},
		{spec.TTLSecondsAfterFinished, "ttlSecondsAfterFinished"}, {spec.BackoffLimitPerIndex, "backoffLimitPerIndex"},
	} {
		if f.v != nil {
			allErrs = append(allErrs, nonNegative(int64(*f.v), fldPath.Child(f.name))...)
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, nonNegative(*spec.ActiveDeadlineSeconds, fldPath.Child("activeDeadlineSeconds"))...)
	}
	if spec.MaxFailedIndexes != nil {
		allErrs = append(allErrs, nonNegative(int64(*spec.MaxFailedIndexes), fldPath.Child("maxFailedIndexes"))...)
		if spec.BackoffLimitPerIndex == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if spec.ManagedBy != nil {
		allErrs = append(allErrs, validation.IsDomainPrefixedPath(fldPath.Child("managedBy"), *spec.ManagedBy)...)
		if len(*spec.ManagedBy) > maxManagedByLength {
			allErrs = append(allErrs, field.TooLongMaxLength(fldPath.Child("managedBy"), *spec.ManagedBy, maxManagedByLength))
		}
	}
	if m := spec.CompletionMode; m != nil {
		if *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("completionMode"), m, []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
		}
	}
	if isIndexed(spec) {
		allErrs = append(allErrs, indexedJobSpec(spec, fldPath)...)
	} else {
		if spec.BackoffLimitPerIndex != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if spec.PodFailurePolicy != nil {
		allErrs = append(allErrs, podFailurePolicy(spec, fldPath.Child("podFailurePolicy"))...)
	}
	if spec.SuccessPolicy != nil {
		if !isIndexed(spec) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("successPolicy"), *spec.SuccessPolicy, "requires indexed completion mode"))
		} else {
			allErrs = append(allErrs, successPolicy(spec, fldPath.Child("successPolicy"))...)
		}
	}
	if p := spec.PodReplacementPolicy; p != nil {
		if spec.PodFailurePolicy != nil {
			if *p != batchv1.Failed {
				allErrs = append(allErrs, field.NotSupported(fldPath.Child("podReplacementPolicy"), *p, []batchv1.PodReplacementPolicy{batchv1.Failed}))
			}
		} else if !sets.New(replacementPolicies...).Has(*p) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("podReplacementPolicy"), *p, replacementPolicies))
		}
	}
	allErrs = append(allErrs, validatePodTemplateSpec(&spec.Template, fldPath.Child("template"), opts)...)
	rpPath := fldPath.Child("template", "spec", "restartPolicy")
	switch rp := spec.Template.Spec.RestartPolicy; {
	case rp == corev1.RestartPolicyAlways || rp == "":
		allErrs = append(allErrs, field.Required(rpPath, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		allErrs = append(allErrs, field.NotSupported(rpPath, rp, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case spec.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		allErrs = append(allErrs, field.Invalid(rpPath, rp, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return allErrs
}

func indexedJobSpec(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Completions == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
	}
	if p := spec.Parallelism; p != nil && *p > maxParallelismForIndexedJob {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("parallelism"), *p, fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexedJob, batchv1.IndexedCompletion)))
	}
	if c, m := spec.Completions, spec.MaxFailedIndexes; c != nil && m != nil && *m > *c {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxFailedIndexes"), *m, "must be less than or equal to completions"))
	}
	if m := spec.MaxFailedIndexes; m != nil && *m > maxFailedIndexesForIndexedJob {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxFailedIndexes"), *m, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
	}
	if c := spec.Completions; c != nil && *c > completionsSoftLimit && spec.BackoffLimitPerIndex != nil {
		if spec.MaxFailedIndexes == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
		}
		if p := spec.Parallelism; p != nil && *p > parallelismLimitForHighCompletions {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("parallelism"), *p, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", parallelismLimitForHighCompletions, completionsSoftLimit)))
		}
		if m := spec.MaxFailedIndexes; m != nil && *m > maxFailedIndexesLimitForHighCompletions {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("maxFailedIndexes"), *m, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", maxFailedIndexesLimitForHighCompletions, completionsSoftLimit)))
		}
	}
	return allErrs
}

func podFailurePolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	rulesPath := fldPath.Child("rules")
	rules := spec.PodFailurePolicy.Rules
	if len(rules) > maxPodFailurePolicyRules {
		allErrs = append(allErrs, field.TooMany(rulesPath, len(rules), maxPodFailurePolicyRules))
	}
	names := sets.New[string]()
	for _, c := range spec.Template.Spec.Containers {
		names.Insert(c.Name)
	}
	for _, c := range spec.Template.Spec.InitContainers {
		names.Insert(c.Name)
	}
	for i := range rules {
		r := &rules[i]
		rulePath := rulesPath.Index(i)
		actionPath := rulePath.Child("action")
		switch {
		case r.Action == "":
			allErrs = append(allErrs, field.Required(actionPath, fmt.Sprintf("valid values: %q", podFailurePolicyActions)))
		case r.Action == batchv1.PodFailurePolicyActionFailIndex:
			if spec.BackoffLimitPerIndex == nil {
				allErrs = append(allErrs, field.Invalid(actionPath, r.Action, "requires the backoffLimitPerIndex to be set"))
			}
		case !sets.New(podFailurePolicyActions...).Has(r.Action):
			allErrs = append(allErrs, field.NotSupported(actionPath, r.Action, podFailurePolicyActions))
		}
		if r.OnExitCodes != nil {
			allErrs = append(allErrs, onExitCodes(r.OnExitCodes, rulePath.Child("onExitCodes"), names)...)
		}
		if len(r.OnPodConditions) > 0 {
			p := rulePath.Child("onPodConditions")
			if len(r.OnPodConditions) > maxPodFailurePolicyOnPodConditions {
				allErrs = append(allErrs, field.TooMany(p, len(r.OnPodConditions), maxPodFailurePolicyOnPodConditions))
			}
			for j, c := range r.OnPodConditions {
				allErrs = append(allErrs, qualifiedName(string(c.Type), p.Index(j).Child("type"))...)
				switch {
				case c.Status == "":
					allErrs = append(allErrs, field.Required(p.Index(j).Child("status"), fmt.Sprintf("valid values: %q", conditionStatuses)))
				case !sets.New(conditionStatuses...).Has(c.Status):
					allErrs = append(allErrs, field.NotSupported(p.Index(j).Child("status"), c.Status, conditionStatuses))
				}
			}
		}
		if r.OnExitCodes != nil && len(r.OnPodConditions) > 0 {
			allErrs = append(allErrs, field.Invalid(rulePath, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		}
		if r.OnExitCodes == nil && len(r.OnPodConditions) == 0 {
			allErrs = append(allErrs, field.Invalid(rulePath, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
	}
	return allErrs
}

func onExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, fldPath *field.Path, containers sets.Set[string]) field.ErrorList {
	var allErrs field.ErrorList
	opPath := fldPath.Child("operator")
	switch {
	case r.Operator == "":
		allErrs = append(allErrs, field.Required(opPath, fmt.Sprintf("valid values: %q", onExitCodesOperators)))
	case !sets.New(onExitCodesOperators...).Has(r.Operator):
		allErrs = append(allErrs, field.NotSupported(opPath, r.Operator, onExitCodesOperators))
	}
	if r.ContainerName != nil && !containers.Has(*r.ContainerName) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("containerName"), *r.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	valuesPath := fldPath.Child("values")
	if len(r.Values) == 0 {
		allErrs = append(allErrs, field.Invalid(valuesPath, r.Values, "at least one value is required"))
	} else if len(r.Values) > maxPodFailurePolicyOnExitCodesValues {
		allErrs = append(allErrs, field.TooMany(valuesPath, len(r.Values), maxPodFailurePolicyOnExitCodesValues))
	}
	ordered := true
	seen := sets.New[int32]()
	for j, v := range r.Values {
		if r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			allErrs = append(allErrs, field.Invalid(valuesPath.Index(j), v, "must not be 0 for the In operator"))
		}
		if seen.Has(v) {
			allErrs = append(allErrs, field.Duplicate(valuesPath.Index(j), v))
		}
		seen.Insert(v)
		if j > 0 && r.Values[j-1] > v {
			ordered = false
		}
	}
	if !ordered {
		allErrs = append(allErrs, field.Invalid(valuesPath, r.Values, "must be ordered"))
	}
	return allErrs
}

func successPolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	rulesPath := fldPath.Child("rules")
	rules := spec.SuccessPolicy.Rules
	if len(rules) == 0 {
		allErrs = append(allErrs, field.Required(rulesPath, "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		allErrs = append(allErrs, field.TooMany(rulesPath, len(rules), maxSuccessPolicyRules))
	}
	completions := int32(0)
	if spec.Completions != nil {
		completions = *spec.Completions
	}
	for i, r := range rules {
		p := rulesPath.Index(i)
		if r.SucceededCount == nil && r.SucceededIndexes == nil {
			allErrs = append(allErrs, field.Required(p, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		var total int32
		if r.SucceededIndexes != nil {
			ip := p.Child("succeededIndexes")
			if len(*r.SucceededIndexes) > maxSucceededIndexesLength {
				allErrs = append(allErrs, field.TooLong(ip, *r.SucceededIndexes, maxSucceededIndexesLength))
			}
			var err error
			if total, err = indexesFormat(*r.SucceededIndexes, completions); err != nil {
				allErrs = append(allErrs, field.Invalid(ip, *r.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %s", err.Error())))
			}
		}
		if c := r.SucceededCount; c != nil {
			cp := p.Child("succeededCount")
			allErrs = append(allErrs, nonNegative(int64(*c), cp)...)
			if *c > completions {
				allErrs = append(allErrs, field.Invalid(cp, *c, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			}
			if r.SucceededIndexes != nil && *c > total {
				allErrs = append(allErrs, field.Invalid(cp, *c, fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
			}
		}
	}
	return allErrs
}

// indexesFormat parses "1,3-5,7" and returns how many indexes it names.
func indexesFormat(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var last *int32
	var total int32
	for _, interval := range strings.Split(s, ",") {
		limits := strings.Split(interval, "-")
		if len(limits) > 2 {
			return 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", interval)
		}
		x, err := strconv.Atoi(limits[0])
		if err != nil {
			return 0, fmt.Errorf("cannot convert string to integer for index: %q", limits[0])
		}
		if x >= int(completions) {
			return 0, fmt.Errorf("too large index: %q", limits[0])
		}
		y := x
		if len(limits) > 1 {
			if y, err = strconv.Atoi(limits[1]); err != nil {
				return 0, fmt.Errorf("cannot convert string to integer for index: %q", limits[1])
			}
			if y >= int(completions) {
				return 0, fmt.Errorf("too large index: %q", limits[1])
			}
			if x >= y {
				return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", x, y)
			}
		}
		if last != nil && int(*last) >= x {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", *last, x)
		}
		total += int32(y - x + 1)
		yy := int32(y)
		last = &yy
	}
	return total, nil
}

// ValidateJobUpdate checks a change to a Job. Selector, completion mode,
// pod failure policy, success policy, backoffLimitPerIndex and managedBy
// never change; completions only together with parallelism in an Indexed
// Job; the pod template not at all, except the scheduling directives
// (node affinity and selector, tolerations, scheduling gates, labels,
// annotations) of a Job that is suspended and has never started.
func ValidateJobUpdate(obj, old *batchv1.Job) field.ErrorList {
	opts := templateOptions(&old.Spec.Template)
	opts.allowInvalidLabelValueInSelector = opts.allowInvalidLabelValueInSelector || metavalidation.LabelSelectorHasInvalidLabelValue(old.Spec.Selector)
	_, hadName := old.Spec.Template.Labels[batchv1.JobNameLabel]
	_, hadUID := old.Spec.Template.Labels[batchv1.ControllerUidLabel]
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateJob(obj, opts, hadName && hadUID)...)

	specPath := field.NewPath("spec")
	spec, oldSpec := &obj.Spec, &old.Spec
	if !isIndexed(spec) {
		allErrs = append(allErrs, immutable(spec.Completions, oldSpec.Completions, specPath.Child("completions"))...)
	} else if !apiequality.Semantic.DeepEqual(spec.Completions, oldSpec.Completions) && spec.Completions != nil &&
		(spec.Parallelism == nil || *spec.Completions != *spec.Parallelism) {
		allErrs = append(allErrs, field.Invalid(specPath.Child("completions"), spec.Completions, fmt.Sprintf("can only be modified in tandem with %s", specPath.Child("parallelism").String())))
	}
	allErrs = append(allErrs, immutable(spec.Selector, oldSpec.Selector, specPath.Child("selector"))...)
	oldTmpl := &oldSpec.Template
	if ptr.Deref(oldSpec.Suspend, false) && old.Status.StartTime == nil {
		oldTmpl = oldSpec.Template.DeepCopy()
		tmpl := &spec.Template
		switch {
		case tmpl.Spec.Affinity == nil && oldTmpl.Spec.Affinity != nil:
			oldTmpl.Spec.Affinity.NodeAffinity = nil
			if apiequality.Semantic.DeepEqual(*oldTmpl.Spec.Affinity, corev1.Affinity{}) {
				oldTmpl.Spec.Affinity = nil
			}
		case tmpl.Spec.Affinity != nil && oldTmpl.Spec.Affinity == nil:
			oldTmpl.Spec.Affinity = &corev1.Affinity{NodeAffinity: tmpl.Spec.Affinity.NodeAffinity}
		case tmpl.Spec.Affinity != nil && oldTmpl.Spec.Affinity != nil:
			oldTmpl.Spec.Affinity.NodeAffinity = tmpl.Spec.Affinity.NodeAffinity
		}
		oldTmpl.Spec.NodeSelector = tmpl.Spec.NodeSelector
		oldTmpl.Spec.Tolerations = tmpl.Spec.Tolerations
		oldTmpl.Annotations = tmpl.Annotations
		oldTmpl.Labels = tmpl.Labels
		oldTmpl.Spec.SchedulingGates = tmpl.Spec.SchedulingGates
	}
	allErrs = append(allErrs, immutable(&spec.Template, oldTmpl, specPath.Child("template"))...)
	allErrs = append(allErrs, immutable(spec.CompletionMode, oldSpec.CompletionMode, specPath.Child("completionMode"))...)
	allErrs = append(allErrs, immutable(spec.PodFailurePolicy, oldSpec.PodFailurePolicy, specPath.Child("podFailurePolicy"))...)
	allErrs = append(allErrs, immutable(spec.BackoffLimitPerIndex, oldSpec.BackoffLimitPerIndex, specPath.Child("backoffLimitPerIndex"))...)
	allErrs = append(allErrs, immutable(spec.ManagedBy, oldSpec.ManagedBy, specPath.Child("managedBy"))...)
	return append(allErrs, immutable(spec.SuccessPolicy, oldSpec.SuccessPolicy, specPath.Child("successPolicy"))...)
}

// ValidateCronJob checks a new CronJob: its name leaves room for the Jobs'
// timestamp suffix, its schedule parses, its job template is a valid Job
// whose selector the server will generate.
func ValidateCronJob(obj *batchv1.CronJob) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, cronJobSpec(&obj.Spec, nil, field.NewPath("spec"), podOptions{})...)
	if len(obj.Name) > maxCronJobNameLength {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata").Child("name"), obj.Name, fmt.Sprintf("must be no more than %d characters", maxCronJobNameLength)))
	}
	return allErrs
}

// ValidateCronJobUpdate checks a change to a CronJob. Names longer than 52
// characters, accepted by older versions, stay updatable.
func ValidateCronJobUpdate(obj, old *batchv1.CronJob) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, cronJobSpec(&obj.Spec, &old.Spec, field.NewPath("spec"), templateOptions(&old.Spec.JobTemplate.Spec.Template))...)
}

func cronJobSpec(spec, old *batchv1.CronJobSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Schedule == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("schedule"), ""))
	} else {
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		allErrs = append(allErrs, scheduleFormat(spec.Schedule, allowTZ, spec.TimeZone, fldPath.Child("schedule"))...)
	}
	if spec.StartingDeadlineSeconds != nil {
		allErrs = append(allErrs, nonNegative(*spec.StartingDeadlineSeconds, fldPath.Child("startingDeadlineSeconds"))...)
	}
	if old == nil || !ptr.Equal(old.TimeZone, spec.TimeZone) {
		allErrs = append(allErrs, timeZone(spec.TimeZone, fldPath.Child("timeZone"))...)
	}
	switch spec.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("concurrencyPolicy"), ""))
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("concurrencyPolicy"), spec.ConcurrencyPolicy,
			[]batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}))
	}
	jtPath := fldPath.Child("jobTemplate")
	allErrs = append(allErrs, jobSpec(&spec.JobTemplate.Spec, jtPath.Child("spec"), opts)...)
	if spec.JobTemplate.Spec.Selector != nil {
		allErrs = append(allErrs, field.Invalid(jtPath.Child("spec", "selector"), spec.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ptr.Deref(spec.JobTemplate.Spec.ManualSelector, false) {
		allErrs = append(allErrs, field.NotSupported(jtPath.Child("spec", "manualSelector"), spec.JobTemplate.Spec.ManualSelector, []string{"nil", "false"}))
	}
	if spec.SuccessfulJobsHistoryLimit != nil {
		allErrs = append(allErrs, nonNegative(int64(*spec.SuccessfulJobsHistoryLimit), fldPath.Child("successfulJobsHistoryLimit"))...)
	}
	if spec.FailedJobsHistoryLimit != nil {
		allErrs = append(allErrs, nonNegative(int64(*spec.FailedJobsHistoryLimit), fldPath.Child("failedJobsHistoryLimit"))...)
	}
	return allErrs
}

func scheduleFormat(schedule string, allowTZ bool, tz *string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if err := ParseCronSchedule(schedule); err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath, schedule, err.Error()))
	}
	switch {
	case allowTZ && strings.Contains(schedule, "TZ") && tz != nil:
		allErrs = append(allErrs, field.Invalid(fldPath, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
	case !allowTZ && strings.Contains(schedule, "TZ"):
		allErrs = append(allErrs, field.Invalid(fldPath, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	}
	return allErrs
}

// A time zone name component per https://data.iana.org/time-zones/theory.html,
// with the digits and "+" of legacy names.
var timeZoneComponent = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func timeZone(tz *string, fldPath *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(fldPath, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !timeZoneComponent.MatchString(part) {
			return field.ErrorList{field.Invalid(fldPath, tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	var allErrs field.ErrorList
	if strings.EqualFold(*tz, "Local") {
		allErrs = append(allErrs, field.Invalid(fldPath, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath, tz, err.Error()))
	}
	return allErrs
}
