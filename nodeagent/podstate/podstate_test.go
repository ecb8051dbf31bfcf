package podstate

import (
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func testPod(policy corev1.RestartPolicy, inits []string, apps ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "0123456789abcdef"},
		Spec: corev1.PodSpec{RestartPolicy: policy}}
	for _, n := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n, Image: "busybox:local"})
	}
	for _, n := range apps {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: "busybox:local"})
	}
	return p
}

// inst builds an instance: kind, container name, sandbox attempt, restart
// count, state, exit code, finished offset.
type inst struct {
	kind, name string
	attempt    int
	restarts   int
	state      runtime.State
	exit       int
	finished   time.Duration
}

func (i inst) container(pod *corev1.Pod) runtime.Container {
	labels := map[string]string{
		runtime.LabelKind: i.kind, runtime.LabelContainer: i.name,
		runtime.LabelRestartCount: strconv.Itoa(i.restarts), runtime.LabelSandboxAttempt: strconv.Itoa(i.attempt),
	}
	if i.kind == runtime.KindSandbox {
		labels[runtime.LabelRestartCount] = strconv.Itoa(i.attempt)
		delete(labels, runtime.LabelContainer)
	} else {
		for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			if c.Name == i.name {
				labels[runtime.LabelSpecHash] = SpecHash(&c)
			}
		}
	}
	c := runtime.Container{ID: i.kind + "-" + i.name + "-" + strconv.Itoa(i.attempt) + "-" + strconv.Itoa(i.restarts), Labels: labels, State: i.state,
		StartedAt: t0.Add(-time.Hour), ExitCode: i.exit, IP: "10.42.0.9"}
	if i.state == runtime.StateExited {
		c.FinishedAt = t0.Add(i.finished)
	}
	return c
}

func sandbox(attempt int, state runtime.State) inst {
	return inst{kind: runtime.KindSandbox, attempt: attempt, state: state}
}

func input(pod *corev1.Pod, now time.Time, insts ...inst) Input {
	in := Input{Pod: pod, Now: now, Memory: map[string]*Memory{}}
	for _, i := range insts {
		in.Instances = append(in.Instances, i.container(pod))
	}
	return in
}

func starts(p Plan) string {
	s := ""
	for _, st := range p.Start {
		s += st.Container.Name + "#" + strconv.Itoa(st.RestartCount) + " "
	}
	return s
}

func TestComputeNewPodCreatesSandboxThenFirstInit(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, []string{"i1", "i2"}, "a", "b")
	p := Compute(input(pod, t0))
	if !p.CreateSandbox || p.SandboxAttempt != 0 || starts(p) != "i1#0 " || p.KillAll {
		t.Fatalf("plan %+v starts %q", p, starts(p))
	}
	pod2 := testPod(corev1.RestartPolicyAlways, nil, "a", "b")
	if p := Compute(input(pod2, t0)); !p.CreateSandbox || starts(p) != "a#0 b#0 " {
		t.Fatalf("no inits: starts %q", starts(p))
	}
}

func TestComputeInitContainersRunInOrder(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, []string{"i1", "i2"}, "a")
	sb := sandbox(0, runtime.StateRunning)
	cases := []struct {
		name  string
		insts []inst
		want  string
	}{
		{"first running", []inst{sb, {runtime.KindInit, "i1", 0, 0, runtime.StateRunning, 0, 0}}, ""},
		{"first done", []inst{sb, {runtime.KindInit, "i1", 0, 0, runtime.StateExited, 0, 0}}, "i2#0 "},
		{"both done", []inst{sb, {runtime.KindInit, "i1", 0, 0, runtime.StateExited, 0, 0}, {runtime.KindInit, "i2", 0, 0, runtime.StateExited, 0, 0}}, "a#0 "},
		{"first failed: retried", []inst{sb, {runtime.KindInit, "i1", 0, 0, runtime.StateExited, 1, -time.Minute}}, "i1#1 "},
	}
	for _, c := range cases {
		if got := starts(Compute(input(pod, t0, c.insts...))); got != c.want {
			t.Errorf("%s: starts %q, want %q", c.name, got, c.want)
		}
	}
}

func TestComputeInitFailureWithRestartNeverFailsThePod(t *testing.T) {
	pod := testPod(corev1.RestartPolicyNever, []string{"i1"}, "a")
	in := input(pod, t0, sandbox(0, runtime.StateRunning), inst{runtime.KindInit, "i1", 0, 0, runtime.StateExited, 3, 0})
	p := Compute(in)
	if !p.KillAll || len(p.Start) != 0 {
		t.Fatalf("plan %+v", p)
	}
	if st := Status(StatusInput{Input: in}); st.Phase != corev1.PodFailed {
		t.Fatalf("phase %s, want Failed", st.Phase)
	}
}

func TestComputeRestartPolicies(t *testing.T) {
	sb := sandbox(0, runtime.StateRunning)
	for _, c := range []struct {
		policy corev1.RestartPolicy
		exit   int
		want   string
	}{
		{corev1.RestartPolicyAlways, 0, "a#1 "},
		{corev1.RestartPolicyAlways, 1, "a#1 "},
		{corev1.RestartPolicyOnFailure, 0, ""},
		{corev1.RestartPolicyOnFailure, 1, "a#1 "},
		{corev1.RestartPolicyNever, 1, ""},
	} {
		pod := testPod(c.policy, nil, "a")
		got := starts(Compute(input(pod, t0, sb, inst{runtime.KindApp, "a", 0, 0, runtime.StateExited, c.exit, -time.Second})))
		if got != c.want {
			t.Errorf("%s exit %d: starts %q, want %q", c.policy, c.exit, got, c.want)
		}
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil, "a")
	// It crashed 2 s ago, and was last restarted 3 s ago with a 10 s back-off.
	in := input(pod, t0, sandbox(0, runtime.StateRunning), inst{runtime.KindApp, "a", 0, 1, runtime.StateExited, 1, -2 * time.Second})
	in.Memory["a"] = &Memory{Backoff: Backoff{Period: 10 * time.Second, LastUpdate: t0.Add(-3 * time.Second)}}
	p := Compute(in)
	if len(p.Start) != 0 || !p.Wake.Equal(t0.Add(8*time.Second)) {
		t.Fatalf("in back-off: starts %q, wake %v (want t0+8s)", starts(p), p.Wake.Sub(t0))
	}
	st := Status(StatusInput{Input: in})
	cs := st.ContainerStatuses[0]
	if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.RestartCount != 1 ||
		cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.Reason != "Error" {
		t.Fatalf("status %+v", cs)
	}
	if st.Phase != corev1.PodRunning {
		t.Fatalf("phase %s; a crash-looping pod with restartPolicy Always is Running", st.Phase)
	}
	in.Now = t0.Add(8 * time.Second)
	if got := starts(Compute(in)); got != "a#2 " {
		t.Fatalf("after the back-off: starts %q", got)
	}
}

func TestBackoffSchedule(t *testing.T) {
	var b Backoff
	now := t0
	var got []time.Duration
	for i := 0; i < 8; i++ {
		b = b.Next(now)
		got = append(got, b.Period)
		now = now.Add(b.Period + time.Second)
	}
	want := []time.Duration{10, 20, 40, 80, 160, 300, 300, 300}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("back-off schedule %v, want %v s", got, want)
		}
	}
	// Ten minutes without a crash: it starts over.
	if b = b.Next(now.Add(11 * time.Minute)); b.Period != InitialBackoff {
		t.Fatalf("after 11 min healthy: %s, want %s", b.Period, InitialBackoff)
	}
	if !b.Until(now, now.Add(time.Hour)).IsZero() {
		t.Fatal("an old back-off still holds")
	}
}

func TestLivenessFailureRestarts(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil, "a")
	in := input(pod, t0, sandbox(0, runtime.StateRunning), inst{runtime.KindApp, "a", 0, 0, runtime.StateRunning, 0, 0})
	in.Probes = fakeProbes{liveFailed: true}
	p := Compute(in)
	if len(p.Kill) != 1 || p.Kill[0].Message != "Liveness probe failed: boom" || starts(p) != "a#1 " {
		t.Fatalf("plan %+v", p)
	}
}

func TestSpecChangeReplacesContainer(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil, "a")
	in := input(pod, t0, sandbox(0, runtime.StateRunning), inst{runtime.KindApp, "a", 0, 0, runtime.StateRunning, 0, 0})
	pod.Spec.Containers[0].Image = "busybox:v2"
	p := Compute(in)
	if len(p.Kill) != 1 || starts(p) != "a#1 " {
		t.Fatalf("plan %+v", p)
	}
}

func TestLostSandboxRestartsEverything(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, []string{"i1"}, "a")
	in := input(pod, t0,
		sandbox(0, runtime.StateExited),
		inst{runtime.KindInit, "i1", 0, 0, runtime.StateExited, 0, 0},
		inst{runtime.KindApp, "a", 0, 2, runtime.StateRunning, 0, 0})
	p := Compute(in)
	if !p.KillAll || !p.CreateSandbox || p.SandboxAttempt != 1 || starts(p) != "i1#1 " {
		t.Fatalf("plan %+v starts %q", p, starts(p))
	}
	// In the new sandbox, the app restarts with its count going on.
	in = input(pod, t0,
		sandbox(0, runtime.StateExited), sandbox(1, runtime.StateRunning),
		inst{runtime.KindInit, "i1", 1, 1, runtime.StateExited, 0, 0},
		inst{runtime.KindApp, "a", 0, 2, runtime.StateExited, 137, 0})
	if got := starts(Compute(in)); got != "a#3 " {
		t.Fatalf("after the new sandbox: starts %q", got)
	}
}

func TestFinishedPods(t *testing.T) {
	sb := sandbox(0, runtime.StateRunning)
	pod := testPod(corev1.RestartPolicyNever, nil, "a", "b")
	in := input(pod, t0, sb, inst{runtime.KindApp, "a", 0, 0, runtime.StateExited, 0, 0}, inst{runtime.KindApp, "b", 0, 0, runtime.StateExited, 0, 0})
	if p := Compute(in); !p.KillAll || len(p.Start) != 0 {
		t.Fatalf("done pod: %+v", p)
	}
	if st := Status(StatusInput{Input: in}); st.Phase != corev1.PodSucceeded {
		t.Fatalf("phase %s", st.Phase)
	}
	in = input(pod, t0, sb, inst{runtime.KindApp, "a", 0, 0, runtime.StateExited, 0, 0}, inst{runtime.KindApp, "b", 0, 0, runtime.StateExited, 2, 0})
	if st := Status(StatusInput{Input: in}); st.Phase != corev1.PodFailed {
		t.Fatalf("phase %s, want Failed", st.Phase)
	}
	// Once Succeeded, nothing restarts even if the containers vanish.
	pod.Status.Phase = corev1.PodSucceeded
	if p := Compute(input(pod, t0)); p.CreateSandbox || len(p.Start) != 0 {
		t.Fatalf("terminal pod restarted: %+v", p)
	}
}

func TestGarbageKeepsTwoNewestInstances(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil, "a")
	in := input(pod, t0, sandbox(0, runtime.StateExited), sandbox(1, runtime.StateRunning),
		inst{runtime.KindApp, "a", 1, 3, runtime.StateRunning, 0, 0},
		inst{runtime.KindApp, "a", 1, 2, runtime.StateExited, 1, 0},
		inst{runtime.KindApp, "a", 0, 1, runtime.StateExited, 1, 0},
		inst{runtime.KindApp, "gone", 0, 0, runtime.StateExited, 0, 0})
	got := map[string]bool{}
	for _, id := range Compute(in).Remove {
		got[id] = true
	}
	want := []string{"app-a-0-1", "app-gone-0-0", "sandbox--0-0"}
	if len(got) != len(want) {
		t.Fatalf("removed %v, want %v", got, want)
	}
	for _, id := range want {
		if !got[id] {
			t.Fatalf("removed %v, want %v", got, want)
		}
	}
}

func TestStatusWaitingReasons(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, []string{"i1"}, "a")
	in := input(pod, t0, sandbox(0, runtime.StateRunning), inst{runtime.KindInit, "i1", 0, 0, runtime.StateRunning, 0, 0})
	st := Status(StatusInput{Input: in, HostIP: "192.0.2.1"})
	if r := st.ContainerStatuses[0].State.Waiting.Reason; r != "PodInitializing" {
		t.Errorf("app while init runs: %s", r)
	}
	if st.Phase != corev1.PodPending || st.PodIP != "10.42.0.9" || st.HostIP != "192.0.2.1" {
		t.Errorf("phase %s podIP %s hostIP %s", st.Phase, st.PodIP, st.HostIP)
	}
	pod2 := testPod(corev1.RestartPolicyAlways, nil, "a")
	in2 := input(pod2, t0, sandbox(0, runtime.StateRunning))
	in2.Memory["a"] = &Memory{WaitingReason: "ErrImagePull", WaitingMessage: "pull access denied", RetryAt: t0.Add(10 * time.Second)}
	if w := Status(StatusInput{Input: in2}).ContainerStatuses[0].State.Waiting; w.Reason != "ImagePullBackOff" {
		t.Errorf("during pull back-off: %+v", w)
	}
	in2.Now = t0.Add(11 * time.Second)
	if w := Status(StatusInput{Input: in2}).ContainerStatuses[0].State.Waiting; w.Reason != "ErrImagePull" || w.Message != "pull access denied" {
		t.Errorf("after pull back-off: %+v", w)
	}
	if p := Compute(in2); starts(p) != "a#0 " {
		t.Errorf("pull retried after back-off: %q", starts(p))
	}
	in2.Now = t0
	if p := Compute(in2); len(p.Start) != 0 || !p.Wake.Equal(t0.Add(10*time.Second)) {
		t.Errorf("pull retried during back-off: %+v", p)
	}
}

func TestStatusConditionsAndReadiness(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil, "a")
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	in := input(pod, t0, sandbox(0, runtime.StateRunning), inst{runtime.KindApp, "a", 0, 0, runtime.StateRunning, 0, 0})
	in.Probes = fakeProbes{notReady: true}
	st := Status(StatusInput{Input: in})
	get := func(st corev1.PodStatus, typ corev1.PodConditionType) corev1.PodCondition {
		for _, c := range st.Conditions {
			if c.Type == typ {
				return c
			}
		}
		t.Fatalf("no %s condition", typ)
		return corev1.PodCondition{}
	}
	if c := get(st, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [a]" {
		t.Errorf("Ready %+v", c)
	}
	if get(st, corev1.PodScheduled).Status != corev1.ConditionTrue || get(st, corev1.PodInitialized).Status != corev1.ConditionTrue {
		t.Error("PodScheduled or Initialized wrong")
	}
	if st.Phase != corev1.PodRunning || st.ContainerStatuses[0].Ready {
		t.Errorf("phase %s ready %v", st.Phase, st.ContainerStatuses[0].Ready)
	}
	in.Probes = fakeProbes{}
	pod.Status = st
	in.Now = t0.Add(time.Minute)
	st2 := Status(StatusInput{Input: in})
	if c := get(st2, corev1.PodReady); c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("Ready after the probe passes %+v", c)
	}
	if c := get(st2, corev1.PodInitialized); !c.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("unchanged condition moved its transition time: %+v", c)
	}
}

func TestOOMKilledReason(t *testing.T) {
	pod := testPod(corev1.RestartPolicyNever, nil, "a")
	in := input(pod, t0, sandbox(0, runtime.StateRunning), inst{runtime.KindApp, "a", 0, 0, runtime.StateExited, 137, 0})
	in.Instances[1].OOMKilled = true
	if r := Status(StatusInput{Input: in}).ContainerStatuses[0].State.Terminated.Reason; r != "OOMKilled" {
		t.Fatalf("reason %s", r)
	}
}

type fakeProbes struct{ liveFailed, notReady bool }

func (f fakeProbes) LivenessFailed(string, string) (bool, string) {
	return f.liveFailed, "Liveness probe failed: boom"
}
func (f fakeProbes) Started(string, string) bool { return true }
func (f fakeProbes) Ready(string, string) bool   { return !f.notReady }

// An ephemeral container (kubectl debug) starts once in the running
// sandbox, with its target; once it finished it is not started again, not
// even in a new sandbox, and it never counts toward readiness or the
// phase.
func TestEphemeralContainersRunOnce(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil, "app")
	pod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox:local"},
		TargetContainerName:      "app",
	}}
	app := inst{kind: runtime.KindApp, name: "app", attempt: 0, state: runtime.StateRunning}

	p := Compute(input(pod, t0, sandbox(0, runtime.StateRunning), app))
	if got := starts(p); got != "debugger#0 " || p.Start[0].Kind != runtime.KindEphemeral || p.Start[0].Target != "app" {
		t.Fatalf("starts %q (%+v), want the debugger, ephemeral, targeting app", got, p.Start)
	}

	debugger := inst{kind: runtime.KindEphemeral, name: "debugger", attempt: 0, state: runtime.StateRunning}
	in := input(pod, t0, sandbox(0, runtime.StateRunning), app, debugger)
	if p := Compute(in); len(p.Start) != 0 || len(p.Kill) != 0 {
		t.Fatalf("running debugger: plan %+v, want nothing", p)
	}
	st := Status(StatusInput{Input: in})
	if len(st.EphemeralContainerStatuses) != 1 || st.EphemeralContainerStatuses[0].State.Running == nil || st.EphemeralContainerStatuses[0].Ready {
		t.Fatalf("ephemeral statuses %+v, want one running, not ready", st.EphemeralContainerStatuses)
	}
	if st.Phase != corev1.PodRunning || len(st.ContainerStatuses) != 1 {
		t.Fatalf("phase %s, %d container statuses: the debugger must not count", st.Phase, len(st.ContainerStatuses))
	}

	done := inst{kind: runtime.KindEphemeral, name: "debugger", attempt: 0, state: runtime.StateExited, exit: 1, finished: -time.Minute}
	in = input(pod, t0, sandbox(0, runtime.StateRunning), app, done)
	if p := Compute(in); len(p.Start) != 0 || len(p.Remove) != 0 {
		t.Fatalf("finished debugger: plan %+v, want it neither restarted nor removed", p)
	}
	if s := Status(StatusInput{Input: in}).EphemeralContainerStatuses[0]; s.State.Terminated == nil || s.State.Terminated.ExitCode != 1 {
		t.Fatalf("finished debugger status %+v, want terminated with exit 1", s)
	}
	// A new sandbox restarts the app containers, not the debugger.
	p = Compute(input(pod, t0, sandbox(0, runtime.StateExited), inst{kind: runtime.KindApp, name: "app", state: runtime.StateExited}, done))
	if got := starts(p); got != "app#1 " {
		t.Fatalf("new sandbox starts %q, want only app", got)
	}
}
