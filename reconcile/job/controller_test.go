package job

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func TestParallelismAndCompletionsBookkeeping(t *testing.T) {
	f := newFixture(t, newJob("work", ptr.To[int32](3), ptr.To[int32](2)))
	f.sync("work")
	f.wantActions("create pods work-*", "create pods work-*", "update jobs/status work")
	f.wantEvents("Normal SuccessfulCreate Created pod: work-")
	pods := f.activePods()
	if len(pods) != 2 {
		t.Fatalf("%d pods, want parallelism 2", len(pods))
	}
	p := pods[0]
	if !strings.HasPrefix(p.Name, "work-") || !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) ||
		p.Labels["job-name"] != "work" || p.Labels[batchv1.ControllerUidLabel] != "work-uid" || p.Labels["controller-uid"] != "work-uid" {
		t.Fatalf("pod meta %+v", p.ObjectMeta)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != "work-uid" || ref.Kind != "Job" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Fatalf("owner %+v", p.OwnerReferences)
	}
	job := f.job("work")
	if job.Status.StartTime == nil || !job.Status.StartTime.Time.Equal(t0) || countsOf(job) != (counts{active: 2}) {
		t.Fatalf("status %+v", job.Status)
	}

	// Both run; one finishes: it is recorded as uncounted, its finalizer
	// goes, then it is counted; its replacement starts (3 - 1 left, 2 at
	// a time).
	f.run(pods[0])
	f.run(pods[1])
	f.sync("work")
	f.wantActions("update jobs/status work") // ready 2
	if got := countsOf(f.job("work")); got != (counts{active: 2, ready: 2}) {
		t.Fatalf("counts %+v", got)
	}
	f.exit(f.activePods()[0], 0)
	f.sync("work")
	f.wantActions("create pods work-*", "update jobs/status work", "patch pods "+pods[0].Name, "update jobs/status work")
	job = f.job("work")
	if got := countsOf(job); got != (counts{active: 2, succeeded: 1, ready: 1}) {
		t.Fatalf("counts %+v", got)
	}
	if u := job.Status.UncountedTerminatedPods; len(u.Succeeded)+len(u.Failed) != 0 {
		t.Fatalf("uncounted left %+v", u)
	}
	if slices.Contains(f.pods()[0].Finalizers, batchv1.JobTrackingFinalizer) {
		t.Fatal("a counted pod keeps its tracking finalizer")
	}

	// The last two succeed: SuccessCriteriaMet, then Complete.
	for _, p := range f.activePods() {
		f.exit(p, 0)
	}
	f.sync("work")
	job = f.job("work")
	if got := countsOf(job); got != (counts{succeeded: 3}) {
		t.Fatalf("counts %+v", got)
	}
	if got := conditionTypes(job); !slices.Equal(got, []string{"SuccessCriteriaMet=True", "Complete=True"}) {
		t.Fatalf("conditions %v", got)
	}
	c := condition(job, batchv1.JobComplete)
	if c.Reason != batchv1.JobReasonCompletionsReached || c.Message != "Reached expected number of succeeded pods" ||
		job.Status.CompletionTime == nil || !job.Status.CompletionTime.Equal(&c.LastTransitionTime) {
		t.Fatalf("Complete %+v, completionTime %v", c, job.Status.CompletionTime)
	}
	f.wantEvents("Normal Completed Job completed")
	for _, p := range f.pods() {
		if hasTrackingFinalizer(p) {
			t.Fatalf("pod %s of a finished Job keeps its finalizer", p.Name)
		}
	}
	// A finished Job is left alone.
	f.actions()
	f.sync("work")
	f.wantActions()
}

func TestFailuresBackOffAndBackoffLimit(t *testing.T) {
	f := newFixture(t, newJob("flaky", ptr.To[int32](1), ptr.To[int32](1), func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](2) }))
	f.sync("flaky")
	first := f.activePods()[0]
	f.actions()

	// First failure at t0: counted, the replacement waits 10 s.
	f.exit(first, 1)
	f.sync("flaky")
	f.wantActions("update jobs/status flaky", "patch pods "+first.Name, "update jobs/status flaky")
	if got := countsOf(f.job("flaky")); got != (counts{failed: 1}) {
		t.Fatalf("counts %+v", got)
	}
	f.clock.Step(9 * time.Second)
	f.sync("flaky")
	f.wantActions()
	f.clock.Step(time.Second)
	f.sync("flaky")
	f.wantActions("create pods flaky-*", "update jobs/status flaky")

	// Second failure: 20 s this time.
	f.exit(f.activePods()[0], 1)
	f.sync("flaky")
	f.actions()
	f.clock.Step(19 * time.Second)
	f.sync("flaky")
	f.wantActions()
	f.clock.Step(time.Second)
	f.sync("flaky")
	f.wantActions("create pods flaky-*", "update jobs/status flaky")

	// Third failure: more than backoffLimit 2. FailureTarget is written
	// before the finalizer goes, Failed once the pod is counted.
	last := f.activePods()[0]
	f.exit(last, 1)
	f.sync("flaky")
	f.wantActions("update jobs/status flaky", "patch pods "+last.Name, "update jobs/status flaky")
	job := f.job("flaky")
	if got := conditionTypes(job); !slices.Equal(got, []string{"FailureTarget=True", "Failed=True"}) {
		t.Fatalf("conditions %v", got)
	}
	if c := condition(job, batchv1.JobFailed); c.Reason != "BackoffLimitExceeded" || c.Message != "Job has reached the specified backoff limit" {
		t.Fatalf("Failed %+v", c)
	}
	if got := countsOf(job); got != (counts{failed: 3}) || job.Status.CompletionTime != nil {
		t.Fatalf("counts %+v completionTime %v", got, job.Status.CompletionTime)
	}
	f.wantEvents("Warning BackoffLimitExceeded Job has reached the specified backoff limit")
}

func TestActiveDeadline(t *testing.T) {
	f := newFixture(t, newJob("slow", ptr.To[int32](4), ptr.To[int32](2), func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](60) }))
	f.sync("slow")
	pods := f.activePods()
	for _, p := range pods {
		f.run(p)
	}
	f.actions()
	// Every sync asks to be woken when the deadline passes.
	if got := f.requeued(); !slices.Contains(got, 60*time.Second) {
		t.Fatalf("requeues %v, want one at the 60 s deadline", got)
	}
	f.clock.Step(50 * time.Second)
	f.sync("slow")
	f.wantActions("update jobs/status slow") // ready 2
	if got := f.requeued(); !slices.Equal(got, []time.Duration{10 * time.Second}) {
		t.Fatalf("requeues %v, want one 10 s later", got)
	}
	f.clock.Step(10 * time.Second)

	// Past the deadline: the decision is recorded, the pods are deleted
	// and counted as failed; Failed waits until they are gone.
	f.sync("slow")
	f.wantActions("delete pods "+pods[0].Name, "delete pods "+pods[1].Name, "update jobs/status slow",
		"patch pods "+pods[0].Name, "patch pods "+pods[1].Name, "update jobs/status slow")
	job := f.job("slow")
	if got := conditionTypes(job); !slices.Equal(got, []string{"FailureTarget=True"}) {
		t.Fatalf("conditions %v", got)
	}
	if got := countsOf(job); got != (counts{failed: 2, terminating: 2}) {
		t.Fatalf("counts %+v", got)
	}
	// The pods are gone: now the Job is Failed.
	f.sync("slow")
	f.wantActions("update jobs/status slow")
	job = f.job("slow")
	if got := conditionTypes(job); !slices.Equal(got, []string{"FailureTarget=True", "Failed=True"}) {
		t.Fatalf("conditions %v", got)
	}
	if c := condition(job, batchv1.JobFailed); c.Reason != "DeadlineExceeded" || c.Message != "Job was active longer than specified deadline" {
		t.Fatalf("Failed %+v", c)
	}
	if got := countsOf(job); got != (counts{failed: 2}) {
		t.Fatalf("counts %+v", got)
	}
	if n := len(f.pods()); n != 0 {
		t.Fatalf("%d pods left", n)
	}
	f.wantEvents("Warning DeadlineExceeded Job was active longer than specified deadline")
}

func TestSuspendAndResume(t *testing.T) {
	f := newFixture(t, newJob("pause", ptr.To[int32](4), ptr.To[int32](2), func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](600) }))
	f.sync("pause")
	pods := f.activePods()
	f.run(pods[0])
	f.actions()

	job := f.job("pause")
	job.Spec.Suspend = ptr.To(true)
	job.Generation++
	f.updateJob(job)
	f.sync("pause")
	// Suspension stops pods without counting them: finalizer first.
	f.wantActions("patch pods "+pods[0].Name, "patch pods "+pods[1].Name,
		"delete pods "+pods[0].Name, "delete pods "+pods[1].Name, "update jobs/status pause")
	job = f.job("pause")
	c := condition(job, batchv1.JobSuspended)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != "JobSuspended" {
		t.Fatalf("Suspended %+v", c)
	}
	if got := countsOf(job); got != (counts{terminating: 2}) {
		t.Fatalf("counts %+v: suspended pods are neither active nor failed", got)
	}
	f.wantEvents("Normal Suspended Job suspended")
	f.sync("pause")
	f.wantActions("update jobs/status pause")
	if got := countsOf(f.job("pause")); got != (counts{}) {
		t.Fatalf("counts %+v once the pods are gone", got)
	}

	f.clock.Step(time.Hour)
	job = f.job("pause")
	job.Spec.Suspend = ptr.To(false)
	job.Generation++
	f.updateJob(job)
	f.sync("pause")
	f.wantActions("create pods pause-*", "create pods pause-*", "update jobs/status pause")
	job = f.job("pause")
	c = condition(job, batchv1.JobSuspended)
	if c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" {
		t.Fatalf("Suspended %+v", c)
	}
	// Suspended for an hour, well past the 10-minute deadline: the
	// deadline counts active time only, from the resume.
	if !job.Status.StartTime.Time.Equal(t0.Add(time.Hour)) || condition(job, batchv1.JobFailureTarget) != nil {
		t.Fatalf("startTime %v, conditions %v: a resumed Job's deadline counts from the resume", job.Status.StartTime, conditionTypes(job))
	}
	if got := f.requeued(); !slices.Contains(got, 10*time.Minute) {
		t.Fatalf("requeues %v, want one at the deadline from the resume", got)
	}
	f.wantEvents("Normal Resumed Job resumed")
}

func TestCreatedSuspendedHasNoStartTime(t *testing.T) {
	f := newFixture(t, newJob("later", nil, ptr.To[int32](1), func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }))
	f.sync("later")
	f.wantActions("update jobs/status later")
	job := f.job("later")
	if job.Status.StartTime != nil || len(f.pods()) != 0 {
		t.Fatalf("suspended at creation: startTime %v, %d pods", job.Status.StartTime, len(f.pods()))
	}
}

func TestTTLAfterFinished(t *testing.T) {
	done := newJob("old", ptr.To[int32](1), ptr.To[int32](1), func(j *batchv1.Job) {
		j.Spec.TTLSecondsAfterFinished = ptr.To[int32](100)
		finished := metav1.NewTime(t0.Add(-40 * time.Second))
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: finished}}
		j.Status.CompletionTime = &finished
		j.Status.Succeeded = 1
	})
	f := newFixture(t, done)
	f.sync("old")
	f.wantActions()
	if got := f.requeued(); !slices.Equal(got, []time.Duration{60 * time.Second}) {
		t.Fatalf("requeues %v, want one when the TTL runs out", got)
	}
	f.clock.Step(60 * time.Second)
	f.sync("old")
	f.wantActions("get jobs old", "delete jobs old")
}

func TestTTLDeleteIsForegroundAndConditional(t *testing.T) {
	done := newJob("gone", ptr.To[int32](1), ptr.To[int32](1), func(j *batchv1.Job) {
		j.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
	})
	f := newFixture(t, done)
	f.waitCaches()
	if err := f.c.syncJob(f.ctx, "default/gone"); err != nil {
		t.Fatal(err)
	}
	var opts *metav1.DeleteOptions
	for _, a := range f.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok {
			o := d.GetDeleteOptions()
			opts = &o
		}
	}
	if opts == nil || ptr.Deref(opts.PropagationPolicy, "") != metav1.DeletePropagationForeground ||
		opts.Preconditions == nil || ptr.Deref(opts.Preconditions.UID, "") != "gone-uid" {
		t.Fatalf("delete options %+v", opts)
	}
	if _, err := f.client.Tracker().Get(jobsGVR, "default", "gone"); err == nil {
		t.Fatal("expired Job still there")
	}
}

func TestWorkQueueJobWithoutCompletions(t *testing.T) {
	f := newFixture(t, newJob("queue", nil, ptr.To[int32](3)))
	f.sync("queue")
	pods := f.activePods()
	if len(pods) != 3 {
		t.Fatalf("%d pods, want parallelism 3", len(pods))
	}
	// One worker finds the queue empty: no new pod, the others finish.
	f.exit(pods[0], 0)
	f.sync("queue")
	if n := len(f.activePods()); n != 2 {
		t.Fatalf("%d active after the first success, want the 2 still running", n)
	}
	f.exit(pods[1], 0)
	f.exit(pods[2], 0)
	f.sync("queue")
	job := f.job("queue")
	if condition(job, batchv1.JobComplete) == nil || job.Status.Succeeded != 3 {
		t.Fatalf("status %+v", job.Status)
	}
}

func TestScaleDownDeletesLeastAdvancedPods(t *testing.T) {
	f := newFixture(t, newJob("wide", ptr.To[int32](10), ptr.To[int32](3)))
	f.sync("wide")
	pods := f.activePods()
	f.run(pods[0])
	f.run(pods[2])
	f.actions()
	job := f.job("wide")
	job.Spec.Parallelism = ptr.To[int32](2)
	job.Generation++
	f.updateJob(job)
	f.sync("wide")
	// The pending pod goes, not the running ones; not counted as failed.
	f.wantActions("patch pods "+pods[1].Name, "delete pods "+pods[1].Name, "update jobs/status wide")
	if got := countsOf(f.job("wide")); got != (counts{active: 2, ready: 2, terminating: 1}) {
		t.Fatalf("counts %+v", got)
	}
}

func TestIndexedJob(t *testing.T) {
	f := newFixture(t, newJob("idx", ptr.To[int32](3), ptr.To[int32](2), func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	}))
	f.sync("idx")
	pods := f.activePods()
	byIndex := map[string]*corev1.Pod{}
	for _, p := range pods {
		ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		byIndex[ix] = p
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || !strings.HasPrefix(p.Name, "idx-"+ix+"-") || p.Spec.Hostname != "idx-"+ix {
			t.Fatalf("pod %s index %s: labels %v hostname %q", p.Name, ix, p.Labels, p.Spec.Hostname)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
			t.Fatalf("env %+v", env)
		}
	}
	if len(byIndex) != 2 || byIndex["0"] == nil || byIndex["1"] == nil {
		t.Fatalf("indexes %v, want 0 and 1", byIndex)
	}
	// Index 1 succeeds, index 0 fails: 2 starts and 0 is retried after
	// the back-off; completedIndexes records 1.
	f.exit(byIndex["1"], 0)
	f.exit(byIndex["0"], 1)
	f.clock.Step(11 * time.Second)
	f.sync("idx")
	job := f.job("idx")
	if job.Status.CompletedIndexes != "1" || job.Status.Succeeded != 1 || job.Status.Failed != 1 {
		t.Fatalf("status %+v", job.Status)
	}
	var ixs []string
	for _, p := range f.activePods() {
		ixs = append(ixs, p.Annotations[batchv1.JobCompletionIndexAnnotation])
	}
	slices.Sort(ixs)
	if !slices.Equal(ixs, []string{"0", "2"}) {
		t.Fatalf("running indexes %v, want 0 and 2", ixs)
	}
	for _, p := range f.activePods() {
		f.exit(p, 0)
	}
	f.sync("idx")
	job = f.job("idx")
	if job.Status.CompletedIndexes != "0-2" || condition(job, batchv1.JobComplete) == nil {
		t.Fatalf("status %+v", job.Status)
	}
}

func TestSuccessPolicy(t *testing.T) {
	f := newFixture(t, newJob("leader", ptr.To[int32](3), ptr.To[int32](3), func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}
	}))
	f.sync("leader")
	for _, p := range f.activePods() {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "0" {
			f.exit(p, 0)
		} else {
			f.run(p)
		}
	}
	f.sync("leader")
	job := f.job("leader")
	if c := condition(job, batchv1.JobSuccessCriteriaMet); c == nil || c.Reason != "SuccessPolicy" || c.Message != "Matched rules at index 0" {
		t.Fatalf("conditions %+v", job.Status.Conditions)
	}
	if condition(job, batchv1.JobComplete) != nil {
		t.Fatal("Complete while the other indexes' pods still terminate")
	}
	f.sync("leader")
	f.sync("leader")
	job = f.job("leader")
	if condition(job, batchv1.JobComplete) == nil || job.Status.Failed != 0 || job.Status.Succeeded != 1 {
		t.Fatalf("status %+v: the stopped pods of a successful Job are not failures", job.Status)
	}
}

func TestPodFailurePolicy(t *testing.T) {
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
	}}
	f := newFixture(t, newJob("strict", ptr.To[int32](2), ptr.To[int32](1), func(j *batchv1.Job) {
		j.Spec.PodFailurePolicy = policy
		j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
	}))
	f.sync("strict")
	// Exit 3 is ignored: not counted, but replaced after the back-off,
	// as upstream does.
	f.exit(f.activePods()[0], 3)
	f.sync("strict")
	f.clock.Step(10 * time.Second)
	f.sync("strict")
	if got := countsOf(f.job("strict")); got.failed != 0 || got.active != 1 {
		t.Fatalf("counts %+v", got)
	}
	// Exit 42 fails the Job.
	p := f.activePods()[0]
	f.exit(p, 42)
	f.sync("strict")
	job := f.job("strict")
	c := condition(job, batchv1.JobFailed)
	if c == nil || c.Reason != "PodFailurePolicy" ||
		c.Message != "Container c for pod default/"+p.Name+" failed with exit code 42 matching FailJob rule at index 1" {
		t.Fatalf("conditions %+v", job.Status.Conditions)
	}
	if job.Status.Failed != 1 {
		t.Fatalf("failed %d", job.Status.Failed)
	}
}

func TestRestartPolicyOnFailureCountsRestarts(t *testing.T) {
	f := newFixture(t, newJob("restarts", ptr.To[int32](1), ptr.To[int32](1), func(j *batchv1.Job) {
		j.Spec.BackoffLimit = ptr.To[int32](2)
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	}))
	f.sync("restarts")
	p := f.activePods()[0]
	f.setPodStatus(p, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 2}}
	})
	f.sync("restarts")
	f.sync("restarts")
	f.sync("restarts")
	if c := condition(f.job("restarts"), batchv1.JobFailed); c == nil || c.Reason != "BackoffLimitExceeded" {
		t.Fatalf("conditions %+v", f.job("restarts").Status.Conditions)
	}
}

func TestAdoptsOrphanAndReleasesOrphanFinalizer(t *testing.T) {
	job := newJob("adopt", ptr.To[int32](1), ptr.To[int32](1))
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stray", Namespace: "default", UID: "stray-uid", ResourceVersion: "1",
		Labels: job.Spec.Template.Labels}, Spec: job.Spec.Template.Spec, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	leftover := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "leftover", Namespace: "default", UID: "leftover-uid", ResourceVersion: "1",
		Finalizers: []string{batchv1.JobTrackingFinalizer}}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
	f := newFixture(t, job, orphan, leftover)
	f.sync("adopt")
	f.wantActions("get jobs adopt", "patch pods stray", "update jobs/status adopt")
	stray := f.pods()[1]
	if stray.Name != "stray" || !metav1.IsControlledBy(stray, job) || !hasTrackingFinalizer(stray) {
		t.Fatalf("adopted pod %+v", stray.ObjectMeta)
	}
	if got := countsOf(f.job("adopt")); got.active != 1 {
		t.Fatalf("counts %+v: the adopted pod should count as the Job's one", got)
	}
	if err := f.c.syncOrphanPod(f.ctx, "default/leftover"); err != nil {
		t.Fatal(err)
	}
	f.wantActions("patch pods leftover")
	if obj, _ := f.client.Tracker().Get(podsGVR, "default", "leftover"); hasTrackingFinalizer(obj.(*corev1.Pod)) {
		t.Fatal("an orphan keeps the tracking finalizer")
	}
}

// TestRunFailsOnceThenCompletes is acceptance 6 against the running
// controller: completions 5, parallelism 2, the first pod fails. The test
// plays the node agent (each pod runs, then exits) and advances the fake
// clock past the batching and the failure back-off.
func TestRunFailsOnceThenCompletes(t *testing.T) {
	f := newFixture(t, newJob("acc", ptr.To[int32](5), ptr.To[int32](2)))
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error)
	go func() { done <- f.c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	failed := false
	deadline := time.Now().Add(20 * time.Second)
	for {
		job := f.job("acc")
		if condition(job, batchv1.JobComplete) != nil {
			if got := countsOf(job); got != (counts{succeeded: 5, failed: 1}) {
				t.Fatalf("counts %+v, want 5 succeeded and 1 failed", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not complete: status %+v", job.Status)
		}
		if n := len(f.activePods()); n > 2 {
			t.Fatalf("%d pods running, parallelism is 2", n)
		}
		for _, p := range f.activePods() {
			code := int32(0)
			if !failed {
				code, failed = 1, true
			}
			f.exit(p, code)
		}
		f.clock.Step(time.Second)
		time.Sleep(10 * time.Millisecond)
	}
	f.wantEvents("Normal SuccessfulCreate Created pod: acc-", "Normal Completed Job completed")
}

func TestBackoffLimitPerIndex(t *testing.T) {
	f := newFixture(t, newJob("per", ptr.To[int32](2), ptr.To[int32](2), func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
		j.Spec.BackoffLimit = ptr.To[int32](1 << 30)
	}))
	f.sync("per")
	index := func(ix string) *corev1.Pod {
		for _, p := range f.activePods() {
			if p.Annotations[batchv1.JobCompletionIndexAnnotation] == ix {
				return p
			}
		}
		t.Fatalf("no running pod for index %s", ix)
		return nil
	}
	first := index("0")
	if got := first.Annotations[batchv1.JobIndexFailureCountAnnotation]; got != "0" {
		t.Fatalf("failure count %q on an index's first pod", got)
	}
	f.exit(first, 1)
	f.actions()
	// The failed pod keeps its finalizer until its replacement exists;
	// the index waits out its own back-off.
	f.sync("per")
	for _, a := range f.actions() {
		if strings.HasPrefix(a, "patch pods") || strings.HasPrefix(a, "create pods") {
			t.Fatalf("%s during the back-off of index 0", a)
		}
	}
	f.clock.Step(10 * time.Second)
	f.sync("per")
	f.wantActions("create pods per-0-*", "update jobs/status per")
	second := index("0")
	if got := second.Annotations[batchv1.JobIndexFailureCountAnnotation]; got != "1" {
		t.Fatalf("replacement failure count %q, want 1", got)
	}
	f.sync("per")
	f.wantActions("update jobs/status per", "patch pods "+first.Name, "update jobs/status per")
	if got := countsOf(f.job("per")); got.failed != 1 {
		t.Fatalf("counts %+v", got)
	}
	// Index 0 fails again: out of retries. Index 1 succeeds: the Job
	// fails with its failed index recorded.
	f.exit(second, 1)
	f.sync("per")
	job := f.job("per")
	if ptr.Deref(job.Status.FailedIndexes, "") != "0" || condition(job, batchv1.JobFailureTarget) != nil {
		t.Fatalf("failedIndexes %v conditions %v", job.Status.FailedIndexes, conditionTypes(job))
	}
	if n := len(f.activePods()); n != 1 {
		t.Fatalf("%d pods running: a failed index is not retried", n)
	}
	f.exit(index("1"), 0)
	f.sync("per")
	f.sync("per")
	job = f.job("per")
	c := condition(job, batchv1.JobFailed)
	if c == nil || c.Reason != "FailedIndexes" || c.Message != "Job has failed indexes" || job.Status.CompletedIndexes != "1" || job.Status.Failed != 2 {
		t.Fatalf("status %+v", job.Status)
	}
}
