package podstate

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// Memory is what the agent remembers about one container of a pod between
// syncs (the runtime cannot tell it): its crash-loop back-off, and why it
// could not be started the last time it was tried.
type Memory struct {
	// Backoff is the crash-loop back-off.
	Backoff Backoff
	// WaitingReason and WaitingMessage, when set, say why the container is
	// not running: ErrImagePull, ErrImageNeverPull, CreateContainerConfigError,
	// CreateContainerError, RunContainerError, InvalidImageName.
	WaitingReason, WaitingMessage string
	// RetryAt: do not try to start the container again before this
	// (image pull back-off). While waiting for it after ErrImagePull, the
	// reason shown is ImagePullBackOff.
	RetryAt time.Time
	// PullBackoff paces image pull retries.
	PullBackoff Backoff
}

// Probes is what the agent's prober knows of a container instance.
type Probes interface {
	// LivenessFailed says the instance must be restarted, and why.
	LivenessFailed(container, id string) (bool, string)
	// Started: the startup probe passed (true without a startup probe).
	Started(container, id string) bool
	// Ready: the readiness probe passes (true without one, once started).
	Ready(container, id string) bool
}

// Input is everything a decision depends on.
type Input struct {
	Pod *corev1.Pod
	// Instances is every container the runtime has for this pod (its
	// sandboxes included), running or not.
	Instances []runtime.Container
	// Memory by container name; missing entries mean "nothing remembered".
	Memory map[string]*Memory
	// Probes may be nil: no probes.
	Probes Probes
	Now    time.Time
}

func (in Input) memory(name string) *Memory {
	if m := in.Memory[name]; m != nil {
		return m
	}
	return &Memory{}
}

// Kill stops a running instance.
type Kill struct {
	ID, Container string
	// Reason and Message are for the event (e.g. "Unhealthy").
	Reason, Message string
}

// Start creates and starts a container.
type Start struct {
	Container *corev1.Container
	// Kind is runtime.KindInit or runtime.KindApp.
	Kind string
	// RestartCount of the new instance.
	RestartCount int
	// Restart is true when an earlier instance existed.
	Restart bool
	// Target is an ephemeral container's targetContainerName: the
	// container whose processes it shares.
	Target string
}

// Plan is the next step for a pod.
type Plan struct {
	// KillAll stops every container and sandbox of the pod (the sandbox
	// was lost, or the pod finished).
	KillAll bool
	// CreateSandbox starts a new sandbox with SandboxAttempt, after KillAll.
	CreateSandbox  bool
	SandboxAttempt int
	// Kill stops these running containers first.
	Kill []Kill
	// Start these, in order, in the sandbox.
	Start []Start
	// Remove these finished instances (no longer needed, not even for
	// `kubectl logs --previous`).
	Remove []string
	// Wake is when to compute again even without an event (the end of a
	// back-off); zero means only on events.
	Wake time.Time
}

func (p *Plan) wake(t time.Time) {
	if !t.IsZero() && (p.Wake.IsZero() || t.Before(p.Wake)) {
		p.Wake = t
	}
}

// Terminal reports whether the pod's status already says it finished; a
// pod never leaves Succeeded or Failed.
func Terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// restartable says whether a finished instance is to be run again under
// the pod's restart policy.
func restartable(pod *corev1.Pod, c *runtime.Container) bool {
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return !succeeded(c)
	}
	return true
}

// appsDone reports whether every app container has finished for good
// under the restart policy (the pod is complete).
func appsDone(pod *corev1.Pod, v view) bool {
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "" {
		return false
	}
	for i := range pod.Spec.Containers {
		c := v.latest(pod.Spec.Containers[i].Name)
		if !finished(c) || restartable(pod, c) {
			return false
		}
	}
	return true
}

// initFailed reports whether an init container failed for good
// (restartPolicy Never).
func initFailed(pod *corev1.Pod, v view, attempt int) bool {
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		return false
	}
	for i := range pod.Spec.InitContainers {
		if c := v.inAttempt(pod.Spec.InitContainers[i].Name, attempt); finished(c) && !succeeded(c) {
			return true
		}
	}
	return false
}

// Compute decides the next step for a pod.
func Compute(in Input) Plan {
	pod := in.Pod
	v := newView(in.Instances)
	var p Plan
	p.Remove = garbage(pod, v)

	sb := v.sandbox()
	attempt := 0
	if sb != nil {
		attempt = Attempt(sb)
	}
	if Terminal(pod) || appsDone(pod, v) || (sb != nil && initFailed(pod, v, attempt)) {
		// Finished: nothing runs any more, the sandbox included.
		if anyRunning(v) {
			p.KillAll = true
		}
		return p
	}
	if !running(sb) {
		// No sandbox, or it died: start over in a new one, as the kubelet
		// does; every container restarts (and counts a restart).
		p.KillAll = anyRunning(v)
		p.CreateSandbox = true
		if sb != nil {
			p.SandboxAttempt = attempt + 1
		}
		attempt = p.SandboxAttempt
		if len(pod.Spec.InitContainers) > 0 {
			in.start(&p, v, &pod.Spec.InitContainers[0], runtime.KindInit, attempt, false)
			return p
		}
		for i := range pod.Spec.Containers {
			in.start(&p, v, &pod.Spec.Containers[i], runtime.KindApp, attempt, false)
		}
		return p
	}

	// Init containers, one at a time, in order.
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		cur := v.inAttempt(ic.Name, attempt)
		switch {
		case succeeded(cur):
			continue
		case running(cur):
			return p
		case cur == nil:
			in.start(&p, v, ic, runtime.KindInit, attempt, false)
			return p
		default: // failed: retry (restartPolicy Never was handled above)
			in.start(&p, v, ic, runtime.KindInit, attempt, true)
			return p
		}
	}

	// App containers.
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cur := v.latest(c.Name)
		switch {
		case cur == nil || (Attempt(cur) != attempt && !running(cur)):
			// Never started in this sandbox.
			in.start(&p, v, c, runtime.KindApp, attempt, cur != nil)
		case running(cur):
			if Attempt(cur) != attempt {
				p.Kill = append(p.Kill, Kill{ID: cur.ID, Container: c.Name, Reason: "Killing", Message: "sandbox changed"})
				in.start(&p, v, c, runtime.KindApp, attempt, true)
				continue
			}
			if cur.Labels[runtime.LabelSpecHash] != "" && cur.Labels[runtime.LabelSpecHash] != SpecHash(c) {
				p.Kill = append(p.Kill, Kill{ID: cur.ID, Container: c.Name, Reason: "Killing",
					Message: "Container " + c.Name + " definition changed, will be restarted"})
				in.start(&p, v, c, runtime.KindApp, attempt, true)
				continue
			}
			if in.Probes != nil {
				if failed, msg := in.Probes.LivenessFailed(c.Name, cur.ID); failed {
					p.Kill = append(p.Kill, Kill{ID: cur.ID, Container: c.Name, Reason: "Killing", Message: msg})
					in.start(&p, v, c, runtime.KindApp, attempt, true)
				}
			}
		default: // finished
			if restartable(pod, cur) {
				in.start(&p, v, c, runtime.KindApp, attempt, true)
			}
		}
	}

	// Ephemeral containers (kubectl debug): each runs once, as the
	// kubelet runs them; one that finished, or ran in an earlier
	// sandbox, is not started again.
	for i := range pod.Spec.EphemeralContainers {
		ec := &pod.Spec.EphemeralContainers[i]
		if v.latest(ec.Name) == nil {
			before := len(p.Start)
			in.start(&p, v, (*corev1.Container)(&ec.EphemeralContainerCommon), runtime.KindEphemeral, attempt, false)
			if len(p.Start) > before {
				p.Start[before].Target = ec.TargetContainerName
			}
		}
	}
	return p
}

func anyRunning(v view) bool {
	for _, s := range v.sandboxes {
		if running(s) {
			return true
		}
	}
	for _, insts := range v.byName {
		for _, c := range insts {
			if running(c) {
				return true
			}
		}
	}
	return false
}

// start adds a container start to the plan unless a back-off holds it.
func (in Input) start(p *Plan, v view, c *corev1.Container, kind string, attempt int, restart bool) {
	mem := in.memory(c.Name)
	if in.Now.Before(mem.RetryAt) {
		p.wake(mem.RetryAt)
		return
	}
	prev := v.latest(c.Name)
	if restart && finished(prev) {
		if until := mem.Backoff.Until(prev.FinishedAt, in.Now); !until.IsZero() {
			p.wake(until)
			return
		}
	}
	rc := 0
	if prev != nil {
		rc = RestartCount(prev) + 1
	}
	p.Start = append(p.Start, Start{Container: c, Kind: kind, RestartCount: rc, Restart: prev != nil})
	_ = attempt
}

// garbage lists finished instances no longer needed: for each container
// the newest instance and the one before it are kept (the latter for
// `kubectl logs --previous`), finished sandboxes but the newest go, and
// instances of containers no longer in the spec go.
func garbage(pod *corev1.Pod, v view) []string {
	var out []string
	inSpec := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		inSpec[c.Name] = true
	}
	for _, c := range pod.Spec.Containers {
		inSpec[c.Name] = true
	}
	for _, c := range pod.Spec.EphemeralContainers {
		inSpec[c.Name] = true
	}
	for name, insts := range v.byName {
		for i, c := range insts {
			if (i >= 2 || !inSpec[name]) && finished(c) {
				out = append(out, c.ID)
			}
		}
	}
	for i, s := range v.sandboxes {
		if i >= 1 && !running(s) {
			out = append(out, s.ID)
		}
	}
	return out
}
