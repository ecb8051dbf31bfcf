package tables

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pod builds a pod named name, created age ago, with the given containers.
func pod(name string, age time.Duration, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(age)}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: c + ":1"})
	}
	return p
}

func running(name string, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: true, Started: ptr(true), RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}}
}

func waiting(name, reason string, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, RestartCount: restarts,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(name, reason string, exitCode, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: exitCode, Signal: signal, FinishedAt: ago(time.Minute)}}}
}

// lastDied sets when the container last terminated.
func lastDied(s corev1.ContainerStatus, d time.Duration) corev1.ContainerStatus {
	s.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(d)}}
	return s
}

func condition(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
	return corev1.PodCondition{Type: t, Status: s}
}

func withInit(p *corev1.Pod, sidecar bool, names ...string) *corev1.Pod {
	for _, n := range names {
		c := corev1.Container{Name: n, Image: n + ":1"}
		if sidecar {
			c.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, c)
	}
	return p
}

func TestPodCells(t *testing.T) {
	runningPod := pod("web-7d4b9c8f5-x2x9k", 5*time.Minute, "nginx")
	runningPod.Spec.NodeName = "skiff-node-1"
	runningPod.Status = corev1.PodStatus{
		Phase:             corev1.PodRunning,
		PodIP:             "10.42.0.7",
		PodIPs:            []corev1.PodIP{{IP: "10.42.0.7"}},
		Conditions:        []corev1.PodCondition{condition(corev1.PodInitialized, "True"), condition(corev1.PodReady, "True")},
		ContainerStatuses: []corev1.ContainerStatus{running("nginx", 0)},
	}

	crashing := pod("api-5f9c6d7b8-abcde", 3*time.Hour, "api")
	crashing.Spec.NodeName = "skiff-node-1"
	crashing.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: "10.42.0.9",
		ContainerStatuses: []corev1.ContainerStatus{lastDied(waiting("api", "CrashLoopBackOff", 5), 150*time.Second)},
	}

	initRunning := withInit(pod("db-0", 20*time.Second, "postgres"), false, "chown", "migrate")
	initRunning.Status = corev1.PodStatus{
		Phase:      corev1.PodPending,
		Conditions: []corev1.PodCondition{condition(corev1.PodInitialized, "False")},
		InitContainerStatuses: []corev1.ContainerStatus{
			terminated("chown", "Completed", 0, 0),
			{Name: "migrate", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		},
		ContainerStatuses: []corev1.ContainerStatus{waiting("postgres", "PodInitializing", 0)},
	}

	initCrashing := withInit(pod("db-1", 10*time.Minute, "postgres"), false, "migrate")
	initCrashing.Status = corev1.PodStatus{
		Phase: corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{
			lastDied(waiting("migrate", "CrashLoopBackOff", 3), 40*time.Second),
		},
		ContainerStatuses: []corev1.ContainerStatus{waiting("postgres", "PodInitializing", 0)},
	}

	initWaitingToStart := withInit(pod("db-2", time.Second, "postgres"), false, "migrate")
	initWaitingToStart.Status = corev1.PodStatus{
		Phase:                 corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{waiting("migrate", "PodInitializing", 0)},
	}

	initFailedExitCode := withInit(pod("db-3", time.Hour, "postgres"), false, "migrate")
	initFailedExitCode.Status = corev1.PodStatus{Phase: corev1.PodFailed,
		InitContainerStatuses: []corev1.ContainerStatus{terminated("migrate", "", 3, 0)}}

	initKilled := withInit(pod("db-4", time.Hour, "postgres"), false, "migrate")
	initKilled.Status = corev1.PodStatus{Phase: corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{terminated("migrate", "", 137, 9)}}

	initOOM := withInit(pod("db-5", time.Hour, "postgres"), false, "migrate")
	initOOM.Status = corev1.PodStatus{Phase: corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{terminated("migrate", "OOMKilled", 137, 0)}}

	podInitializing := withInit(pod("db-6", 8*time.Second, "postgres"), false, "migrate")
	podInitializing.Status = corev1.PodStatus{
		Phase:                 corev1.PodPending,
		Conditions:            []corev1.PodCondition{condition(corev1.PodInitialized, "True")},
		InitContainerStatuses: []corev1.ContainerStatus{terminated("migrate", "Completed", 0, 0)},
		ContainerStatuses:     []corev1.ContainerStatus{waiting("postgres", "PodInitializing", 0)},
	}

	terminating := pod("web-7d4b9c8f5-old", 2*time.Hour, "nginx")
	terminating.DeletionTimestamp = agoPtr(10 * time.Second)
	terminating.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{running("nginx", 0)}}

	terminatingPending := pod("web-7d4b9c8f5-new", 2*time.Second, "nginx")
	terminatingPending.DeletionTimestamp = agoPtr(time.Second)
	terminatingPending.Status = corev1.PodStatus{Phase: corev1.PodPending}

	nodeLost := pod("web-7d4b9c8f5-lost", 26*time.Hour, "nginx")
	nodeLost.DeletionTimestamp = agoPtr(time.Minute)
	nodeLost.Status = corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost", ContainerStatuses: []corev1.ContainerStatus{running("nginx", 0)}}

	completed := pod("pi-8kq2n", 2*time.Hour, "pi")
	completed.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "pi", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", FinishedAt: ago(time.Hour)}}}}}

	completedDeleted := completed.DeepCopy()
	completedDeleted.DeletionTimestamp = agoPtr(time.Second)

	failed := pod("pi-fail", 2*time.Hour, "pi")
	failed.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{terminated("pi", "Error", 1, 0)}}

	exitCode := pod("exit-code", time.Hour, "app")
	exitCode.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{terminated("app", "", 2, 0)}}

	signalled := pod("signalled", time.Hour, "app")
	signalled.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{terminated("app", "", 143, 15)}}

	// One container done, one still running: not Completed.
	halfDone := pod("half-done", 30*time.Minute, "job", "proxy")
	halfDone.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
		terminated("job", "Completed", 0, 0), running("proxy", 0)}}
	halfDoneReady := halfDone.DeepCopy()
	halfDoneReady.Status.Conditions = []corev1.PodCondition{condition(corev1.PodReady, "False"), condition(corev1.PodReady, "True")}

	gated := pod("gated", 90*time.Second, "app")
	gated.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/quota"}}
	gated.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated}}}

	unschedulable := pod("big", 4*time.Minute, "app")
	unschedulable.Status = corev1.PodStatus{Phase: corev1.PodPending, NominatedNodeName: "skiff-node-2", Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}}

	evicted := pod("evicted", 3*24*time.Hour, "app")
	evicted.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}

	creating := pod("creating", 3*time.Second, "app")
	creating.Spec.NodeName = "skiff-node-1"
	creating.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{waiting("app", "ContainerCreating", 0)}}

	notReady := pod("not-ready", 10*time.Minute, "app")
	notReady.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
		{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}

	// A sidecar (restartable init container) counts among the containers
	// and its restarts count once the pod is initialised.
	sidecar := withInit(pod("meshed", 50*time.Minute, "app"), true, "proxy")
	sidecar.Status = corev1.PodStatus{
		Phase:      corev1.PodRunning,
		Conditions: []corev1.PodCondition{condition(corev1.PodInitialized, "True"), condition(corev1.PodReady, "True")},
		InitContainerStatuses: []corev1.ContainerStatus{
			lastDied(running("proxy", 2), 20*time.Minute),
		},
		ContainerStatuses: []corev1.ContainerStatus{lastDied(running("app", 1), 30*time.Minute)},
	}

	sidecarStarting := withInit(pod("meshed-new", 5*time.Second, "app"), true, "proxy", "agent")
	sidecarStarting.Status = corev1.PodStatus{
		Phase:      corev1.PodPending,
		Conditions: []corev1.PodCondition{condition(corev1.PodInitialized, "False")},
		InitContainerStatuses: []corev1.ContainerStatus{
			running("proxy", 0),
			{Name: "agent", Started: ptr(false), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		},
		ContainerStatuses: []corev1.ContainerStatus{waiting("app", "PodInitializing", 0)},
	}

	// Restarts during initialisation count the init containers'; afterwards
	// only the app containers'.
	initRestartsThenRunning := withInit(pod("settled", 3*time.Hour, "app"), false, "migrate")
	initRestartsThenRunning.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		InitContainerStatuses: []corev1.ContainerStatus{
			lastDied(terminated("migrate", "Completed", 0, 0), 2*time.Hour),
		},
		ContainerStatuses: []corev1.ContainerStatus{lastDied(running("app", 4), 20*time.Second)},
	}
	initRestartsThenRunning.Status.InitContainerStatuses[0].RestartCount = 2

	gates := pod("gated-ready", 7*24*time.Hour, "app", "sidecar")
	gates.Spec.NodeName = "skiff-node-1"
	gates.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
	gates.Status = corev1.PodStatus{
		Phase:  corev1.PodRunning,
		PodIPs: []corev1.PodIP{{IP: "fd00::7"}, {IP: "10.42.0.8"}},
		Conditions: []corev1.PodCondition{
			{Type: "example.com/lb", Status: corev1.ConditionTrue},
			{Type: "example.com/dns", Status: corev1.ConditionFalse},
			condition(corev1.PodReady, "False"),
		},
		ContainerStatuses: []corev1.ContainerStatus{lastDied(running("app", 3), 5*24*time.Hour), running("sidecar", 0)},
	}

	restartsWithoutTime := pod("restarted", time.Hour, "app")
	restartsWithoutTime.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{running("app", 3)}}

	primaryIP := pod("primary-ip", time.Hour, "app")
	primaryIP.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.20", PodIPs: []corev1.PodIP{{IP: "10.42.0.21"}}}

	checkCells(t, corev1.SchemeGroupVersion.WithKind("Pod"), []cellCase{
		{"running", runningPod, []interface{}{"web-7d4b9c8f5-x2x9k", "1/1", "Running", "0", "5m", "10.42.0.7", "skiff-node-1", "<none>", "<none>"}},
		{"crash loop with last termination", crashing, []interface{}{"api-5f9c6d7b8-abcde", "0/1", "CrashLoopBackOff", "5 (2m30s ago)", "3h", "10.42.0.9", "skiff-node-1", "<none>", "<none>"}},
		{"second init container running", initRunning, []interface{}{"db-0", "0/1", "Init:1/2", "0", "20s", "<none>", "<none>", "<none>", "<none>"}},
		{"init container crash loop", initCrashing, []interface{}{"db-1", "0/1", "Init:CrashLoopBackOff", "3 (40s ago)", "10m", "<none>", "<none>", "<none>", "<none>"}},
		{"init container waiting to start", initWaitingToStart, []interface{}{"db-2", "0/1", "Init:0/1", "0", "1s", "<none>", "<none>", "<none>", "<none>"}},
		{"init container failed without reason", initFailedExitCode, []interface{}{"db-3", "0/1", "Init:ExitCode:3", "0", "60m", "<none>", "<none>", "<none>", "<none>"}},
		{"init container killed by signal", initKilled, []interface{}{"db-4", "0/1", "Init:Signal:9", "0", "60m", "<none>", "<none>", "<none>", "<none>"}},
		{"init container with reason", initOOM, []interface{}{"db-5", "0/1", "Init:OOMKilled", "0", "60m", "<none>", "<none>", "<none>", "<none>"}},
		{"initialised, app container not started", podInitializing, []interface{}{"db-6", "0/1", "PodInitializing", "0", "8s", "<none>", "<none>", "<none>", "<none>"}},
		{"terminating", terminating, []interface{}{"web-7d4b9c8f5-old", "1/1", "Terminating", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"terminating before it ran", terminatingPending, []interface{}{"web-7d4b9c8f5-new", "0/1", "Terminating", "0", "2s", "<none>", "<none>", "<none>", "<none>"}},
		{"deleted on a lost node", nodeLost, []interface{}{"web-7d4b9c8f5-lost", "1/1", "Unknown", "0", "26h", "<none>", "<none>", "<none>", "<none>"}},
		{"completed", completed, []interface{}{"pi-8kq2n", "0/1", "Completed", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"completed and deleted stays Completed", completedDeleted, []interface{}{"pi-8kq2n", "0/1", "Completed", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"failed", failed, []interface{}{"pi-fail", "0/1", "Error", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"terminated without reason", exitCode, []interface{}{"exit-code", "0/1", "ExitCode:2", "0", "60m", "<none>", "<none>", "<none>", "<none>"}},
		{"terminated by signal", signalled, []interface{}{"signalled", "0/1", "Signal:15", "0", "60m", "<none>", "<none>", "<none>", "<none>"}},
		{"completed beside running, not ready", halfDone, []interface{}{"half-done", "1/2", "NotReady", "0", "30m", "<none>", "<none>", "<none>", "<none>"}},
		{"completed beside running, ready", halfDoneReady, []interface{}{"half-done", "1/2", "Running", "0", "30m", "<none>", "<none>", "<none>", "<none>"}},
		{"scheduling gated", gated, []interface{}{"gated", "0/1", "SchedulingGated", "0", "90s", "<none>", "<none>", "<none>", "<none>"}},
		{"unschedulable, nominated", unschedulable, []interface{}{"big", "0/1", "Pending", "0", "4m", "<none>", "<none>", "skiff-node-2", "<none>"}},
		{"evicted", evicted, []interface{}{"evicted", "0/1", "Evicted", "0", "3d", "<none>", "<none>", "<none>", "<none>"}},
		{"container creating", creating, []interface{}{"creating", "0/1", "ContainerCreating", "0", "3s", "<none>", "skiff-node-1", "<none>", "<none>"}},
		{"running but not ready", notReady, []interface{}{"not-ready", "0/1", "Running", "0", "10m", "<none>", "<none>", "<none>", "<none>"}},
		{"sidecar", sidecar, []interface{}{"meshed", "2/2", "Running", "3 (20m ago)", "50m", "<none>", "<none>", "<none>", "<none>"}},
		{"sidecars starting", sidecarStarting, []interface{}{"meshed-new", "1/3", "Init:1/2", "0", "5s", "<none>", "<none>", "<none>", "<none>"}},
		{"init restarts stop counting once initialised", initRestartsThenRunning, []interface{}{"settled", "1/1", "Running", "4 (20s ago)", "3h", "<none>", "<none>", "<none>", "<none>"}},
		{"readiness gates, dual stack", gates, []interface{}{"gated-ready", "2/2", "Running", "3 (5d ago)", "7d", "fd00::7", "skiff-node-1", "<none>", "1/2"}},
		{"restarts without a termination time", restartsWithoutTime, []interface{}{"restarted", "1/1", "Running", "3", "60m", "<none>", "<none>", "<none>", "<none>"}},
		{"podIP wins over podIPs", primaryIP, []interface{}{"primary-ip", "0/1", "Running", "0", "60m", "10.42.0.20", "<none>", "<none>", "<none>"}},
	})
}
