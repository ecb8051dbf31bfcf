package tables

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

func trueCondition(t batchv1.JobConditionType) batchv1.JobCondition {
	return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue}
}

func TestJobCells(t *testing.T) {
	jobSelector := selector("batch.kubernetes.io/controller-uid", "5c3b1f3e")
	completed := &batchv1.Job{
		ObjectMeta: objectMeta("pi", 2*time.Hour),
		Spec:       batchv1.JobSpec{Completions: ptr(int32(1)), Parallelism: ptr(int32(1)), Selector: jobSelector, Template: template("pi")},
		Status: batchv1.JobStatus{
			Succeeded: 1, StartTime: agoPtr(2 * time.Hour), CompletionTime: agoPtr(2*time.Hour - 47*time.Second),
			Conditions: []batchv1.JobCondition{trueCondition(batchv1.JobSuccessCriteriaMet), trueCondition(batchv1.JobComplete)},
		},
	}
	runningJob := &batchv1.Job{
		ObjectMeta: objectMeta("backup", 3*time.Minute),
		Spec:       batchv1.JobSpec{Completions: ptr(int32(5)), Parallelism: ptr(int32(2)), Selector: jobSelector, Template: template("restic")},
		Status:     batchv1.JobStatus{Succeeded: 2, Active: 2, StartTime: agoPtr(3*time.Minute - 5*time.Second)},
	}
	workQueue := &batchv1.Job{
		ObjectMeta: objectMeta("queue", time.Hour),
		Spec:       batchv1.JobSpec{Parallelism: ptr(int32(4)), Template: template("worker")},
		Status:     batchv1.JobStatus{Active: 4, StartTime: agoPtr(time.Hour)},
	}
	single := &batchv1.Job{
		ObjectMeta: objectMeta("once", 10*time.Second),
		Spec:       batchv1.JobSpec{Template: template("worker")},
	}
	failed := &batchv1.Job{
		ObjectMeta: objectMeta("flaky", 30*time.Minute),
		Spec:       batchv1.JobSpec{Completions: ptr(int32(1)), Template: template("worker")},
		Status: batchv1.JobStatus{Failed: 7, StartTime: agoPtr(30 * time.Minute), CompletionTime: nil,
			Conditions: []batchv1.JobCondition{trueCondition(batchv1.JobFailureTarget), trueCondition(batchv1.JobFailed)}},
	}
	failing := failed.DeepCopy()
	failing.Status.Conditions = failing.Status.Conditions[:1]
	suspended := &batchv1.Job{
		ObjectMeta: objectMeta("paused", time.Hour),
		Spec:       batchv1.JobSpec{Completions: ptr(int32(3)), Suspend: ptr(true), Template: template("worker")},
		Status:     batchv1.JobStatus{Conditions: []batchv1.JobCondition{trueCondition(batchv1.JobSuspended)}},
	}
	resumed := suspended.DeepCopy()
	resumed.Status.Conditions[0].Status = corev1.ConditionFalse
	terminating := suspended.DeepCopy()
	terminating.DeletionTimestamp = agoPtr(time.Second)
	// Kubernetes 1.33 has no SuccessCriteriaMet status: the job runs on
	// until it is Complete.
	successCriteriaMet := runningJob.DeepCopy()
	successCriteriaMet.Status.Conditions = []batchv1.JobCondition{trueCondition(batchv1.JobSuccessCriteriaMet)}

	checkCells(t, batchv1.SchemeGroupVersion.WithKind("Job"), []cellCase{
		{"completed", completed, []interface{}{"pi", "Complete", "1/1", "47s", "120m", "pi", "registry.local/pi:1.2", "batch.kubernetes.io/controller-uid=5c3b1f3e"}},
		{"running", runningJob, []interface{}{"backup", "Running", "2/5", "2m55s", "3m", "restic", "registry.local/restic:1.2", "batch.kubernetes.io/controller-uid=5c3b1f3e"}},
		{"work queue", workQueue, []interface{}{"queue", "Running", "0/1 of 4", "60m", "60m", "worker", "registry.local/worker:1.2", "<none>"}},
		{"not started", single, []interface{}{"once", "Running", "0/1", "", "10s", "worker", "registry.local/worker:1.2", "<none>"}},
		{"failed", failed, []interface{}{"flaky", "Failed", "0/1", "30m", "30m", "worker", "registry.local/worker:1.2", "<none>"}},
		{"failure target", failing, []interface{}{"flaky", "FailureTarget", "0/1", "30m", "30m", "worker", "registry.local/worker:1.2", "<none>"}},
		{"suspended", suspended, []interface{}{"paused", "Suspended", "0/3", "", "60m", "worker", "registry.local/worker:1.2", "<none>"}},
		{"suspension lifted", resumed, []interface{}{"paused", "Running", "0/3", "", "60m", "worker", "registry.local/worker:1.2", "<none>"}},
		{"terminating", terminating, []interface{}{"paused", "Terminating", "0/3", "", "60m", "worker", "registry.local/worker:1.2", "<none>"}},
		{"success criteria met", successCriteriaMet, []interface{}{"backup", "Running", "2/5", "2m55s", "3m", "restic", "registry.local/restic:1.2", "batch.kubernetes.io/controller-uid=5c3b1f3e"}},
	})
}

func TestCronJobCells(t *testing.T) {
	suspended := &batchv1.CronJob{
		ObjectMeta: objectMeta("nightly-backup", 12*24*time.Hour),
		Spec: batchv1.CronJobSpec{
			Schedule: "0 3 * * *", TimeZone: ptr("Europe/Paris"), Suspend: ptr(true),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template("restic")}},
		},
		Status: batchv1.CronJobStatus{LastScheduleTime: agoPtr(33 * time.Hour)},
	}
	active := &batchv1.CronJob{
		ObjectMeta: objectMeta("every-minute", 10*time.Minute),
		Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *", Suspend: ptr(false),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Selector: selector("app", "tick"), Template: template("tick", "sidecar")}},
		},
		Status: batchv1.CronJobStatus{
			Active:           []corev1.ObjectReference{{Kind: "Job", Name: "every-minute-29145720"}, {Kind: "Job", Name: "every-minute-29145721"}},
			LastScheduleTime: agoPtr(12 * time.Second),
		},
	}
	never := &batchv1.CronJob{
		ObjectMeta: objectMeta("new", 5*time.Second),
		Spec:       batchv1.CronJobSpec{Schedule: "@hourly", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template("app")}}},
	}
	checkCells(t, batchv1.SchemeGroupVersion.WithKind("CronJob"), []cellCase{
		{"suspended", suspended, []interface{}{"nightly-backup", "0 3 * * *", "Europe/Paris", "True", int64(0), "33h", "12d", "restic", "registry.local/restic:1.2", "<none>"}},
		{"two active jobs", active, []interface{}{"every-minute", "*/1 * * * *", "<none>", "False", int64(2), "12s", "10m", "tick,sidecar", "registry.local/tick:1.2,registry.local/sidecar:1.2", "app=tick"}},
		{"never scheduled, suspend unset", never, []interface{}{"new", "@hourly", "<none>", "<unset>", int64(0), "<none>", "5s", "app", "registry.local/app:1.2", "<none>"}},
	})
}
