package podstate

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// SpecHash identifies a container spec; a running container whose spec
// hash differs from the pod's (e.g. after `kubectl set image` on the pod)
// is replaced.
func SpecHash(c *corev1.Container) string {
	b, _ := json.Marshal(c)
	h := fnv.New64a()
	h.Write(b)
	return strconv.FormatUint(h.Sum64(), 36)
}

// ContainerName is the engine name of a container instance, readable in
// `docker ps`: skiff_<container>_<pod>_<namespace>_<uid prefix>_<restart>.
// Sandboxes use the container name "POD", as dockershim did.
func ContainerName(pod *corev1.Pod, container string, restart int) string {
	uid := string(pod.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return fmt.Sprintf("skiff_%s_%s_%s_%s_%d", container, pod.Name, pod.Namespace, uid, restart)
}

func labelInt(c *runtime.Container, key string) int {
	n, _ := strconv.Atoi(c.Labels[key])
	return n
}

// RestartCount of an instance: how many restarts preceded it.
func RestartCount(c *runtime.Container) int { return labelInt(c, runtime.LabelRestartCount) }

// Attempt of an instance: the sandbox attempt it belongs to.
func Attempt(c *runtime.Container) int {
	if c.Labels[runtime.LabelKind] == runtime.KindSandbox {
		return labelInt(c, runtime.LabelRestartCount)
	}
	return labelInt(c, runtime.LabelSandboxAttempt)
}

// view sorts a pod's instances: its sandboxes, and each container's
// instances, newest first.
type view struct {
	sandboxes []*runtime.Container
	byName    map[string][]*runtime.Container
}

func newView(instances []runtime.Container) view {
	v := view{byName: map[string][]*runtime.Container{}}
	for i := range instances {
		c := &instances[i]
		if c.Labels[runtime.LabelKind] == runtime.KindSandbox {
			v.sandboxes = append(v.sandboxes, c)
			continue
		}
		name := c.Labels[runtime.LabelContainer]
		v.byName[name] = append(v.byName[name], c)
	}
	newestFirst := func(s []*runtime.Container, key func(*runtime.Container) int) {
		sort.SliceStable(s, func(i, j int) bool {
			if a, b := key(s[i]), key(s[j]); a != b {
				return a > b
			}
			return s[i].StartedAt.After(s[j].StartedAt)
		})
	}
	newestFirst(v.sandboxes, Attempt)
	for _, s := range v.byName {
		newestFirst(s, RestartCount)
	}
	return v
}

// sandbox returns the newest sandbox, or nil.
func (v view) sandbox() *runtime.Container {
	if len(v.sandboxes) == 0 {
		return nil
	}
	return v.sandboxes[0]
}

// latest returns a container's newest instance, or nil.
func (v view) latest(name string) *runtime.Container {
	if s := v.byName[name]; len(s) > 0 {
		return s[0]
	}
	return nil
}

// previous returns the instance before the newest, or nil.
func (v view) previous(name string) *runtime.Container {
	if s := v.byName[name]; len(s) > 1 {
		return s[1]
	}
	return nil
}

// inAttempt returns a container's newest instance in a sandbox attempt.
func (v view) inAttempt(name string, attempt int) *runtime.Container {
	for _, c := range v.byName[name] {
		if Attempt(c) == attempt {
			return c
		}
	}
	return nil
}

func running(c *runtime.Container) bool { return c != nil && c.State == runtime.StateRunning }

// finished reports whether an instance has run and stopped (or failed to
// start): it will not run again.
func finished(c *runtime.Container) bool {
	return c != nil && (c.State == runtime.StateExited || c.State == runtime.StateUnknown ||
		(c.State == runtime.StateCreated && c.Error != ""))
}

func succeeded(c *runtime.Container) bool {
	return c != nil && c.State == runtime.StateExited && c.ExitCode == 0
}
