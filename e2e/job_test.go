package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestJobFailsOnceThenCompletes is acceptance 6 (Jobs): completions 5,
// parallelism 2, of a container that fails the first time it runs and
// succeeds after. The state that makes the second run differ lives in a
// hostPath directory the test owns (a pod's own volumes die with it);
// mkdir is atomic, so exactly one pod of the Job fails. `kubectl wait
// --for=condition=complete` must return once the Job is done, with the
// counts Kubernetes would show.
func TestJobFailsOnceThenCompletes(t *testing.T) {
	s, cs, _ := startUp(t)
	img := busybox(t)
	ctx := context.Background()
	ns := "batch"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "flaky"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](5),
			Parallelism: ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy:                 corev1.RestartPolicyNever,
				TerminationGracePeriodSeconds: ptr.To[int64](1),
				Containers: []corev1.Container{{Name: "work", Image: img, Command: []string{"sh", "-c",
					`if mkdir /state/failed-once 2>/dev/null; then echo "first run: failing"; exit 1; fi; echo done`},
					VolumeMounts: []corev1.VolumeMount{{Name: "state", MountPath: "/state"}}}},
				Volumes: []corev1.Volume{{Name: "state", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: state}}}},
			}},
		},
	}
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k := newKubectl(t, s, "")
	out, errOut, code := k.run("wait", "--for=condition=complete", "job/flaky", "-n", ns, "--timeout=55s")
	if code != 0 || !strings.Contains(out, "job.batch/flaky condition met") {
		got, _ := cs.BatchV1().Jobs(ns).Get(ctx, "flaky", metav1.GetOptions{})
		t.Fatalf("kubectl wait: exit %d\nstdout: %s\nstderr: %s\njob status: %+v", code, out, errOut, got.Status)
	}

	got, err := cs.BatchV1().Jobs(ns).Get(ctx, "flaky", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := got.Status
	if st.Succeeded != 5 || st.Failed < 1 || st.Active != 0 || ptr.Deref(st.Ready, -1) != 0 || ptr.Deref(st.Terminating, -1) != 0 {
		t.Fatalf("counts: succeeded %d failed %d active %d ready %v terminating %v; want 5, ≥1, 0, 0, 0",
			st.Succeeded, st.Failed, st.Active, st.Ready, st.Terminating)
	}
	var types []string
	for _, c := range st.Conditions {
		types = append(types, fmt.Sprintf("%s=%s", c.Type, c.Status))
	}
	if !slices.Equal(types, []string{"SuccessCriteriaMet=True", "Complete=True"}) {
		t.Fatalf("conditions %v", types)
	}
	if st.StartTime == nil || st.CompletionTime == nil || st.CompletionTime.Before(st.StartTime) {
		t.Fatalf("startTime %v completionTime %v", st.StartTime, st.CompletionTime)
	}
	if u := st.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		t.Fatalf("uncounted pods left: %+v", u)
	}

	// Every pod the Job ran is still there, counted once, released.
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=flaky"})
	if err != nil {
		t.Fatal(err)
	}
	var succeeded, failed int32
	for _, p := range pods.Items {
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			succeeded++
		case corev1.PodFailed:
			failed++
		default:
			t.Errorf("pod %s is %s after the Job completed", p.Name, p.Status.Phase)
		}
		if !strings.HasPrefix(p.Name, "flaky-") || len(p.Name) != len("flaky-")+5 {
			t.Errorf("pod name %q, want flaky-xxxxx", p.Name)
		}
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != got.UID {
			t.Errorf("pod %s controller %+v", p.Name, ref)
		}
		if p.Labels["job-name"] != "flaky" || p.Labels["controller-uid"] != string(got.UID) || p.Labels[batchv1.ControllerUidLabel] != string(got.UID) {
			t.Errorf("pod %s labels %v", p.Name, p.Labels)
		}
		if slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
			t.Errorf("pod %s of a finished Job keeps the tracking finalizer", p.Name)
		}
	}
	if succeeded != st.Succeeded || failed != st.Failed {
		t.Fatalf("pods: %d succeeded, %d failed; the Job counted %d and %d", succeeded, failed, st.Succeeded, st.Failed)
	}

	// kubectl describe shows what happened, in Kubernetes's words.
	desc := k.must("describe", "job/flaky", "-n", ns)
	for _, want := range []string{"SuccessfulCreate", "Created pod: flaky-", "Completed", "Job completed", "5 Succeeded"} {
		if !strings.Contains(desc, want) {
			t.Errorf("kubectl describe job lacks %q:\n%s", want, desc)
		}
	}
}

// TestCronJobCreatesJobOnSchedule checks the wiring of the CronJob
// controller against the real clock. It has to wait for a real minute
// boundary, up to ~60 s, which is why it is the only such test: the
// schedule logic (next times, DST, missed runs, concurrency, history) is
// tested with a fake clock in reconcile/cronjob. No node is needed: the
// controller's part ends when the Job exists.
func TestCronJobCreatesJobOnSchedule(t *testing.T) {
	s := startServer(t)
	cs := clientset(t, s)
	ctx := context.Background()
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick"},
		Spec: batchv1.CronJobSpec{
			Schedule: "* * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "busybox:local", Command: []string{"true"}}},
			}}}},
		},
	}
	created, err := cs.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var job *batchv1.Job
	eventually(t, 70*time.Second, func() error {
		jobs, err := cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(jobs.Items) == 0 {
			return fmt.Errorf("no Job yet (CronJob created at %s)", created.CreationTimestamp.Format(time.RFC3339))
		}
		job = &jobs.Items[0]
		return nil
	})
	var got *batchv1.CronJob
	eventually(t, 10*time.Second, func() error {
		if got, err = cs.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{}); err != nil {
			return err
		}
		if got.Status.LastScheduleTime == nil {
			return fmt.Errorf("no lastScheduleTime: %+v", got.Status)
		}
		return nil
	})
	last := got.Status.LastScheduleTime.Time
	if last.Second() != 0 || !last.After(created.CreationTimestamp.Time) {
		t.Fatalf("lastScheduleTime %s: want the first whole minute after creation (%s)", last, created.CreationTimestamp)
	}
	if want := fmt.Sprintf("tick-%d", last.Unix()/60); job.Name != want {
		t.Fatalf("job %s, want %s (<cronjob>-<scheduled minutes since the epoch>)", job.Name, want)
	}
	if ref := metav1.GetControllerOf(job); ref == nil || ref.UID != created.UID || ref.Kind != "CronJob" {
		t.Fatalf("job controller %+v", ref)
	}
	if job.Annotations[batchv1.CronJobScheduledTimestampAnnotation] == "" {
		t.Fatalf("job annotations %v", job.Annotations)
	}
	if len(got.Status.Active) == 0 || got.Status.Active[0].Name != job.Name {
		t.Fatalf("active %+v, want %s", got.Status.Active, job.Name)
	}
}
