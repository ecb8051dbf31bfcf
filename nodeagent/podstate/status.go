package podstate

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// StatusInput adds to Input what only the agent knows.
type StatusInput struct {
	Input
	// HostIP is the node's address.
	HostIP string
}

// Status computes the pod's status from what runs. Conditions and
// timestamps keep their previous values when nothing changed, so writing
// the result only when it differs (as the agent does) is meaningful.
func Status(in StatusInput) corev1.PodStatus {
	pod := in.Pod
	v := newView(in.Instances)
	old := pod.Status
	now := metav1.NewTime(in.Now.Truncate(time.Second))

	st := corev1.PodStatus{
		QOSClass:          old.QOSClass,
		NominatedNodeName: old.NominatedNodeName,
		StartTime:         old.StartTime,
		HostIP:            in.HostIP,
	}
	if in.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: in.HostIP}}
	}
	if st.StartTime == nil {
		st.StartTime = &now
	}
	sb := v.sandbox()
	attempt := 0
	if sb != nil {
		attempt = Attempt(sb)
		if sb.IP != "" {
			st.PodIP = sb.IP
			st.PodIPs = []corev1.PodIP{{IP: sb.IP}}
		}
	}

	initDone := true
	initStatuses := make([]corev1.ContainerStatus, 0, len(pod.Spec.InitContainers))
	failedInit := false
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		cs := in.containerStatus(v, ic, runtime.KindInit, attempt, initDone)
		if cur := v.inAttempt(ic.Name, attempt); !succeeded(cur) {
			if finished(cur) && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				failedInit = true
			}
			initDone = false
		}
		initStatuses = append(initStatuses, cs)
	}
	if len(initStatuses) > 0 {
		st.InitContainerStatuses = initStatuses
	}
	allReady := true
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := in.containerStatus(v, c, runtime.KindApp, attempt, initDone)
		allReady = allReady && cs.Ready
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}

	for i := range pod.Spec.EphemeralContainers {
		ec := (*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		st.EphemeralContainerStatuses = append(st.EphemeralContainerStatuses, in.containerStatus(v, ec, runtime.KindEphemeral, attempt, initDone))
	}

	st.Phase = phase(pod, st, failedInit, initDone)
	if Terminal(pod) {
		// A finished pod stays finished.
		st.Phase = pod.Status.Phase
	}
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		allReady = false
	}

	sandboxReady := running(sb)
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
			reason = ""
		}
		c := corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: now}
		for _, o := range old.Conditions {
			if o.Type == t && o.Status == s {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	readyReason := "ContainersNotReady"
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		readyReason = "PodCompleted"
	}
	initReason := "ContainersNotInitialized"
	if st.Phase == corev1.PodSucceeded {
		initReason = "PodCompleted"
	}
	gatesOK := readinessGates(pod)
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, sandboxReady, ""),
		cond(corev1.PodInitialized, initDone || st.Phase == corev1.PodSucceeded, initReason),
		cond(corev1.PodReady, allReady && gatesOK, readyReason),
		cond(corev1.ContainersReady, allReady, readyReason),
	}
	if !allReady {
		st.Conditions[2].Message = notReadyMessage(st.ContainerStatuses)
		st.Conditions[3].Message = st.Conditions[2].Message
	} else if !gatesOK {
		st.Conditions[2].Reason = "ReadinessGatesNotReady"
	}
	for _, o := range old.Conditions {
		switch o.Type {
		case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady:
		default:
			st.Conditions = append(st.Conditions, o) // PodScheduled and others the agent does not own
		}
	}
	return st
}

func readinessGates(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func notReadyMessage(statuses []corev1.ContainerStatus) string {
	var names []string
	for _, s := range statuses {
		if !s.Ready {
			names = append(names, s.Name)
		}
	}
	return "containers with unready status: [" + strings.Join(names, " ") + "]"
}

// terminated is the Terminated state of a finished instance.
func terminated(c *runtime.Container) *corev1.ContainerStateTerminated {
	reason := "Completed"
	switch {
	case c.OOMKilled:
		reason = "OOMKilled"
	case c.State == runtime.StateCreated && c.Error != "":
		reason = "ContainerCannotRun"
	case c.ExitCode != 0:
		reason = "Error"
	}
	t := &corev1.ContainerStateTerminated{
		ExitCode:    int32(c.ExitCode),
		Reason:      reason,
		Message:     c.Error,
		StartedAt:   metav1.NewTime(c.StartedAt),
		FinishedAt:  metav1.NewTime(c.FinishedAt),
		ContainerID: "docker://" + c.ID,
	}
	if reason == "ContainerCannotRun" && t.ExitCode == 0 {
		t.ExitCode = 128
	}
	return t
}

// ImageID is how the status names the image of an instance.
func ImageID(c *runtime.Container) string {
	if c.ImageID == "" {
		return ""
	}
	return "docker://" + c.ImageID
}

func (in Input) containerStatus(v view, c *corev1.Container, kind string, attempt int, initDone bool) corev1.ContainerStatus {
	pod := in.Pod
	mem := in.memory(c.Name)
	cur := v.latest(c.Name)
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, RestartCount: 0}
	f := false
	cs.Started = &f
	if cur == nil {
		reason := "ContainerCreating"
		if kind == runtime.KindApp && !initDone {
			reason = "PodInitializing"
		}
		if kind == runtime.KindInit {
			reason = "PodInitializing"
		}
		cs.State.Waiting = in.waiting(mem, reason, "")
		return cs
	}
	cs.RestartCount = int32(RestartCount(cur))
	cs.ContainerID = "docker://" + cur.ID
	cs.ImageID = ImageID(cur)
	switch {
	case running(cur):
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cur.StartedAt)}
		started := in.Probes == nil || in.Probes.Started(c.Name, cur.ID)
		cs.Started = &started
		cs.Ready = kind == runtime.KindApp && started && (in.Probes == nil || in.Probes.Ready(c.Name, cur.ID))
		if kind == runtime.KindInit {
			cs.Ready = false
		}
		if prev := v.previous(c.Name); finished(prev) {
			cs.LastTerminationState.Terminated = terminated(prev)
		}
	case finished(cur):
		t := terminated(cur)
		willRestart := !Terminal(pod) && kind != runtime.KindEphemeral && restartable(pod, cur) && !(kind == runtime.KindInit && succeeded(cur))
		if kind == runtime.KindApp && Attempt(cur) != attempt && running(v.sandbox()) {
			willRestart = true // waiting to start in the new sandbox
		}
		if kind == runtime.KindInit && succeeded(cur) {
			cs.Ready = true
		}
		if willRestart {
			if until := mem.Backoff.Until(cur.FinishedAt, in.Now); !until.IsZero() {
				cs.State.Waiting = &corev1.ContainerStateWaiting{
					Reason: "CrashLoopBackOff",
					Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
						mem.Backoff.Period, c.Name, pod.Name, pod.Namespace, pod.UID),
				}
				cs.LastTerminationState.Terminated = t
				return cs
			}
			if mem.WaitingReason != "" {
				cs.State.Waiting = in.waiting(mem, "", "")
				cs.LastTerminationState.Terminated = t
				return cs
			}
		}
		cs.State.Terminated = t
	default: // created, not started yet
		cs.State.Waiting = in.waiting(mem, "ContainerCreating", "")
	}
	return cs
}

// waiting is the Waiting state for a container that is not running: the
// remembered error if any (ErrImagePull turning into ImagePullBackOff while
// the pull is backing off), else the given reason.
func (in Input) waiting(mem *Memory, reason, message string) *corev1.ContainerStateWaiting {
	if mem.WaitingReason != "" {
		r, m := mem.WaitingReason, mem.WaitingMessage
		if r == "ErrImagePull" && in.Now.Before(mem.RetryAt) {
			r = "ImagePullBackOff"
		}
		return &corev1.ContainerStateWaiting{Reason: r, Message: m}
	}
	return &corev1.ContainerStateWaiting{Reason: reason, Message: message}
}

// phase is the kubelet's getPhase.
func phase(pod *corev1.Pod, st corev1.PodStatus, failedInit, initDone bool) corev1.PodPhase {
	if failedInit {
		return corev1.PodFailed
	}
	if !initDone {
		return corev1.PodPending
	}
	var running, waiting, stopped, succeededN, unknown int
	for _, cs := range st.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeededN++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "" {
			return corev1.PodRunning
		}
		if stopped == succeededN {
			return corev1.PodSucceeded
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}
