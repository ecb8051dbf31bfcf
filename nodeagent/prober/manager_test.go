package prober

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const sec = time.Second

// A readiness probe walks through its thresholds tick by tick: the number of
// probes and the tick at which readiness flips are exact.
func TestReadinessThresholdsTickByTick(t *testing.T) {
	type tick struct {
		reply      execReply // what the probe answers from this tick on
		wantProbes int       // probes run so far
		wantReady  string
		wantUpdate string // updates sent by this tick
	}
	tests := []struct {
		name  string
		probe *corev1.Probe
		ticks []tick // ticks[0] is Sync at t0, then one period each
	}{{
		name:  "initial delay, then two successes to become ready, two failures to become unready",
		probe: probe("ready", period(10), delay(5), successes(2), failures(2)),
		ticks: []tick{
			{reply: ok, wantProbes: 0, wantReady: "false"}, // t0: younger than 5 s
			{reply: ok, wantProbes: 1, wantReady: "false"}, // t10: 1 of 2 successes
			{reply: ok, wantProbes: 2, wantReady: "true", wantUpdate: "app/c1 Readiness=Success"},
			{reply: ok, wantProbes: 3, wantReady: "true"}, // no change, no update
			{reply: fail("db down"), wantProbes: 4, wantReady: "true"},
			{reply: fail("db down"), wantProbes: 5, wantReady: "false", wantUpdate: "app/c1 Readiness=Failure Readiness probe failed: db down"},
			{reply: fail("db down"), wantProbes: 6, wantReady: "false"},
			{reply: ok, wantProbes: 7, wantReady: "false"},
			{reply: fail("flap"), wantProbes: 8, wantReady: "false"}, // a failure resets the success run
			{reply: ok, wantProbes: 9, wantReady: "false"},
			{reply: ok, wantProbes: 10, wantReady: "true", wantUpdate: "app/c1 Readiness=Success"},
		},
	}, {
		name:  "no delay: probed when the worker starts, ready at once with successThreshold 1",
		probe: probe("ready", period(3)),
		ticks: []tick{
			{reply: ok, wantProbes: 1, wantReady: "true", wantUpdate: "app/c1 Readiness=Success"},
			{reply: ok, wantProbes: 2, wantReady: "true"},
			{reply: fail("x"), wantProbes: 3, wantReady: "true"},
			{reply: fail("x"), wantProbes: 4, wantReady: "true"},
			{reply: fail("x"), wantProbes: 5, wantReady: "false", wantUpdate: "app/c1 Readiness=Failure Readiness probe failed: x"},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, h *harness) {
				pod := testPod(corev1.Container{Name: "app", ReadinessProbe: tc.probe})
				for i, tk := range tc.ticks {
					h.rt.set("ready", tk.reply)
					if i == 0 {
						h.sync(pod, running("app", "c1", t0))
					} else {
						h.step(time.Duration(tc.probe.PeriodSeconds) * sec)
					}
					if got := h.rt.count("ready"); got != tk.wantProbes {
						t.Errorf("tick %d: %d probes, want %d", i, got, tk.wantProbes)
					}
					if got := h.ready("app", "c1"); got != tk.wantReady {
						t.Errorf("tick %d: ready %s, want %s", i, got, tk.wantReady)
					}
					if got := updateString(h.updates()); got != tk.wantUpdate {
						t.Errorf("tick %d: updates %q, want %q", i, got, tk.wantUpdate)
					}
				}
			})
		})
	}
}

// initialDelaySeconds counts whole seconds from the container's start, and
// probes wait for the first tick after it.
func TestInitialDelay(t *testing.T) {
	tests := []struct {
		name       string
		delay      int32
		startedAgo time.Duration // container start before Sync
		want       []int         // probes after Sync, then after each 10 s tick
	}{
		{"none", 0, 0, []int{1, 2, 3}},
		{"25 s waits for the tick at 30 s", 25, 0, []int{0, 0, 0, 1, 2}},
		{"10 s probes at the 10 s tick", 10, 0, []int{0, 1, 2}},
		{"9.5 s of 10 s is not yet 10 s", 10, 500 * time.Millisecond, []int{0, 1}},
		{"an adopted container already past its delay is probed at once", 25, 2 * time.Minute, []int{1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, h *harness) {
				h.rt.set("live", ok)
				pod := testPod(corev1.Container{Name: "app", LivenessProbe: probe("live", delay(tc.delay))})
				for i, want := range tc.want {
					if i == 0 {
						h.sync(pod, running("app", "c1", t0.Add(-tc.startedAgo)))
					} else {
						h.step(10 * sec)
					}
					if got := h.rt.count("live"); got != want {
						t.Fatalf("after %d ticks: %d probes, want %d", i, got, want)
					}
				}
			})
		})
	}
}

// Liveness and readiness wait for the startup probe; once it succeeds,
// readiness is probed at once (its period restarting), liveness on its next
// tick, and startup no more.
func TestStartupGatesLivenessAndReadiness(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("start", fail("booting"))
		h.rt.set("live", ok)
		h.rt.set("ready", ok)
		pod := testPod(corev1.Container{
			Name:           "app",
			StartupProbe:   probe("start", period(3), failures(30)),
			LivenessProbe:  probe("live"),
			ReadinessProbe: probe("ready"),
		})
		h.sync(pod, running("app", "c1", t0))

		type counts struct{ start, live, ready int }
		check := func(at string, want counts, wantStarted, wantReady string) {
			t.Helper()
			got := counts{h.rt.count("start"), h.rt.count("live"), h.rt.count("ready")}
			if got != want {
				t.Errorf("%s: probes %+v, want %+v", at, got, want)
			}
			if s := h.started("app", "c1"); s != wantStarted {
				t.Errorf("%s: started %s, want %s", at, s, wantStarted)
			}
			if r := h.ready("app", "c1"); r != wantReady {
				t.Errorf("%s: ready %s, want %s", at, r, wantReady)
			}
			if _, restart := h.m.NeedsRestart(podUID, "app", "c1"); restart {
				t.Errorf("%s: NeedsRestart while starting", at)
			}
		}
		check("t0", counts{1, 0, 0}, "false", "false")
		h.step(3 * sec)
		check("t3", counts{2, 0, 0}, "false", "false")
		if got := updateString(h.updates()); got != "" {
			t.Errorf("updates before start: %q", got)
		}

		h.rt.set("start", ok)
		h.step(3 * sec)
		check("t6", counts{3, 0, 1}, "true", "true")
		if got, want := updateString(h.updates()), "app/c1 Startup=Success; app/c1 Readiness=Success"; got != want {
			t.Errorf("updates at start: %q, want %q", got, want)
		}
		h.step(4 * sec)
		check("t10", counts{3, 1, 1}, "true", "true") // liveness's own tick; readiness restarted its period at t6
		h.step(6 * sec)
		check("t16", counts{3, 1, 2}, "true", "true")
		h.step(4 * sec)
		check("t20", counts{3, 2, 2}, "true", "true")
	})
}

// A startup probe that succeeds at once lets readiness through exactly once
// (the trigger), and liveness at its first tick: the gated workers do not
// also race the startup probe at their own start.
func TestStartupSucceedingAtOnce(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("start", ok)
		h.rt.set("live", ok)
		h.rt.set("ready", ok)
		pod := testPod(corev1.Container{
			Name:           "app",
			StartupProbe:   probe("start"),
			LivenessProbe:  probe("live"),
			ReadinessProbe: probe("ready"),
		})
		h.sync(pod, running("app", "c1", t0))
		if s, l, r := h.rt.count("start"), h.rt.count("live"), h.rt.count("ready"); s != 1 || l != 0 || r != 1 {
			t.Errorf("probes at t0: start=%d live=%d ready=%d, want 1, 0, 1", s, l, r)
		}
		if got, want := updateString(h.updates()), "app/c1 Startup=Success; app/c1 Readiness=Success"; got != want {
			t.Errorf("updates %q, want %q", got, want)
		}
		h.step(10 * sec)
		if s, l, r := h.rt.count("start"), h.rt.count("live"), h.rt.count("ready"); s != 1 || l != 1 || r != 2 {
			t.Errorf("probes at t10: start=%d live=%d ready=%d, want 1, 1, 2", s, l, r)
		}
	})
}

// A startup probe reaching failureThreshold asks for a restart, with the
// probe's grace period, and stops; the other probes never ran.
func TestStartupFailureNeedsRestart(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("start", fail("still booting"))
		h.rt.set("live", ok)
		h.rt.set("ready", ok)
		pod := testPod(corev1.Container{
			Name:           "app",
			StartupProbe:   probe("start", failures(3), grace(7)),
			LivenessProbe:  probe("live"),
			ReadinessProbe: probe("ready"),
		})
		h.sync(pod, running("app", "c1", t0))
		h.step(10 * sec)
		if _, restart := h.m.NeedsRestart(podUID, "app", "c1"); restart {
			t.Fatal("restart after 2 of 3 failures")
		}
		h.step(10 * sec)
		r, restart := h.m.NeedsRestart(podUID, "app", "c1")
		if !restart || r.Kind != Startup || r.Message != "Startup probe failed: still booting" ||
			r.TerminationGracePeriodSeconds == nil || *r.TerminationGracePeriodSeconds != 7 {
			t.Fatalf("NeedsRestart = %+v, %v", r, restart)
		}
		if got, want := updateString(h.updates()), "app/c1 Startup=Failure Startup probe failed: still booting"; got != want {
			t.Errorf("updates %q, want %q", got, want)
		}
		h.step(10 * sec)
		h.step(10 * sec)
		if s, l, rd := h.rt.count("start"), h.rt.count("live"), h.rt.count("ready"); s != 3 || l != 0 || rd != 0 {
			t.Errorf("probes start=%d live=%d ready=%d, want 3, 0, 0", s, l, rd)
		}
		if got := h.started("app", "c1"); got != "false" {
			t.Errorf("started %s", got)
		}
	})
}

// failureThreshold consecutive liveness failures ask for a restart and stop
// probing that container; the restarted container (new ID) starts over.
func TestLivenessFailureThenRestartStartsOver(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("live", fail("boom"))
		pod := testPod(corev1.Container{Name: "app", LivenessProbe: probe("live", grace(5))})
		h.sync(pod, running("app", "c1", t0))
		h.step(10 * sec)
		if _, restart := h.m.NeedsRestart(podUID, "app", "c1"); restart {
			t.Fatal("restart after 2 of 3 failures")
		}
		h.step(10 * sec)
		r, restart := h.m.NeedsRestart(podUID, "app", "c1")
		if !restart || r.Kind != Liveness || r.Message != "Liveness probe failed: boom" || *r.TerminationGracePeriodSeconds != 5 {
			t.Fatalf("NeedsRestart = %+v, %v", r, restart)
		}
		if got, want := updateString(h.updates()), "app/c1 Liveness=Failure Liveness probe failed: boom"; got != want {
			t.Errorf("updates %q, want %q", got, want)
		}
		h.step(10 * sec)
		if got := h.rt.countID("c1"); got != 3 {
			t.Errorf("c1 probed %d times, want 3 (none once a restart is due)", got)
		}

		// The agent restarted the container.
		h.sync(pod, running("app", "c2", h.clk.Now()))
		if _, restart := h.m.NeedsRestart(podUID, "app", "c2"); restart {
			t.Fatal("the new container inherits the old one's failure")
		}
		if _, restart := h.m.NeedsRestart(podUID, "app", "c1"); restart {
			t.Error("the old container is still reported")
		}
		replies := []execReply{ /* t30 */ fail("boom"), fail("boom"), ok, fail("boom"), fail("boom")}
		for i, r := range replies {
			h.rt.set("live", r)
			if i > 0 {
				h.step(10 * sec)
			} else {
				h.m.Sync(pod, "10.0.0.5", running("app", "c2", h.clk.Now())) // idempotent: same ID, same worker
				synctest.Wait()
			}
			if _, restart := h.m.NeedsRestart(podUID, "app", "c2"); restart {
				t.Fatalf("restart at probe %d of c2: failures were not consecutive", i+1)
			}
		}
		if got := h.rt.countID("c2"); got != len(replies) {
			t.Errorf("c2 probed %d times, want %d", got, len(replies))
		}
		h.step(10 * sec)
		if _, restart := h.m.NeedsRestart(podUID, "app", "c2"); !restart {
			t.Error("no restart after 3 consecutive failures of c2")
		}
		if got, want := updateString(h.updates()), "app/c2 Liveness=Failure Liveness probe failed: boom"; got != want {
			t.Errorf("updates %q, want %q", got, want)
		}
	})
}

// Updates come only on change: a healthy liveness probe sends none, a
// readiness probe that stays ready sends one.
func TestUpdatesOnlyOnChange(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("live", ok)
		h.rt.set("ready", ok)
		pod := testPod(corev1.Container{Name: "app", LivenessProbe: probe("live"), ReadinessProbe: probe("ready")})
		h.sync(pod, running("app", "c1", t0))
		for range 5 {
			h.step(10 * sec)
		}
		if got, want := updateString(h.updates()), "app/c1 Readiness=Success"; got != want {
			t.Errorf("updates %q, want %q", got, want)
		}
		if h.rt.count("live") != 6 || h.rt.count("ready") != 6 {
			t.Errorf("probes live=%d ready=%d, want 6 each", h.rt.count("live"), h.rt.count("ready"))
		}
	})
}

// "No probe" is distinct from "not ready": the agent decides for containers
// without a probe, and for IDs the Manager does not watch.
func TestNoProbeIsReportedDistinctly(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("ready", ok)
		pod := testPod(
			corev1.Container{Name: "plain"},
			corev1.Container{Name: "probed", ReadinessProbe: probe("ready", delay(60))},
		)
		h.sync(pod, map[string]ContainerInfo{"plain": {ID: "p1", StartedAt: t0}, "probed": {ID: "q1", StartedAt: t0}})
		for _, tc := range []struct{ container, id, ready, started string }{
			{"plain", "p1", "no probe", "no probe"},
			{"probed", "q1", "false", "no probe"},
			{"probed", "q0", "no probe", "no probe"}, // another instance
			{"missing", "m1", "no probe", "no probe"},
		} {
			if got := h.ready(tc.container, tc.id); got != tc.ready {
				t.Errorf("Ready(%s, %s) = %s, want %s", tc.container, tc.id, got, tc.ready)
			}
			if got := h.started(tc.container, tc.id); got != tc.started {
				t.Errorf("Started(%s, %s) = %s, want %s", tc.container, tc.id, got, tc.started)
			}
			if _, restart := h.m.NeedsRestart(podUID, tc.container, tc.id); restart {
				t.Errorf("NeedsRestart(%s, %s)", tc.container, tc.id)
			}
		}
	})
}

// Sync stops the workers of containers that stopped or were replaced; a
// replacement starts from the initial result.
func TestSyncFollowsContainers(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("ready", ok)
		pod := testPod(
			corev1.Container{Name: "a", ReadinessProbe: probe("ready")},
			corev1.Container{Name: "b", ReadinessProbe: probe("ready")},
		)
		h.sync(pod, map[string]ContainerInfo{"a": {ID: "a1", StartedAt: t0}, "b": {ID: "b1", StartedAt: t0}})
		if h.ready("a", "a1") != "true" || h.ready("b", "b1") != "true" {
			t.Fatalf("ready a=%s b=%s", h.ready("a", "a1"), h.ready("b", "b1"))
		}
		h.updates()

		// b stopped; a was replaced and its new instance is not probed yet.
		h.rt.set("ready", fail("warming up"))
		h.sync(pod, map[string]ContainerInfo{"a": {ID: "a2", StartedAt: h.clk.Now()}})
		if got := h.ready("b", "b1"); got != "no probe" {
			t.Errorf("stopped b: ready %s", got)
		}
		if got := h.ready("a", "a1"); got != "no probe" {
			t.Errorf("replaced a1: ready %s", got)
		}
		if got := h.ready("a", "a2"); got != "false" {
			t.Errorf("new a2: ready %s, want false", got)
		}
		for range 3 {
			h.step(10 * sec)
		}
		if a1, b1, a2 := h.rt.countID("a1"), h.rt.countID("b1"), h.rt.countID("a2"); a1 != 1 || b1 != 1 || a2 != 4 {
			t.Errorf("probes a1=%d b1=%d a2=%d, want 1, 1, 4", a1, b1, a2)
		}
		if got := updateString(h.updates()); got != "" {
			t.Errorf("updates %q: readiness was already false for a2", got)
		}

		// Nothing running: the pod is forgotten.
		h.sync(pod, nil)
		h.step(10 * sec)
		if got := h.rt.countID("a2"); got != 4 {
			t.Errorf("a2 probed after it stopped: %d", got)
		}
	})
}

// Remove stops a pod's workers at once, cancelling an exec in flight, and
// leaves no goroutine behind.
func TestRemoveStopsWorkers(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		baseline := proberGoroutines()
		h.rt.set("hang", execReply{block: true})
		h.rt.set("live", ok)
		pod := testPod(
			corev1.Container{Name: "a", ReadinessProbe: probe("hang", func(p *corev1.Probe) { p.TimeoutSeconds = 3600 })},
			corev1.Container{Name: "b", LivenessProbe: probe("live"), StartupProbe: probe("live")},
		)
		h.sync(pod, map[string]ContainerInfo{"a": {ID: "a1", StartedAt: t0}, "b": {ID: "b1", StartedAt: t0}})
		if got := proberGoroutines() - baseline; got != 3 {
			t.Fatalf("%d goroutines for 3 probes", got)
		}
		h.m.Remove(podUID)
		synctest.Wait()
		if got := proberGoroutines(); got != baseline {
			t.Errorf("%d goroutines left after Remove", got-baseline)
		}
		if got := h.rt.cancelledCount("hang"); got != 1 {
			t.Errorf("hung exec cancelled %d times, want 1", got)
		}
		if got := h.ready("a", "a1"); got != "no probe" {
			t.Errorf("removed pod still reports ready %s", got)
		}
		h.step(time.Hour)
		if got := h.rt.count("live"); got != 1 {
			t.Errorf("liveness probed %d times, want 1 (none after Remove)", got)
		}
	})
}

// The same without a bubble: real goroutines, the real clock, and an exec
// that ignores nothing but its context.
func TestRemoveStopsWorkersRealClock(t *testing.T) {
	rt := newFakeRuntime()
	rt.set("hang", execReply{block: true})
	baseline := proberGoroutines()
	m := NewManager(rt, Options{})
	defer m.Close()
	pod := testPod(corev1.Container{Name: "a", ReadinessProbe: probe("hang", func(p *corev1.Probe) { p.TimeoutSeconds = 3600 })})
	m.Sync(pod, "10.0.0.5", running("a", "a1", time.Now()))
	waitFor(t, "the exec to start", func() bool { return rt.count("hang") == 1 })
	m.Remove(podUID)
	waitFor(t, "the worker to exit", func() bool {
		return rt.cancelledCount("hang") == 1 && proberGoroutines() <= baseline
	})
}

// waitFor polls cond until it holds; the deadline only bounds a broken test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close stops everything, waits, and closes Updates; it is idempotent and
// Sync after it does nothing.
func TestClose(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		baseline := proberGoroutines()
		h.rt.set("hang", execReply{block: true})
		h.rt.set("ready", ok)
		pod := testPod(
			corev1.Container{Name: "a", LivenessProbe: probe("hang")},
			corev1.Container{Name: "b", ReadinessProbe: probe("ready")},
		)
		h.sync(pod, map[string]ContainerInfo{"a": {ID: "a1", StartedAt: t0}, "b": {ID: "b1", StartedAt: t0}})
		// b's readiness update waits in the channel, unread.
		h.m.Close()
		h.m.Close()
		if got := proberGoroutines(); got != baseline {
			t.Errorf("%d goroutines left after Close", got-baseline)
		}
		var got []Update
		for u := range h.m.Updates() {
			got = append(got, u)
		}
		if updateString(got) != "b/b1 Readiness=Success" {
			t.Errorf("updates after Close: %q", updateString(got))
		}
		h.m.Sync(pod, "10.0.0.5", running("b", "b2", t0))
		synctest.Wait()
		if proberGoroutines() != baseline || h.rt.countID("b2") != 0 {
			t.Error("Sync after Close started a worker")
		}
	})
}

// Every failed probe is an Unhealthy Warning event on the container, phrased
// as the kubelet's, whether or not it crosses a threshold.
func TestEventsPerFailedProbe(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("ready", fail("HTTP probe failed with statuscode: 500"))
		h.rt.set("live", ok)
		pod := testPod(corev1.Container{Name: "app", ReadinessProbe: probe("ready"), LivenessProbe: probe("live")})
		h.sync(pod, running("app", "c1", t0))
		h.step(10 * sec)
		want := []string{
			"Warning Unhealthy Readiness probe failed: HTTP probe failed with statuscode: 500",
			"Warning Unhealthy Readiness probe failed: HTTP probe failed with statuscode: 500",
		}
		h.ev.mu.Lock()
		ref := h.ev.events[0].ref
		h.ev.mu.Unlock()
		if got := h.ev.take(); !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		wantRef := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "default", Name: "web",
			UID: podUID, ResourceVersion: "7", FieldPath: "spec.containers{app}"}
		if *ref != wantRef {
			t.Errorf("event object %+v, want %+v", *ref, wantRef)
		}
	})
}

// A handler that cannot run is retried three times, reported as errored,
// and moves no threshold.
func TestErroredProbeIsThrownAway(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("live", execReply{err: context.DeadlineExceeded})
		h.rt.set("ready", execReply{err: errEngine})
		pod := testPod(corev1.Container{Name: "app", LivenessProbe: probe("live", failures(1)), ReadinessProbe: probe("ready")})
		h.sync(pod, running("app", "c1", t0))
		h.step(10 * sec)
		if got := h.rt.count("ready"); got != 6 {
			t.Errorf("%d exec attempts in 2 periods, want 6", got)
		}
		if _, restart := h.m.NeedsRestart(podUID, "app", "c1"); restart {
			t.Error("an errored liveness probe asked for a restart")
		}
		if got := h.ready("app", "c1"); got != "false" {
			t.Errorf("ready %s", got)
		}
		if got := updateString(h.updates()); got != "" {
			t.Errorf("updates %q", got)
		}
		events := h.ev.take()
		wantReady := `Warning Unhealthy Readiness probe errored and resulted in unknown state: exec "ready" in container c1: ` + errEngine.Error()
		if n := strings.Count(strings.Join(events, "\n"), wantReady); n != 2 {
			t.Errorf("events %q: want %q twice", events, wantReady)
		}
	})
}

var errEngine = errString("Cannot connect to the Docker daemon")

type errString string

func (e errString) Error() string { return string(e) }

// A pod being deleted is not restarted for failing probes: liveness and
// startup report success and stop; readiness goes on.
func TestDeletingPodSilencesLivenessAndStartup(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("live", fail("dying"))
		h.rt.set("ready", fail("dying"))
		pod := testPod(corev1.Container{Name: "app", LivenessProbe: probe("live", failures(1)), ReadinessProbe: probe("ready", failures(1))})
		h.sync(pod, running("app", "c1", t0))
		if _, restart := h.m.NeedsRestart(podUID, "app", "c1"); !restart {
			t.Fatal("failing liveness did not ask for a restart")
		}
		h.updates()

		// A new container, while the pod is deleted.
		deleting := pod.DeepCopy()
		now := metav1.NewTime(h.clk.Now())
		deleting.DeletionTimestamp = &now
		h.sync(deleting, running("app", "c2", h.clk.Now()))
		h.step(10 * sec)
		if got := h.rt.countID("c2"); got != 2 {
			t.Errorf("c2 probed %d times, want 2 (readiness only)", got)
		}
		if got := h.rt.count("live"); got != 1 {
			t.Errorf("liveness probed %d times during deletion", got-1)
		}
		if _, restart := h.m.NeedsRestart(podUID, "app", "c2"); restart {
			t.Error("restart asked for a terminating pod")
		}
	})
}

// The probe's timeoutSeconds bounds an exec; a hung command is a failure.
func TestExecTimeoutBoundsWorker(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("hang", execReply{block: true})
		pod := testPod(corev1.Container{Name: "app", LivenessProbe: probe("hang", failures(1), func(p *corev1.Probe) { p.TimeoutSeconds = 7 })})
		h.sync(pod, running("app", "c1", t0))
		if got := h.rt.deadline("hang"); got != 7*sec {
			t.Errorf("exec deadline %v, want 7s", got)
		}
		if _, restart := h.m.NeedsRestart(podUID, "app", "c1"); restart {
			t.Fatal("failed before its timeout")
		}
		// Inside the bubble this sleep is virtual: it lets the exec's
		// 7 s deadline pass and nothing else.
		time.Sleep(7 * sec)
		synctest.Wait()
		r, restart := h.m.NeedsRestart(podUID, "app", "c1")
		if !restart || r.Message != `Liveness probe failed: command "hang" timed out` {
			t.Errorf("NeedsRestart = %+v, %v", r, restart)
		}
	})
}

// Restartable init containers (sidecars) are probed like app containers;
// others are not.
func TestSidecarsAreProbed(t *testing.T) {
	inBubble(t, func(t *testing.T, h *harness) {
		h.rt.set("ready", ok)
		always := corev1.ContainerRestartPolicyAlways
		pod := testPod(corev1.Container{Name: "app"})
		pod.Spec.InitContainers = []corev1.Container{
			{Name: "init", ReadinessProbe: probe("ready")},
			{Name: "sidecar", RestartPolicy: &always, ReadinessProbe: probe("ready")},
		}
		h.sync(pod, map[string]ContainerInfo{"init": {ID: "i1", StartedAt: t0}, "sidecar": {ID: "s1", StartedAt: t0}})
		if got := h.ready("sidecar", "s1"); got != "true" {
			t.Errorf("sidecar ready %s", got)
		}
		if got := h.rt.countID("i1"); got != 0 {
			t.Errorf("plain init container probed %d times", got)
		}
	})
}
