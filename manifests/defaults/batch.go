package defaults

import (
	"maps"
	"math"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The unprefixed labels Kubernetes still puts on a Job's pods next to the
// batch.kubernetes.io ones.
const (
	LegacyJobNameLabel       = "job-name"
	LegacyControllerUIDLabel = "controller-uid"
)

// Job fills the fields of a Job that the Kubernetes API server defaults:
// completions and parallelism 1 when both are unset, parallelism 1,
// backoffLimit 6 (unlimited with backoffLimitPerIndex), completionMode
// NonIndexed, suspend false, manualSelector false, podReplacementPolicy
// TerminatingOrFailed (Failed with a podFailurePolicy), the job's labels from
// its template's when it has none, and the pod template defaults except
// restartPolicy, which a Job must state. A Job being created that already
// has its UID also gets its selector (see JobSelector).
func Job(obj *batchv1.Job) {
	spec := &obj.Spec
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = ptr.To[int32](1)
		spec.Parallelism = ptr.To[int32](1)
	}
	if spec.Parallelism == nil {
		spec.Parallelism = ptr.To[int32](1)
	}
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = ptr.To[int32](math.MaxInt32)
		} else {
			spec.BackoffLimit = ptr.To[int32](6)
		}
	}
	if spec.CompletionMode == nil {
		spec.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if spec.Suspend == nil {
		spec.Suspend = ptr.To(false)
	}
	if spec.PodFailurePolicy != nil {
		for i := range spec.PodFailurePolicy.Rules {
			conds := spec.PodFailurePolicy.Rules[i].OnPodConditions
			for j := range conds {
				if conds[j].Status == "" {
					conds[j].Status = corev1.ConditionTrue
				}
			}
		}
	}
	if spec.PodReplacementPolicy == nil {
		if spec.PodFailurePolicy != nil {
			spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
	if spec.ManualSelector == nil {
		spec.ManualSelector = ptr.To(false)
	}
	// Kubernetes generates the selector on create only; a stored Job that
	// has none keeps none, since the selector is immutable.
	if obj.ResourceVersion == "" {
		JobSelector(obj)
	}
	// Kubernetes defaults the labels again when it reads the stored Job, so
	// they include the generated selector labels.
	if spec.Template.Labels != nil && len(obj.Labels) == 0 {
		obj.Labels = maps.Clone(spec.Template.Labels)
	}
	jobPodTemplateSpec(&spec.Template)
}

// JobSelector generates the selector of a Job that does not ask for a manual
// one, as the Kubernetes job strategy does on create: the template gets the
// job-name and controller-uid labels (prefixed and legacy) and the selector
// matches batch.kubernetes.io/controller-uid. It needs the Job's UID, so it
// does nothing before the API server has assigned one; labels the client set
// are kept, and validation rejects them if they do not match.
func JobSelector(obj *batchv1.Job) {
	if ptr.Deref(obj.Spec.ManualSelector, false) || obj.UID == "" {
		return
	}
	tmpl := &obj.Spec.Template
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	for _, k := range []string{LegacyJobNameLabel, batchv1.JobNameLabel} {
		if _, ok := tmpl.Labels[k]; !ok {
			tmpl.Labels[k] = obj.Name
		}
	}
	for _, k := range []string{LegacyControllerUIDLabel, batchv1.ControllerUidLabel} {
		if _, ok := tmpl.Labels[k]; !ok {
			tmpl.Labels[k] = string(obj.UID)
		}
	}
	if obj.Spec.Selector == nil {
		obj.Spec.Selector = &metav1.LabelSelector{}
	}
	if obj.Spec.Selector.MatchLabels == nil {
		obj.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := obj.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		obj.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(obj.UID)
	}
}

// CronJob fills the fields of a CronJob that the Kubernetes API server
// defaults: concurrencyPolicy Allow, suspend false,
// successfulJobsHistoryLimit 3, failedJobsHistoryLimit 1, and the pod
// template defaults of the job template (the job spec itself is defaulted
// when the controller creates the Job).
func CronJob(obj *batchv1.CronJob) {
	spec := &obj.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if spec.Suspend == nil {
		spec.Suspend = ptr.To(false)
	}
	if spec.SuccessfulJobsHistoryLimit == nil {
		spec.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = ptr.To[int32](1)
	}
	jobPodTemplateSpec(&spec.JobTemplate.Spec.Template)
}
