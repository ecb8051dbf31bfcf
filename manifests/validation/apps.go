package validation

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// int32Value reads a defaulted pointer; an unset one counts as 0, which is
// what Kubernetes' internal types hold before defaulting.
func int32Value(p *int32) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}

// workloadSelector validates a workload's required, non-empty selector and
// returns it parsed (nil when it cannot be parsed).
func workloadSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) (labels.Selector, field.ErrorList) {
	var allErrs field.ErrorList
	if sel == nil {
		allErrs = append(allErrs, field.Required(fldPath, ""))
	} else {
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, fldPath)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			allErrs = append(allErrs, field.Invalid(fldPath, sel, "empty selector is invalid for "+kind))
		}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, allErrs
	}
	return s, allErrs
}

// templateMatches requires the pods a template creates to match the
// workload's selector.
func templateMatches(sel labels.Selector, tmpl *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	if sel != nil && !sel.Empty() && !sel.Matches(labels.Set(tmpl.Labels)) {
		return field.ErrorList{field.Invalid(fldPath.Child("metadata", "labels"), tmpl.Labels, "`selector` does not match template `labels`")}
	}
	return nil
}

// replicaSetTemplate is the template rule of Deployments and ReplicaSets:
// matching labels, a valid pod template, pods that always restart.
func replicaSetTemplate(sel labels.Selector, tmpl *corev1.PodTemplateSpec, kind string, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := templateMatches(sel, tmpl, fldPath)
	allErrs = append(allErrs, validatePodTemplateSpec(tmpl, fldPath, opts)...)
	allErrs = append(allErrs, alwaysRestarts(tmpl, kind, fldPath)...)
	return allErrs
}

func alwaysRestarts(tmpl *corev1.PodTemplateSpec, kind string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if p := tmpl.Spec.RestartPolicy; p != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), p, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if tmpl.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return allErrs
}

// ValidateDeployment checks a new Deployment.
func ValidateDeployment(obj *appsv1.Deployment) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, deploymentSpec(&obj.Spec, field.NewPath("spec"), podOptions{})...)
}

func deploymentSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := nonNegative(int32Value(spec.Replicas), fldPath.Child("replicas"))
	sel, errs := workloadSelector(spec.Selector, "deployment", fldPath.Child("selector"))
	allErrs = append(allErrs, errs...)
	allErrs = append(allErrs, replicaSetTemplate(sel, &spec.Template, "ReplicaSet", fldPath.Child("template"), opts)...)
	allErrs = append(allErrs, deploymentStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, nonNegative(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	if p := spec.ProgressDeadlineSeconds; p != nil {
		allErrs = append(allErrs, nonNegative(int64(*p), fldPath.Child("progressDeadlineSeconds"))...)
		if *p <= spec.MinReadySeconds {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("progressDeadlineSeconds"), p, "must be greater than minReadySeconds"))
		}
	}
	return allErrs
}

func deploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		p := fldPath.Child("rollingUpdate")
		maxUnavailable, maxSurge := intOrZero(s.RollingUpdate.MaxUnavailable), intOrZero(s.RollingUpdate.MaxSurge)
		allErrs := positiveIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))
		allErrs = append(allErrs, positiveIntOrPercent(maxSurge, p.Child("maxSurge"))...)
		if intOrPercentValue(maxUnavailable) == 0 && intOrPercentValue(maxSurge) == 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("maxUnavailable"), maxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
		return append(allErrs, notMoreThan100Percent(maxUnavailable, p.Child("maxUnavailable"))...)
	default:
		return field.ErrorList{field.NotSupported(fldPath, s, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)})}
	}
	return nil
}

func intOrZero(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

func positiveIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			allErrs = append(allErrs, field.Invalid(fldPath, v, msg))
		}
	case intstr.Int:
		allErrs = append(allErrs, nonNegative(int64(v.IntValue()), fldPath)...)
	default:
		allErrs = append(allErrs, field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%%')"))
	}
	return allErrs
}

func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func notMoreThan100Percent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(fldPath, v, "must not be greater than 100%")}
	}
	return nil
}

// templateOptions relaxes, on update, what the stored template already
// breaks.
func templateOptions(old *corev1.PodTemplateSpec) podOptions {
	return podOptionsFor(old, false)
}

// ValidateDeploymentUpdate checks a change to a Deployment: the new one must
// be valid and its selector cannot change.
func ValidateDeploymentUpdate(obj, old *appsv1.Deployment) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, deploymentSpec(&obj.Spec, field.NewPath("spec"), templateOptions(&old.Spec.Template))...)
	return append(allErrs, immutable(obj.Spec.Selector, old.Spec.Selector, field.NewPath("spec").Child("selector"))...)
}

// ValidateReplicaSet checks a new ReplicaSet.
func ValidateReplicaSet(obj *appsv1.ReplicaSet) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, replicaSetSpec(&obj.Spec, field.NewPath("spec"), podOptions{})...)
}

func replicaSetSpec(spec *appsv1.ReplicaSetSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := nonNegative(int32Value(spec.Replicas), fldPath.Child("replicas"))
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	// Kubernetes says "deployment" here too.
	sel, errs := workloadSelector(spec.Selector, "deployment", fldPath.Child("selector"))
	allErrs = append(allErrs, errs...)
	return append(allErrs, replicaSetTemplate(sel, &spec.Template, "ReplicaSet", fldPath.Child("template"), opts)...)
}

// ValidateReplicaSetUpdate checks a change to a ReplicaSet: the new one must
// be valid and its selector cannot change.
func ValidateReplicaSetUpdate(obj, old *appsv1.ReplicaSet) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, replicaSetSpec(&obj.Spec, field.NewPath("spec"), templateOptions(&old.Spec.Template))...)
	return append(allErrs, immutable(obj.Spec.Selector, old.Spec.Selector, field.NewPath("spec").Child("selector"))...)
}

// ValidateStatefulSet checks a new StatefulSet. Its name becomes the pods'
// hostnames, so it must be a DNS label. Like Kubernetes v1.33 it checks the
// template's labels and annotations but not its pod spec, whose volume
// mounts may name volumeClaimTemplates.
func ValidateStatefulSet(obj *appsv1.StatefulSet) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSLabel, field.NewPath("metadata"))
	return append(allErrs, statefulSetSpec(&obj.Spec, field.NewPath("spec"), podOptions{}, false)...)
}

var pvcRetentionPolicies = []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}

func statefulSetSpec(spec *appsv1.StatefulSetSpec, fldPath *field.Path, opts podOptions, allowInvalidServiceName bool) field.ErrorList {
	var allErrs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	us := &spec.UpdateStrategy
	switch us.Type {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("updateStrategy"), ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if us.RollingUpdate != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("updateStrategy").Child("rollingUpdate"), us.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := us.RollingUpdate; ru != nil {
			p := fldPath.Child("updateStrategy", "rollingUpdate")
			allErrs = append(allErrs, nonNegative(int32Value(ru.Partition), p.Child("partition"))...)
			if ru.MaxUnavailable != nil {
				mu := p.Child("maxUnavailable")
				allErrs = append(allErrs, positiveIntOrPercent(*ru.MaxUnavailable, mu)...)
				if intOrPercentValue(*ru.MaxUnavailable) == 0 {
					allErrs = append(allErrs, field.Invalid(mu, *ru.MaxUnavailable, "cannot be 0"))
				}
				allErrs = append(allErrs, notMoreThan100Percent(*ru.MaxUnavailable, mu)...)
			}
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("updateStrategy"), *us,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		pp := fldPath.Child("persistentVolumeClaimRetentionPolicy")
		for _, f := range []struct {
			v    appsv1.PersistentVolumeClaimRetentionPolicyType
			name string
		}{{p.WhenDeleted, "whenDeleted"}, {p.WhenScaled, "whenScaled"}} {
			if f.v != appsv1.RetainPersistentVolumeClaimRetentionPolicyType && f.v != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
				allErrs = append(allErrs, field.NotSupported(pp.Child(f.name), f.v, pvcRetentionPolicies))
			}
		}
	}
	allErrs = append(allErrs, nonNegative(int32Value(spec.Replicas), fldPath.Child("replicas"))...)
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.Ordinals != nil {
		allErrs = append(allErrs, nonNegative(int64(spec.Ordinals.Start), fldPath.Child("ordinals.start"))...)
	}
	// The service name becomes the pods' DNS subdomain.
	if !allowInvalidServiceName && spec.ServiceName != "" {
		allErrs = append(allErrs, dns1123Label(spec.ServiceName, fldPath.Child("serviceName"))...)
	}
	sel, errs := workloadSelector(spec.Selector, "statefulset", fldPath.Child("selector"))
	allErrs = append(allErrs, errs...)
	tmplPath := fldPath.Child("template")
	allErrs = append(allErrs, templateMatches(sel, &spec.Template, tmplPath)...)
	allErrs = append(allErrs, metavalidation.ValidateLabels(spec.Template.Labels, tmplPath.Child("labels"))...)
	allErrs = append(allErrs, validateAnnotations(spec.Template.Annotations, tmplPath.Child("annotations"))...)
	allErrs = append(allErrs, podSpecificAnnotations(spec.Template.Annotations, &spec.Template.Spec, tmplPath.Child("annotations"), opts)...)
	return append(allErrs, alwaysRestarts(&spec.Template, "StatefulSet", tmplPath)...)
}

// ValidateStatefulSetUpdate checks a change to a StatefulSet: only replicas,
// ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy
// and minReadySeconds may change.
func ValidateStatefulSetUpdate(obj, old *appsv1.StatefulSet) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allowInvalidServiceName := len(dns1123Label(old.Spec.ServiceName, unreported())) > 0
	allErrs = append(allErrs, statefulSetSpec(&obj.Spec, field.NewPath("spec"), templateOptions(&old.Spec.Template), allowInvalidServiceName)...)
	clone := obj.Spec.DeepCopy()
	clone.Replicas = old.Spec.Replicas
	clone.Template = old.Spec.Template
	clone.UpdateStrategy = old.Spec.UpdateStrategy
	clone.MinReadySeconds = old.Spec.MinReadySeconds
	clone.Ordinals = old.Spec.Ordinals
	clone.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	if !apiequality.Semantic.DeepEqual(*clone, old.Spec) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return allErrs
}

// ValidateDaemonSet checks a new DaemonSet.
func ValidateDaemonSet(obj *appsv1.DaemonSet) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, daemonSetSpec(&obj.Spec, field.NewPath("spec"), podOptions{})...)
}

func daemonSetSpec(spec *appsv1.DaemonSetSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	selOpts := metavalidation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: opts.allowInvalidLabelValueInSelector}
	allErrs := metavalidation.ValidateLabelSelector(spec.Selector, selOpts, fldPath.Child("selector"))
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	if spec.Selector != nil && len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("selector"), spec.Selector, "empty selector is invalid for daemonset"))
	}
	allErrs = append(allErrs, validatePodTemplateSpec(&spec.Template, fldPath.Child("template"), opts)...)
	allErrs = append(allErrs, alwaysRestarts(&spec.Template, "DaemonSet", fldPath.Child("template"))...)
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, daemonSetUpdateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, nonNegative(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	return allErrs
}

func daemonSetUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "")}
		}
		p := fldPath.Child("rollingUpdate")
		mu, ms := intOrZero(s.RollingUpdate.MaxUnavailable), intOrZero(s.RollingUpdate.MaxSurge)
		allErrs := positiveIntOrPercent(mu, p.Child("maxUnavailable"))
		allErrs = append(allErrs, positiveIntOrPercent(ms, p.Child("maxSurge"))...)
		allErrs = append(allErrs, notMoreThan100Percent(mu, p.Child("maxUnavailable"))...)
		allErrs = append(allErrs, notMoreThan100Percent(ms, p.Child("maxSurge"))...)
		hasUnavailable, hasSurge := intOrPercentValue(mu) != 0, intOrPercentValue(ms) != 0
		switch {
		case hasUnavailable && hasSurge:
			allErrs = append(allErrs, field.Invalid(p.Child("maxSurge"), ms, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			allErrs = append(allErrs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return allErrs
	}
	return field.ErrorList{field.NotSupported(fldPath, s, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)})}
}

// ValidateDaemonSetUpdate checks a change to a DaemonSet: the new one must
// be valid and its selector cannot change.
func ValidateDaemonSetUpdate(obj, old *appsv1.DaemonSet) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, daemonSetSpec(&obj.Spec, field.NewPath("spec"), templateOptions(&old.Spec.Template))...)
	return append(allErrs, immutable(obj.Spec.Selector, old.Spec.Selector, field.NewPath("spec").Child("selector"))...)
}

// ValidateControllerRevision checks a new ControllerRevision.
func ValidateControllerRevision(obj *appsv1.ControllerRevision) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	if obj.Data.Raw == nil && obj.Data.Object == nil {
		allErrs = append(allErrs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(allErrs, nonNegative(obj.Revision, field.NewPath("revision"))...)
}

// ValidateControllerRevisionUpdate checks a change to a ControllerRevision,
// whose data never changes.
func ValidateControllerRevisionUpdate(obj, old *appsv1.ControllerRevision) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateControllerRevision(obj)...)
	return append(allErrs, immutable(obj.Data, old.Data, field.NewPath("data"))...)
}
