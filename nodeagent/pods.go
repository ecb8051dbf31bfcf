package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/nodeagent/podstate"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
	"github.com/skiff-dev/skiff/nodeagent/volume"
)

func schemeForEvents() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	_ = corev1.AddToScheme(s)
	return s
}

// lostSandboxGrace bounds how long containers of a pod whose sandbox is
// gone get to stop: the pod is broken anyway, and PID 1 of a container
// that ignores SIGTERM would otherwise hold recovery for the whole grace.
const lostSandboxGrace = 2 * time.Second

// syncPod brings one pod's containers in line with its spec and writes
// its status. It returns when to sync again without an event (zero: only
// on events).
func (a *Agent) syncPod(ctx context.Context, key string) (time.Time, error) {
	ns, name, _ := strings.Cut(key, "/")
	pod, err := a.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return time.Time{}, a.removePodContainers(ctx, ns, name, "")
	}
	if err != nil {
		return time.Time{}, err
	}
	all, err := a.podInstances(ctx, a.match(runtime.LabelPodNamespace, ns, runtime.LabelPodName, name))
	if err != nil {
		return time.Time{}, err
	}
	// Containers of an earlier pod with the same name go.
	var instances []runtime.Container
	for _, c := range all {
		if c.Labels[runtime.LabelPodUID] == string(pod.UID) {
			instances = append(instances, c)
			continue
		}
		a.removeContainer(ctx, c.ID)
	}
	a.trackPod(pod)

	if pod.DeletionTimestamp != nil {
		return time.Time{}, a.terminatePod(ctx, pod, instances)
	}
	if podstate.Terminal(pod) {
		a.stopAll(ctx, pod, instances, 0)
		a.prober.Remove(pod.UID)
		return time.Time{}, nil
	}
	instances = a.noticeExternalRestarts(ctx, pod, instances)
	warnings, err := a.volumes.Setup(a.withPodIP(pod, instances))
	for _, w := range warnings {
		a.recorder.Event(pod, corev1.EventTypeWarning, "VolumeWarning", w)
	}
	if err != nil {
		retry := 10 * time.Second
		if errors.Is(err, volume.ErrUnsupported) {
			// Permanent until the pod changes: say so, rarely.
			retry = time.Minute
		}
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", err)
		if werr := a.writeStatus(ctx, pod, a.computeStatus(pod, instances)); werr != nil {
			return time.Time{}, werr
		}
		return a.clock.Now().Add(retry), nil
	}

	mem := a.podMemory(pod.UID)
	probes := a.probeView(pod.UID)
	plan := podstate.Compute(podstate.Input{Pod: pod, Instances: instances, Memory: mem, Probes: probes, Now: a.clock.Now()})
	if a.execute(ctx, pod, plan, instances, mem) {
		if instances, err = a.podInstances(ctx, a.match(runtime.LabelPodUID, string(pod.UID))); err != nil {
			return time.Time{}, err
		}
	}
	a.syncProbes(pod, instances)
	if err := a.writeStatus(ctx, pod, a.computeStatus(pod, instances)); err != nil {
		return time.Time{}, err
	}
	// What to wait for next: recompute on the fresh state.
	next := podstate.Compute(podstate.Input{Pod: pod, Instances: instances, Memory: mem, Probes: probes, Now: a.clock.Now()})
	if len(next.Start) > 0 || next.CreateSandbox || next.KillAll || len(next.Kill) > 0 {
		return a.clock.Now(), nil
	}
	return next.Wake, nil
}

// podInstances lists a pod's containers with everything podstate needs:
// a listing gives states and labels, an inspection each start and finish
// times, exit codes and OOM kills.
func (a *Agent) podInstances(ctx context.Context, match map[string]string) ([]runtime.Container, error) {
	list, err := a.rt.ListContainers(ctx, match)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Container, 0, len(list))
	for _, c := range list {
		full, err := a.rt.InspectContainer(ctx, c.ID)
		if errors.Is(err, runtime.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if full.IP == "" {
			full.IP = c.IP
		}
		out = append(out, *full)
	}
	return out, nil
}

// withPodIP returns the pod with its sandbox's IP in status, for the
// downward API (which reads status.podIP) before the status is written.
func (a *Agent) withPodIP(pod *corev1.Pod, instances []runtime.Container) *corev1.Pod {
	for _, c := range instances {
		if c.Labels[runtime.LabelKind] == runtime.KindSandbox && c.State == runtime.StateRunning && c.IP != "" && pod.Status.PodIP != c.IP {
			p := pod.DeepCopy()
			p.Status.PodIP = c.IP
			p.Status.PodIPs = []corev1.PodIP{{IP: c.IP}}
			return p
		}
	}
	return pod
}

func (a *Agent) computeStatus(pod *corev1.Pod, instances []runtime.Container) corev1.PodStatus {
	return podstate.Status(podstate.StatusInput{
		Input:  podstate.Input{Pod: pod, Instances: instances, Memory: a.podMemory(pod.UID), Probes: a.probeView(pod.UID), Now: a.clock.Now()},
		HostIP: a.opts.NodeIP,
	})
}

// writeStatus patches the pod's status when it changed. The agent owns
// the status of pods bound to it, so a merge patch of the whole status
// (lists replaced) is what it means.
func (a *Agent) writeStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) error {
	if apiequality.Semantic.DeepEqual(pod.Status, st) {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return err
	}
	_, err = a.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (a *Agent) podMemory(uid types.UID) map[string]*podstate.Memory {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.memory[uid]
	if m == nil {
		m = map[string]*podstate.Memory{}
		a.memory[uid] = m
	}
	return m
}

func memoryOf(mem map[string]*podstate.Memory, name string) *podstate.Memory {
	m := mem[name]
	if m == nil {
		m = &podstate.Memory{}
		mem[name] = m
	}
	return m
}

// execute carries out a plan. It reports whether it changed anything.
func (a *Agent) execute(ctx context.Context, pod *corev1.Pod, plan podstate.Plan, instances []runtime.Container, mem map[string]*podstate.Memory) bool {
	changed := false
	var sandboxID, sandboxIP string
	attempt := 0
	for _, c := range instances {
		if c.Labels[runtime.LabelKind] == runtime.KindSandbox && c.State == runtime.StateRunning && podstate.Attempt(&c) >= attempt {
			sandboxID, sandboxIP, attempt = c.ID, c.IP, podstate.Attempt(&c)
		}
	}
	if plan.KillAll {
		grace := lostSandboxGrace
		if !plan.CreateSandbox {
			grace = podGrace(pod)
		}
		a.stopAll(ctx, pod, instances, grace)
		changed = true
	}
	if plan.CreateSandbox {
		id, ip, err := a.rt.RunSandbox(ctx, a.sandboxConfig(pod, plan.SandboxAttempt))
		if err != nil {
			a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			return true
		}
		sandboxID, sandboxIP, attempt = id, ip, plan.SandboxAttempt
		changed = true
	}
	for _, k := range plan.Kill {
		a.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s: %s", k.Container, k.Message)
		if err := a.rt.StopContainer(ctx, k.ID, podGrace(pod)); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			a.log.Warn("stop container", "pod", pod.Namespace+"/"+pod.Name, "container", k.Container, "err", err)
		}
		changed = true
	}
	for _, s := range plan.Start {
		if sandboxID == "" {
			break
		}
		m := memoryOf(mem, s.Container.Name)
		if !a.ensureImage(ctx, pod, s.Container, m) {
			changed = true
			continue
		}
		cfg, err := a.containerConfig(pod, s.Container, s.Kind, s.RestartCount, attempt, sandboxID, sandboxIP)
		if err != nil {
			var ce *configError
			reason := "CreateContainerError"
			if errors.As(err, &ce) {
				reason = "CreateContainerConfigError"
			}
			a.setWaiting(pod, s.Container, m, reason, err.Error())
			changed = true
			continue
		}
		if s.Target != "" && !cfg.HostPID && !cfg.ShareProcessNamespace {
			// kubectl debug --target: the debugger sees the target's
			// processes (a pod that shares one PID namespace already
			// shows them all).
			target := runningInstance(instances, s.Target)
			if target == "" {
				a.setWaiting(pod, s.Container, m, "CreateContainerError", fmt.Sprintf("target container %q is not running; the debug container starts once it runs", s.Target))
				changed = true
				continue
			}
			cfg.TargetPID = target
		}
		if s.Restart {
			m.Backoff = m.Backoff.Next(a.clock.Now())
		}
		id, err := a.rt.CreateContainer(ctx, cfg)
		if err != nil {
			a.setWaiting(pod, s.Container, m, "CreateContainerError", err.Error())
			changed = true
			continue
		}
		a.recorder.Eventf(pod, corev1.EventTypeNormal, "Created", "Created container: %s", s.Container.Name)
		if err := a.rt.StartContainer(ctx, id); err != nil {
			a.setWaiting(pod, s.Container, m, "RunContainerError", err.Error())
			a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: failed to start container %q: %v", s.Container.Name, err)
			changed = true
			continue
		}
		m.WaitingReason, m.WaitingMessage = "", ""
		a.recorder.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", s.Container.Name)
		changed = true
	}
	for _, id := range plan.Remove {
		a.removeContainer(ctx, id)
		changed = true
	}
	if len(plan.Start) == 0 && !plan.Wake.IsZero() {
		// Held back by a crash-loop back-off: say so, once per back-off.
		for _, c := range pod.Spec.Containers {
			if m := mem[c.Name]; m != nil && m.Backoff.Period > 0 && m.WaitingReason == "" {
				a.recorder.Eventf(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
				break
			}
		}
	}
	return changed
}

// runningInstance returns the ID of the running instance of a pod's
// container, or "".
func runningInstance(instances []runtime.Container, container string) string {
	for _, c := range instances {
		if c.State == runtime.StateRunning && c.Labels[runtime.LabelContainer] == container && c.Labels[runtime.LabelKind] != runtime.KindSandbox {
			return c.ID
		}
	}
	return ""
}

func (a *Agent) setWaiting(pod *corev1.Pod, c *corev1.Container, m *podstate.Memory, reason, msg string) {
	m.WaitingReason, m.WaitingMessage = reason, msg
	a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", msg)
}

// ensureImage makes the container's image present under its pull policy;
// it records why not in m and reports false when it is not.
func (a *Agent) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container, m *podstate.Memory) bool {
	policy := c.ImagePullPolicy
	if policy != corev1.PullAlways {
		if _, err := a.rt.ImageStatus(ctx, c.Image); err == nil {
			if m.WaitingReason == "ErrImagePull" || m.WaitingReason == "ErrImageNeverPull" {
				m.WaitingReason, m.WaitingMessage = "", ""
			}
			return true
		} else if !errors.Is(err, runtime.ErrNotFound) {
			a.setWaiting(pod, c, m, "ErrImagePull", err.Error())
			return false
		}
	}
	if policy == corev1.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		m.WaitingReason, m.WaitingMessage = "ErrImageNeverPull", msg
		a.recorder.Event(pod, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		m.RetryAt = a.clock.Now().Add(podstate.InitialBackoff)
		return false
	}
	a.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := a.clock.Now()
	// Progress goes to the pod as an event every few seconds, so a long
	// pull is visible in `kubectl describe` while it runs.
	var lastProgress time.Time
	img, err := a.rt.PullImage(ctx, c.Image, a.pullAuth(ctx, pod), func(line string) {
		a.log.Debug("pull progress", "image", c.Image, "progress", line)
		if now := a.clock.Now(); now.Sub(lastProgress) >= 5*time.Second {
			lastProgress = now
			a.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q: %s", c.Image, line)
		}
	})
	if err != nil {
		m.PullBackoff = m.PullBackoff.Next(a.clock.Now())
		m.RetryAt = a.clock.Now().Add(m.PullBackoff.Period)
		reason := "ErrImagePull"
		if errors.Is(err, runtime.ErrInvalidImageName) {
			reason = "InvalidImageName"
		}
		m.WaitingReason, m.WaitingMessage = reason, err.Error()
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", reason)
		return false
	}
	m.PullBackoff, m.RetryAt = podstate.Backoff{}, time.Time{}
	m.WaitingReason, m.WaitingMessage = "", ""
	a.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s (image id %s)", c.Image, a.clock.Since(start).Round(time.Millisecond), img.ID)
	return true
}

// pullAuth turns the pod's imagePullSecrets into registry credentials
// (the first dockerconfigjson entry that parses).
func (a *Agent) pullAuth(ctx context.Context, pod *corev1.Pod) *runtime.Auth {
	for _, ref := range pod.Spec.ImagePullSecrets {
		sec, err := a.source.Secret(pod.Namespace, ref.Name)
		if err != nil {
			continue
		}
		var cfg struct {
			Auths map[string]runtime.Auth `json:"auths"`
		}
		raw := sec.Data[corev1.DockerConfigJsonKey]
		if len(raw) == 0 {
			raw = sec.Data[corev1.DockerConfigKey]
			var legacy map[string]runtime.Auth
			if json.Unmarshal(raw, &legacy) == nil {
				cfg.Auths = legacy
			}
		} else {
			_ = json.Unmarshal(raw, &cfg)
		}
		for server, auth := range cfg.Auths {
			auth.ServerAddress = server
			return &auth
		}
	}
	return nil
}

func podGrace(pod *corev1.Pod) time.Duration {
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

// stopAll stops every running container of the pod, app containers
// first (in parallel), then the sandbox.
func (a *Agent) stopAll(ctx context.Context, pod *corev1.Pod, instances []runtime.Container, grace time.Duration) {
	var wg sync.WaitGroup
	for _, c := range instances {
		if c.State != runtime.StateRunning || c.Labels[runtime.LabelKind] == runtime.KindSandbox {
			continue
		}
		wg.Add(1)
		go func(c runtime.Container) {
			defer wg.Done()
			a.runPreStop(ctx, pod, c, grace)
			if err := a.rt.StopContainer(ctx, c.ID, grace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.log.Warn("stop container", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "err", err)
			}
		}(c)
	}
	wg.Wait()
	for _, c := range instances {
		if c.State == runtime.StateRunning && c.Labels[runtime.LabelKind] == runtime.KindSandbox {
			if err := a.rt.StopContainer(ctx, c.ID, 0); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.log.Warn("stop sandbox", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			}
		}
	}
}

// runPreStop runs a container's preStop hook (exec or sleep; httpGet is
// best effort), within the grace period.
func (a *Agent) runPreStop(ctx context.Context, pod *corev1.Pod, c runtime.Container, grace time.Duration) {
	name := c.Labels[runtime.LabelContainer]
	for _, spec := range pod.Spec.Containers {
		if spec.Name != name || spec.Lifecycle == nil || spec.Lifecycle.PreStop == nil || grace <= 0 {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, grace)
		defer cancel()
		h := spec.Lifecycle.PreStop
		switch {
		case h.Exec != nil:
			if code, err := a.rt.Exec(hctx, c.ID, runtime.ExecOptions{Cmd: h.Exec.Command}); err != nil || code != 0 {
				a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: exit %d: %v", code, err)
			}
		case h.Sleep != nil:
			select {
			case <-hctx.Done():
			case <-a.clock.After(time.Duration(h.Sleep.Seconds) * time.Second):
			}
		case h.HTTPGet != nil:
			a.runHTTPHook(hctx, pod, h.HTTPGet)
		}
	}
}

// terminatePod stops a pod being deleted (preStop hooks, SIGTERM, SIGKILL
// after the grace period), removes its containers and volumes, and
// completes the deletion in the API.
func (a *Agent) terminatePod(ctx context.Context, pod *corev1.Pod, instances []runtime.Container) error {
	a.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Stopping pod %s", pod.Name)
	a.stopAll(ctx, pod, instances, podGrace(pod))
	a.prober.Remove(pod.UID)
	for _, c := range instances {
		a.removeContainer(ctx, c.ID)
	}
	if err := a.volumes.Teardown(pod.UID); err != nil {
		a.log.Warn("volume teardown", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	err := a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("complete deletion of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	a.forget(pod.UID)
	return nil
}

// removePodContainers removes the containers of a pod that is gone from
// the API (deleted while the agent was down, or forced).
func (a *Agent) removePodContainers(ctx context.Context, ns, name string, keepUID types.UID) error {
	cs, err := a.rt.ListContainers(ctx, a.match(runtime.LabelPodNamespace, ns, runtime.LabelPodName, name))
	if err != nil {
		return err
	}
	uids := map[types.UID]bool{}
	for _, c := range cs {
		uid := types.UID(c.Labels[runtime.LabelPodUID])
		if uid == keepUID {
			continue
		}
		uids[uid] = true
		if c.State == runtime.StateRunning {
			_ = a.rt.StopContainer(ctx, c.ID, lostSandboxGrace)
		}
		a.removeContainer(ctx, c.ID)
	}
	for uid := range uids {
		a.prober.Remove(uid)
		_ = a.volumes.Teardown(uid)
		a.forget(uid)
	}
	return nil
}

func (a *Agent) removeContainer(ctx context.Context, id string) {
	if err := a.rt.RemoveContainer(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		a.log.Warn("remove container", "id", id, "err", err)
	}
	a.mu.Lock()
	delete(a.lastStarted, id)
	a.mu.Unlock()
}

func (a *Agent) forget(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.memory, uid)
	delete(a.podKeys, uid)
}

// noticeExternalRestarts: a container restarted behind the agent's back
// (`docker restart`) keeps its ID but starts anew. The agent stops it, so
// the restart goes through the pod's own accounting (a new instance, the
// restart counted), as a kubelet would see it.
func (a *Agent) noticeExternalRestarts(ctx context.Context, pod *corev1.Pod, instances []runtime.Container) []runtime.Container {
	a.mu.Lock()
	var restarted []int
	for i, c := range instances {
		if c.State != runtime.StateRunning || c.Labels[runtime.LabelKind] == runtime.KindSandbox {
			continue
		}
		if seen, ok := a.lastStarted[c.ID]; ok && c.StartedAt.After(seen) {
			restarted = append(restarted, i)
			continue
		}
		a.lastStarted[c.ID] = c.StartedAt
	}
	a.mu.Unlock()
	for _, i := range restarted {
		c := &instances[i]
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "Restarted", "Container %s was restarted outside Skiff; replacing it", c.Labels[runtime.LabelContainer])
		_ = a.rt.StopContainer(ctx, c.ID, 0)
		if fresh, err := a.rt.InspectContainer(ctx, c.ID); err == nil {
			*c = *fresh
		}
	}
	return instances
}

// adopt removes the containers and volumes of pods this node no longer
// has: after an agent restart they are the pods deleted meanwhile.
func (a *Agent) adopt(ctx context.Context) error {
	cs, err := a.rt.ListContainers(ctx, a.ownLabels())
	if err != nil {
		return err
	}
	keep := map[types.UID]bool{}
	pods, err := a.pods.List(labelsEverything())
	if err != nil {
		return err
	}
	for _, p := range pods {
		keep[p.UID] = true
	}
	gone := map[string]bool{}
	for _, c := range cs {
		if !keep[types.UID(c.Labels[runtime.LabelPodUID])] {
			gone[c.Labels[runtime.LabelPodNamespace]+"/"+c.Labels[runtime.LabelPodName]] = true
		}
	}
	for key := range gone {
		ns, name, _ := strings.Cut(key, "/")
		keepUID := types.UID("")
		if p, err := a.pods.Pods(ns).Get(name); err == nil {
			keepUID = p.UID
		}
		if err := a.removePodContainers(ctx, ns, name, keepUID); err != nil {
			return err
		}
	}
	return a.volumes.Cleanup(keep)
}
