package job

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

var (
	podsGVR = corev1.SchemeGroupVersion.WithResource("pods")
	jobsGVR = batchv1.SchemeGroupVersion.WithResource("jobs")
	t0      = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
)

// fixture is a controller over a fake clientset, real (started) informers
// and a fake clock. The fake API is taught what the controller relies on
// from the real one: generateName, UIDs, creation times, and finalizers
// that hold a deleted pod until they are removed.
type fixture struct {
	t      *testing.T
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	events *record.FakeRecorder
	c      *Controller
	ctx    context.Context
	rv     *atomic.Int64
	queue  *recordingQueue
}

// recordingQueue remembers the delays the controller asks for.
type recordingQueue struct {
	workqueue.TypedRateLimitingInterface[string]
	mu     sync.Mutex
	delays []time.Duration
}

func (q *recordingQueue) AddAfter(k string, d time.Duration) {
	q.mu.Lock()
	q.delays = append(q.delays, d)
	q.mu.Unlock()
	q.TypedRateLimitingInterface.AddAfter(k, d)
}

// requeued returns (and forgets) the delays asked for other than the
// immediate or batched syncs of informer events.
func (f *fixture) requeued() []time.Duration {
	f.queue.mu.Lock()
	defer f.queue.mu.Unlock()
	var out []time.Duration
	for _, d := range f.queue.delays {
		if d != 0 && d != syncBatchPeriod {
			out = append(out, d)
		}
	}
	f.queue.delays = nil
	return out
}

func (f *fixture) nextRV() string { return strconv.FormatInt(f.rv.Add(1), 10) }

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	clk := clocktesting.NewFakeClock(t0)
	tracker := client.Tracker()
	// The fake API keeps no resource versions; the controller, like any,
	// ignores pod updates that do not change one.
	var rv atomic.Int64
	f := &fixture{t: t, client: client, clock: clk, events: record.NewFakeRecorder(1000), ctx: t.Context(), rv: &rv}
	client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		m, err := meta.Accessor(a.(k8stesting.CreateAction).GetObject())
		if err != nil {
			return false, nil, nil
		}
		n := rv.Add(1)
		if m.GetName() == "" && m.GetGenerateName() != "" {
			m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), n))
		}
		if m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%d", n)))
		}
		m.SetResourceVersion(strconv.FormatInt(n, 10))
		m.SetCreationTimestamp(metav1.NewTime(clk.Now()))
		return false, nil, nil
	})
	client.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if m, err := meta.Accessor(a.(k8stesting.UpdateAction).GetObject()); err == nil {
			m.SetResourceVersion(f.nextRV())
		}
		return false, nil, nil
	})
	client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteAction)
		obj, err := tracker.Get(podsGVR, da.GetNamespace(), da.GetName())
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod)
		if pc := da.GetDeleteOptions().Preconditions; pc != nil && pc.UID != nil && *pc.UID != pod.UID {
			return true, nil, apierrors.NewConflict(podsGVR.GroupResource(), pod.Name, fmt.Errorf("uid precondition"))
		}
		if len(pod.Finalizers) == 0 {
			return false, nil, nil
		}
		if pod.DeletionTimestamp == nil {
			pod = pod.DeepCopy()
			pod.DeletionTimestamp = ptr.To(metav1.NewTime(clk.Now()))
			pod.DeletionGracePeriodSeconds = ptr.To[int64](0)
			pod.ResourceVersion = f.nextRV()
			return true, nil, tracker.Update(podsGVR, pod, pod.Namespace)
		}
		return true, nil, nil
	})
	client.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if pa.GetPatchType() != types.StrategicMergePatchType {
			return true, nil, fmt.Errorf("unexpected %s patch", pa.GetPatchType())
		}
		obj, err := tracker.Get(podsGVR, pa.GetNamespace(), pa.GetName())
		if err != nil {
			return true, nil, err
		}
		cur, _ := json.Marshal(obj)
		out, err := strategicpatch.StrategicMergePatch(cur, pa.GetPatch(), &corev1.Pod{})
		if err != nil {
			return true, nil, err
		}
		pod := &corev1.Pod{}
		if err := json.Unmarshal(out, pod); err != nil {
			return true, nil, err
		}
		pod.ResourceVersion = f.nextRV()
		if pod.DeletionTimestamp != nil && len(pod.Finalizers) == 0 {
			return true, pod, tracker.Delete(podsGVR, pod.Namespace, pod.Name)
		}
		return true, pod, tracker.Update(podsGVR, pod, pod.Namespace)
	})
	d := manager.NewDeps(client, nil, slog.New(slog.DiscardHandler), clk, 0)
	c, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	c.recorder = f.events
	f.queue = &recordingQueue{TypedRateLimitingInterface: c.queue}
	c.queue = f.queue
	d.Informers.Start(f.ctx.Done())
	d.Informers.WaitForCacheSync(f.ctx.Done())
	t.Cleanup(func() { c.queue.ShutDown(); c.orphanQueue.ShutDown() })
	f.waitCaches()
	client.ClearActions()
	return f
}

// actions are the client calls the controller made since the last look,
// as "verb resource name" (the informers' lists and watches left out).
func (f *fixture) actions() []string {
	defer f.client.ClearActions()
	return controllertest.Actions(f.client)
}

// wantActions compares actions ignoring order among calls the controller
// makes in parallel (creations, deletions, patches of pods).
func (f *fixture) wantActions(want ...string) {
	f.t.Helper()
	got := f.actions()
	norm := func(in []string) []string {
		out := slices.Clone(in)
		// Sort runs of pod calls: they go out concurrently.
		for i := 0; i < len(out); {
			j := i
			for j < len(out) && strings.Contains(out[j], " pods ") {
				j++
			}
			if j == i {
				i++
				continue
			}
			sort.Strings(out[i:j])
			i = j
		}
		return out
	}
	if !slices.Equal(norm(got), norm(want)) {
		f.t.Fatalf("actions:\n got %q\nwant %q", got, want)
	}
}

func (f *fixture) wantEvents(want ...string) {
	f.t.Helper()
	got := controllertest.Events(f.events)
	for _, w := range want {
		if !slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, w) }) {
			f.t.Fatalf("no event %q in %q", w, got)
		}
	}
}

// sync runs one reconcile of the Job once the informers show what the fake
// API holds and its handlers have met the controller's expectations.
func (f *fixture) sync(name string) {
	f.t.Helper()
	f.waitCaches()
	k := "default/" + name
	deadline := time.Now().Add(5 * time.Second)
	for !f.c.expectations.Satisfied(k) {
		if time.Now().After(deadline) {
			f.t.Fatal("expectations not met: the informer did not deliver the controller's own changes")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := f.c.syncJob(f.ctx, k); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) waitCaches() {
	f.t.Helper()
	controllertest.WaitFor(f.t, "informers catching up with the fake API", f.cachesCurrent)
}

func (f *fixture) cachesCurrent() bool {
	return controllertest.CacheCurrent(f.client, podsGVR, corev1.SchemeGroupVersion.WithKind("Pod"), f.c.pods) &&
		controllertest.CacheCurrent(f.client, jobsGVR, batchv1.SchemeGroupVersion.WithKind("Job"), f.c.jobs)
}

func (f *fixture) job(name string) *batchv1.Job {
	f.t.Helper()
	obj, err := f.client.Tracker().Get(jobsGVR, "default", name)
	if err != nil {
		f.t.Fatal(err)
	}
	return obj.(*batchv1.Job)
}

func (f *fixture) updateJob(j *batchv1.Job) {
	f.t.Helper()
	j.ResourceVersion = f.nextRV()
	if err := f.client.Tracker().Update(jobsGVR, j, j.Namespace); err != nil {
		f.t.Fatal(err)
	}
}

// pods returns the Job's pods that exist, oldest first.
func (f *fixture) pods() []*corev1.Pod {
	f.t.Helper()
	list, err := f.client.Tracker().List(podsGVR, corev1.SchemeGroupVersion.WithKind("Pod"), "default")
	if err != nil {
		f.t.Fatal(err)
	}
	var out []*corev1.Pod
	for i := range list.(*corev1.PodList).Items {
		out = append(out, &list.(*corev1.PodList).Items[i])
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreationTimestamp.Equal(&out[j].CreationTimestamp) {
			return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (f *fixture) activePods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range f.pods() {
		if isActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// setPodStatus plays the node agent: it writes a pod's status.
func (f *fixture) setPodStatus(p *corev1.Pod, mutate func(*corev1.PodStatus)) {
	f.t.Helper()
	p = p.DeepCopy()
	mutate(&p.Status)
	p.ResourceVersion = f.nextRV()
	if err := f.client.Tracker().Update(podsGVR, p, p.Namespace); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) run(p *corev1.Pod) {
	now := metav1.NewTime(f.clock.Now())
	f.setPodStatus(p, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
	})
}

// exit ends a pod's container with code: Succeeded for 0, else Failed.
func (f *fixture) exit(p *corev1.Pod, code int32) {
	now := metav1.NewTime(f.clock.Now())
	f.setPodStatus(p, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodSucceeded
		if code != 0 {
			s.Phase = corev1.PodFailed
		}
		s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodCompleted", LastTransitionTime: now}}
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: now}}}}
	})
}

// newJob is a Job as the API server stores it: defaulted, with the
// generated selector and pod labels.
func newJob(name string, completions, parallelism *int32, mutate ...func(*batchv1.Job)) *batchv1.Job {
	uid := types.UID(name + "-uid")
	podLabels := map[string]string{
		batchv1.ControllerUidLabel: string(uid), batchv1.JobNameLabel: name,
		"controller-uid": string(uid), "job-name": name,
	}
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid, ResourceVersion: "1", Generation: 1,
			CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.JobSpec{
			Completions:          completions,
			Parallelism:          parallelism,
			BackoffLimit:         ptr.To[int32](6),
			CompletionMode:       ptr.To(batchv1.NonIndexedCompletion),
			Suspend:              ptr.To(false),
			PodReplacementPolicy: ptr.To(batchv1.TerminatingOrFailed),
			ManualSelector:       ptr.To(false),
			Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(uid)}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}},
				},
			},
		},
	}
	for _, m := range mutate {
		m(j)
	}
	return j
}

func condition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func conditionTypes(j *batchv1.Job) []string {
	var out []string
	for _, c := range j.Status.Conditions {
		out = append(out, fmt.Sprintf("%s=%s", c.Type, c.Status))
	}
	return out
}

// counts is a Job's status counters in one comparable value.
type counts struct{ active, succeeded, failed, ready, terminating int32 }

func countsOf(j *batchv1.Job) counts {
	return counts{j.Status.Active, j.Status.Succeeded, j.Status.Failed, ptr.Deref(j.Status.Ready, -1), ptr.Deref(j.Status.Terminating, -1)}
}
