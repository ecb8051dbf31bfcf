package cronjob

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

// fixture is a controller over a fake clientset, real informers and a
// fake clock.
type fixture struct {
	t      *testing.T
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	events *record.FakeRecorder
	c      *Controller
	ctx    context.Context
}

func newFixture(t *testing.T, now time.Time, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	// The fake API neither names nor identifies new objects; the real one does.
	controllertest.ServeCreates(client, nil)
	clk := clocktesting.NewFakeClock(now)
	d := manager.NewDeps(client, nil, slog.New(slog.DiscardHandler), clk, 0)
	c, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, client: client, clock: clk, events: record.NewFakeRecorder(100), c: c, ctx: t.Context()}
	c.recorder = f.events
	c.local = time.UTC
	d.Informers.Start(f.ctx.Done())
	d.Informers.WaitForCacheSync(f.ctx.Done())
	t.Cleanup(c.queue.ShutDown)
	client.ClearActions()
	return f
}

// actions are the client calls the controller made since the last look,
// as "verb resource name" (lists and watches of the informers left out).
func (f *fixture) actions() []string {
	defer f.client.ClearActions()
	return controllertest.Actions(f.client)
}

func (f *fixture) wantActions(want ...string) {
	f.t.Helper()
	if got := f.actions(); !slices.Equal(got, want) {
		f.t.Fatalf("actions:\n got %q\nwant %q", got, want)
	}
}

func (f *fixture) wantEvent(prefix string) {
	f.t.Helper()
	evs := controllertest.Events(f.events)
	for _, e := range evs {
		if strings.HasPrefix(e, prefix) {
			return
		}
	}
	f.t.Fatalf("no event %q in %q", prefix, evs)
}

// sync runs one reconcile once the informers show the API's state.
func (f *fixture) sync(cj *batchv1.CronJob) *time.Duration {
	f.t.Helper()
	f.waitCaches()
	requeue, err := f.c.sync(f.ctx, cj.Namespace+"/"+cj.Name)
	if err != nil {
		f.t.Fatal(err)
	}
	return requeue
}

// waitCaches waits until the listers hold what the fake API holds.
func (f *fixture) waitCaches() {
	f.t.Helper()
	controllertest.WaitFor(f.t, "informers catching up with the fake API", f.cachesCurrent)
}

func (f *fixture) cachesCurrent() bool {
	return controllertest.CacheCurrent(f.client, batchv1.SchemeGroupVersion.WithResource("cronjobs"), batchv1.SchemeGroupVersion.WithKind("CronJob"), f.c.cronJobs) &&
		controllertest.CacheCurrent(f.client, batchv1.SchemeGroupVersion.WithResource("jobs"), batchv1.SchemeGroupVersion.WithKind("Job"), f.c.jobs)
}

func (f *fixture) cronJob(name string) *batchv1.CronJob {
	f.t.Helper()
	cj, err := f.client.BatchV1().CronJobs("default").Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.client.ClearActions()
	return cj
}

func (f *fixture) job(name string) *batchv1.Job {
	f.t.Helper()
	j, err := f.client.BatchV1().Jobs("default").Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.client.ClearActions()
	return j
}

func (f *fixture) jobNames() []string {
	f.t.Helper()
	list, err := f.client.BatchV1().Jobs("default").List(f.ctx, metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, j := range list.Items {
		out = append(out, j.Name)
	}
	slices.Sort(out)
	f.client.ClearActions()
	return out
}

var t0 = time.Date(2024, 5, 1, 10, 0, 30, 0, time.UTC)

func newCronJob(schedule string, mutate ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "cj", Namespace: "default", UID: "cj-uid", ResourceVersion: "1",
			CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			Suspend:                    ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "report"}, Annotations: map[string]string{"note": "x"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
				}}},
			},
		},
	}
	for _, m := range mutate {
		m(cj)
	}
	return cj
}

// childJob is a Job the CronJob started at scheduled, finished with cond
// ("" = still running).
func childJob(cj *batchv1.CronJob, scheduled time.Time, cond batchv1.JobConditionType) *batchv1.Job {
	j, _ := jobFor(cj, scheduled)
	j.UID = types.UID("uid-" + j.Name)
	j.ResourceVersion = "1"
	j.Status.StartTime = ptr.To(metav1.NewTime(scheduled.Add(time.Second)))
	if cond != "" {
		done := metav1.NewTime(scheduled.Add(30 * time.Second))
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: done}}
		if cond == batchv1.JobComplete {
			j.Status.CompletionTime = &done
		}
	}
	return j
}

func activeRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace, Name: j.Name, UID: j.UID}
}

func minute(h, m int) time.Time { return time.Date(2024, 5, 1, h, m, 0, 0, time.UTC) }

func TestCreatesDueJobAndRequeuesForTheNextTime(t *testing.T) {
	cj := newCronJob("*/5 * * * *")
	f := newFixture(t, minute(10, 5).Add(3*time.Second), cj)
	requeue := f.sync(cj)
	name := fmt.Sprintf("cj-%d", minute(10, 5).Unix()/60)
	f.wantActions("create jobs "+name, "update cronjobs/status cj")
	f.wantEvent("Normal SuccessfulCreate Created job " + name)
	if want := 5*time.Minute - 3*time.Second + nextScheduleDelta; requeue == nil || *requeue != want {
		t.Fatalf("requeue after %v, want %v (100 ms after 10:10)", requeue, want)
	}
	job := f.job(name)
	if !metav1.IsControlledBy(job, cj) || job.Labels["app"] != "report" || job.Annotations["note"] != "x" ||
		job.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2024-05-01T10:05:00Z" {
		t.Fatalf("job meta %+v", job.ObjectMeta)
	}
	got := f.cronJob("cj")
	if got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(minute(10, 5)) ||
		len(got.Status.Active) != 1 || got.Status.Active[0].Name != name {
		t.Fatalf("status %+v", got.Status)
	}
	// Synced again within the same minute (a Job event): nothing new.
	f.sync(got)
	f.wantActions()
}

func TestNothingDueBeforeFirstTime(t *testing.T) {
	cj := newCronJob("* * * * *")
	f := newFixture(t, t0.Add(10*time.Second), cj)
	requeue := f.sync(cj)
	f.wantActions()
	if want := 20*time.Second + nextScheduleDelta; requeue == nil || *requeue != want {
		t.Fatalf("requeue after %v, want %v", requeue, want)
	}
}

func TestConcurrencyPolicies(t *testing.T) {
	running := func(cj *batchv1.CronJob) *batchv1.Job { return childJob(cj, minute(10, 1), "") }
	withActive := func(p batchv1.ConcurrencyPolicy) func(*batchv1.CronJob) {
		return func(cj *batchv1.CronJob) {
			cj.Spec.ConcurrencyPolicy = p
			cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(minute(10, 1)))
			cj.Status.Active = []corev1.ObjectReference{activeRef(running(cj))}
		}
	}
	newName := fmt.Sprintf("cj-%d", minute(10, 2).Unix()/60)
	oldName := fmt.Sprintf("cj-%d", minute(10, 1).Unix()/60)
	t.Run("Allow runs both", func(t *testing.T) {
		cj := newCronJob("* * * * *", withActive(batchv1.AllowConcurrent))
		f := newFixture(t, minute(10, 2).Add(time.Second), cj, running(cj))
		f.sync(cj)
		f.wantActions("create jobs "+newName, "update cronjobs/status cj")
		if got := f.cronJob("cj").Status.Active; len(got) != 2 {
			t.Fatalf("active %+v, want both Jobs", got)
		}
	})
	t.Run("Forbid skips while one runs", func(t *testing.T) {
		cj := newCronJob("* * * * *", withActive(batchv1.ForbidConcurrent))
		f := newFixture(t, minute(10, 2).Add(time.Second), cj, running(cj))
		requeue := f.sync(cj)
		f.wantActions()
		f.wantEvent("Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid")
		if requeue == nil || *requeue != 59*time.Second+nextScheduleDelta {
			t.Fatalf("requeue %v", requeue)
		}
		// The running Job completes: the skipped run starts, late.
		done := running(cj)
		done.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		done.Status.CompletionTime = ptr.To(metav1.NewTime(minute(10, 2).Add(20 * time.Second)))
		done.ResourceVersion = "2"
		if _, err := f.client.BatchV1().Jobs("default").UpdateStatus(f.ctx, done, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		f.clock.Step(25 * time.Second)
		f.client.ClearActions()
		f.sync(cj)
		f.wantActions("create jobs "+newName, "update cronjobs/status cj")
		got := f.cronJob("cj").Status
		if len(got.Active) != 1 || got.Active[0].Name != newName || got.LastSuccessfulTime == nil {
			t.Fatalf("status %+v", got)
		}
	})
	t.Run("Replace deletes the running Job first", func(t *testing.T) {
		cj := newCronJob("* * * * *", withActive(batchv1.ReplaceConcurrent))
		f := newFixture(t, minute(10, 2).Add(time.Second), cj, running(cj))
		f.sync(cj)
		f.wantActions("get jobs "+oldName, "delete jobs "+oldName, "create jobs "+newName, "update cronjobs/status cj")
		if got := f.cronJob("cj").Status.Active; len(got) != 1 || got[0].Name != newName {
			t.Fatalf("active %+v, want only the new Job", got)
		}
		if _, err := f.client.BatchV1().Jobs("default").Get(f.ctx, oldName, metav1.GetOptions{}); err == nil {
			t.Fatal("the replaced Job still exists")
		}
	})
}

func TestHistoryLimits(t *testing.T) {
	cj := newCronJob("0 * * * *", func(cj *batchv1.CronJob) {
		cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(minute(10, 0)))
	})
	objs := []runtime.Object{cj}
	for h := 3; h <= 7; h++ {
		objs = append(objs, childJob(cj, minute(h, 0), batchv1.JobComplete))
	}
	for h := 8; h <= 9; h++ {
		objs = append(objs, childJob(cj, minute(h, 0), batchv1.JobFailed))
	}
	f := newFixture(t, minute(10, 30), objs...)
	f.sync(cj)
	name := func(h int) string { return fmt.Sprintf("cj-%d", minute(h, 0).Unix()/60) }
	// The two oldest successes and the older failure go.
	f.wantActions("delete jobs "+name(3), "delete jobs "+name(4), "delete jobs "+name(8), "update cronjobs/status cj")
	if got, want := f.jobNames(), []string{name(5), name(6), name(7), name(9)}; !slices.Equal(got, want) {
		t.Fatalf("jobs left %v, want %v", got, want)
	}
	if got := f.cronJob("cj").Status.LastSuccessfulTime; got == nil || !got.Time.Equal(minute(7, 0).Add(30*time.Second)) {
		t.Fatalf("lastSuccessfulTime %v, want the newest completion", got)
	}
}

func TestSuspendedStartsNothing(t *testing.T) {
	cj := newCronJob("* * * * *", func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) })
	f := newFixture(t, minute(10, 5), cj)
	if requeue := f.sync(cj); requeue != nil {
		t.Fatalf("suspended CronJob requeued after %v; a resume is an update event", *requeue)
	}
	f.wantActions()
}

func TestTooManyMissed(t *testing.T) {
	cj := newCronJob("* * * * *", func(cj *batchv1.CronJob) {
		cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(minute(6, 0)))
	})
	f := newFixture(t, minute(10, 0).Add(2*time.Second), cj)
	f.sync(cj)
	f.wantActions(fmt.Sprintf("create jobs cj-%d", minute(10, 0).Unix()/60), "update cronjobs/status cj")
	f.wantEvent("Warning TooManyMissedTimes too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
}

func TestStartingDeadlineDropsLateRun(t *testing.T) {
	cj := newCronJob("0 * * * *", func(cj *batchv1.CronJob) {
		cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60)
		cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(minute(9, 0)))
	})
	f := newFixture(t, minute(10, 2), cj)
	requeue := f.sync(cj)
	f.wantActions()
	if requeue == nil || *requeue != 58*time.Minute+nextScheduleDelta {
		t.Fatalf("requeue %v, want at 11:00", requeue)
	}
}

func TestTimeZoneAcrossSpringForward(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	cj := newCronJob("30 2 * * *", func(cj *batchv1.CronJob) {
		cj.Spec.TimeZone = ptr.To("America/New_York")
		cj.CreationTimestamp = metav1.NewTime(time.Date(2024, 3, 9, 12, 0, 0, 0, ny))
		cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(time.Date(2024, 3, 9, 2, 30, 0, 0, ny)))
	})
	// Noon on the day New York skipped 02:00-03:00: nothing ran, nothing is due.
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, ny)
	f := newFixture(t, now, cj)
	requeue := f.sync(cj)
	f.wantActions()
	next := time.Date(2024, 3, 11, 2, 30, 0, 0, ny)
	if requeue == nil || *requeue != next.Sub(now)+nextScheduleDelta {
		t.Fatalf("requeue %v, want %v (02:30 EDT the next day)", requeue, next.Sub(now))
	}
	f.clock.SetTime(next.Add(time.Second))
	f.sync(cj)
	name := fmt.Sprintf("cj-%d", next.Unix()/60)
	f.wantActions("create jobs "+name, "update cronjobs/status cj")
	job := f.job(name)
	if got := job.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2024-03-11T02:30:00-04:00" {
		t.Fatalf("scheduled-timestamp %q, want the New York time", got)
	}
}

func TestMissingAndUnexpectedJobs(t *testing.T) {
	cj := newCronJob("0 * * * *", func(cj *batchv1.CronJob) {
		cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(minute(10, 0)))
		cj.Status.Active = []corev1.ObjectReference{{Kind: "Job", APIVersion: "batch/v1", Namespace: "default", Name: "gone", UID: "gone-uid"}}
	})
	stranger := childJob(cj, minute(9, 0), "")
	f := newFixture(t, minute(10, 30), cj, stranger)
	f.sync(cj)
	f.wantActions("get cronjobs cj", "get jobs gone", "update cronjobs/status cj")
	evs := strings.Join(controllertest.Events(f.events), "\n")
	if !strings.Contains(evs, "Warning UnexpectedJob Saw a job that the controller did not create or forgot: "+stranger.Name) ||
		!strings.Contains(evs, "Normal MissingJob Active job went missing: gone") {
		t.Fatalf("events %s", evs)
	}
	if got := f.cronJob("cj").Status.Active; len(got) != 0 {
		t.Fatalf("active %+v, want the missing Job forgotten", got)
	}
}

func TestAlreadyExistingJobIsTakenIntoStatus(t *testing.T) {
	// A crash after creating the Job and before writing status: the next
	// sync must not create it again, and must record it.
	cj := newCronJob("* * * * *")
	existing := childJob(cj, minute(10, 1), "")
	existing.Status = batchv1.JobStatus{}
	f := newFixture(t, minute(10, 1).Add(5*time.Second), cj)
	if _, err := f.client.BatchV1().Jobs("default").Create(f.ctx, existing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The cache has not seen it, so the sync tries to create it.
	f.client.ClearActions()
	if _, err := f.c.sync(f.ctx, "default/cj"); err != nil {
		t.Fatal(err)
	}
	acts := f.actions()
	if !slices.Contains(acts, "create jobs "+existing.Name) || !slices.Contains(acts, "update cronjobs/status cj") {
		t.Fatalf("actions %q", acts)
	}
	if got := f.cronJob("cj").Status; len(got.Active) != 1 || got.Active[0].UID != existing.UID {
		t.Fatalf("status %+v, want the existing Job active", got)
	}
}

// TestRunWakesAtTheScheduledTime runs the controller: with the fake clock
// just short of the next time nothing happens, and the Job appears once
// the clock passes it — a timer per CronJob, no polling.
func TestRunWakesAtTheScheduledTime(t *testing.T) {
	cj := newCronJob("*/10 * * * *")
	f := newFixture(t, minute(10, 3), cj)
	done := make(chan error)
	ctx, cancel := context.WithCancel(f.ctx)
	go func() { done <- f.c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// The queue's heartbeat ticker, plus the timer of the requeued CronJob.
	controllertest.WaitFor(t, "the CronJob waiting for its schedule", func() bool { return f.clock.Waiters() >= 2 })
	f.clock.Step(6*time.Minute + 59*time.Second)
	time.Sleep(50 * time.Millisecond)
	if got := f.jobNames(); len(got) != 0 {
		t.Fatalf("jobs %v before 10:10", got)
	}
	f.clock.Step(2 * time.Second)
	controllertest.WaitFor(t, "a Job created", func() bool { return len(f.jobNames()) == 1 })
	if got, want := f.jobNames()[0], fmt.Sprintf("cj-%d", minute(10, 10).Unix()/60); got != want {
		t.Fatalf("job %s, want %s", got, want)
	}
}
