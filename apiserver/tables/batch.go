package tables

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

func jobPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Status", Type: "string", Description: "Status of the job."},
			{Name: "Completions", Type: "string", Description: batchv1.JobStatus{}.SwaggerDoc()["succeeded"]},
			{Name: "Duration", Type: "string", Description: "Time required to complete the job."},
			ageColumn(),
			containersColumn(),
			imagesColumn(),
			{Name: "Selector", Type: "string", Priority: 1, Description: batchv1.JobSpec{}.SwaggerDoc()["selector"]},
		},
		Row: typedRow(jobCells),
	}
}

func jobCells(job *batchv1.Job, now time.Time) ([]interface{}, error) {
	var completions string
	switch {
	case job.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	case job.Spec.Parallelism != nil && *job.Spec.Parallelism > 1:
		// A work queue: done when one pod succeeds, several run at once.
		completions = fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, *job.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", job.Status.Succeeded)
	}

	var took string
	switch {
	case job.Status.StartTime == nil:
	case job.Status.CompletionTime == nil:
		took = duration.HumanDuration(now.Sub(job.Status.StartTime.Time))
	default:
		took = duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}

	names, images := containerCells(job.Spec.Template.Spec.Containers)
	return []interface{}{
		job.Name,
		jobStatus(job),
		completions,
		took,
		since(job.CreationTimestamp, now),
		names,
		images,
		metav1.FormatLabelSelector(job.Spec.Selector),
	}, nil
}

// jobStatus is the STATUS of Kubernetes 1.33 (SuccessCriteriaMet came in
// 1.34): a terminal condition first, then deletion, then the interim
// conditions, else Running.
func jobStatus(job *batchv1.Job) string {
	switch {
	case jobCondition(job, batchv1.JobComplete):
		return "Complete"
	case jobCondition(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(job, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	}
	return "Running"
}

// jobCondition tells whether the job's first condition of that type is True.
func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func cronJobPrinter() Printer {
	spec := batchv1beta1.CronJobSpec{}.SwaggerDoc()
	status := batchv1beta1.CronJobStatus{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Schedule", Type: "string", Description: spec["schedule"]},
			{Name: "Timezone", Type: "string", Description: spec["timeZone"]},
			{Name: "Suspend", Type: "boolean", Description: spec["suspend"]},
			{Name: "Active", Type: "integer", Description: status["active"]},
			{Name: "Last Schedule", Type: "string", Description: status["lastScheduleTime"]},
			ageColumn(),
			containersColumn(),
			imagesColumn(),
			{Name: "Selector", Type: "string", Priority: 1, Description: batchv1.JobSpec{}.SwaggerDoc()["selector"]},
		},
		Row: typedRow(func(cj *batchv1.CronJob, now time.Time) ([]interface{}, error) {
			last := none
			if cj.Status.LastScheduleTime != nil {
				last = since(*cj.Status.LastScheduleTime, now)
			}
			timeZone := none
			if cj.Spec.TimeZone != nil {
				timeZone = *cj.Spec.TimeZone
			}
			tmpl := cj.Spec.JobTemplate.Spec
			names, images := containerCells(tmpl.Template.Spec.Containers)
			return []interface{}{
				cj.Name,
				cj.Spec.Schedule,
				timeZone,
				boolPtr(cj.Spec.Suspend),
				int64(len(cj.Status.Active)),
				last,
				since(cj.CreationTimestamp, now),
				names,
				images,
				metav1.FormatLabelSelector(tmpl.Selector),
			}, nil
		}),
	}
}
