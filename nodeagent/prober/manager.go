package prober

import (
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// Manager runs the probe workers of every pod on the node and keeps their
// results. Its methods are safe for concurrent use.
type Manager struct {
	clock    clock.WithTicker
	log      *slog.Logger
	recorder Recorder
	prober   *prober

	mu     sync.Mutex
	pods   map[types.UID]*podProbes
	closed bool
	// queue holds updates not yet handed to updates; forwarding says a
	// forward goroutine is draining it. A queue rather than a bigger
	// channel so that a slow agent never blocks a worker and never loses
	// a change.
	queue      []Update
	forwarding bool

	updates chan Update
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
}

// podProbes is what the Manager knows of one pod.
type podProbes struct {
	// pod is the latest object given to Sync; workers read its
	// deletionTimestamp and build event references from it.
	pod     *corev1.Pod
	podIP   string
	workers map[workerKey]*worker
}

type workerKey struct {
	container string
	kind      Kind
}

// NewManager returns a Manager that execs probes through rt.
func NewManager(rt runtime.Runtime, opts Options) *Manager {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	return &Manager{
		clock:    opts.Clock,
		log:      opts.Logger,
		recorder: opts.Recorder,
		prober:   newProber(rt, opts.DialContext, opts.UserAgent),
		pods:     make(map[types.UID]*podProbes),
		// A small buffer lets the forwarder hand over a burst and exit.
		updates: make(chan Update, 16),
		done:    make(chan struct{}),
	}
}

// Sync makes the workers of pod match its running containers (by container
// name). It starts workers for every probe of a running container that has
// none, and stops those of containers that are no longer running or run
// under a new ID; the new ID gets fresh workers, whose initial results are
// in place when Sync returns. Init containers count only when restartable
// (sidecars), the only ones that may have probes.
//
// The Manager keeps pod (for its deletionTimestamp, name and namespace):
// the caller must not modify it afterwards, as with an informer's objects.
func (m *Manager) Sync(pod *corev1.Pod, podIP string, running map[string]ContainerInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	pp := m.pods[pod.UID]
	if pp == nil {
		pp = &podProbes{workers: make(map[workerKey]*worker)}
		m.pods[pod.UID] = pp
	}
	pp.pod, pp.podIP = pod, podIP

	for key, w := range pp.workers {
		if info, ok := running[key.container]; !ok || info.ID != w.containerID {
			w.stop()
			delete(pp.workers, key)
		}
	}
	for name, info := range running {
		c, fieldPath := findContainer(pod, name)
		if c == nil {
			continue
		}
		for _, kind := range kinds {
			spec := probeOf(c, kind)
			if spec == nil {
				continue
			}
			key := workerKey{name, kind}
			if _, ok := pp.workers[key]; ok {
				continue
			}
			// kinds lists Startup first, so a new startup worker is in
			// place (and not started) when the others ask.
			probeAtStart := kind == Startup || pp.startedLocked(name, info.ID)
			w := newWorker(m, pod.UID, key, c, fieldPath, spec, info, probeAtStart)
			pp.workers[key] = w
			m.wg.Add(1)
			go w.run()
		}
	}
	if len(pp.workers) == 0 {
		delete(m.pods, pod.UID)
	}
}

// Remove stops every worker of a pod and forgets its results. Workers exit
// promptly: an exec or request in flight is cancelled.
func (m *Manager) Remove(podUID types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pp := m.pods[podUID]; pp != nil {
		for _, w := range pp.workers {
			w.stop()
		}
		delete(m.pods, podUID)
	}
}

// Close stops every worker, waits for them to exit, and closes Updates.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	for uid, pp := range m.pods {
		for _, w := range pp.workers {
			w.stop()
		}
		delete(m.pods, uid)
	}
	m.queue = nil
	close(m.done)
	m.mu.Unlock()
	m.wg.Wait()
	close(m.updates)
}

// Updates delivers one Update per result change, in order. Results stay
// readable through Ready, Started and NeedsRestart, so an agent may treat
// an Update as a nudge to re-sync the pod. The channel is closed by Close.
func (m *Manager) Updates() <-chan Update { return m.updates }

// Ready reports the readiness of one container instance. known is false
// when it has no readiness probe (or is not running under that ID): the
// agent decides, and Kubernetes calls such a container ready.
func (m *Manager) Ready(podUID types.UID, container, containerID string) (ready, known bool) {
	r, ok := m.result(podUID, container, containerID, Readiness)
	return r == Success, ok
}

// Started reports whether the startup probe of one container instance has
// succeeded. known is false when it has no startup probe: Kubernetes then
// calls a running container started.
func (m *Manager) Started(podUID types.UID, container, containerID string) (started, known bool) {
	r, ok := m.result(podUID, container, containerID, Startup)
	return r == Success, ok
}

// NeedsRestart reports whether one container instance failed its startup
// probe (failureThreshold times) or its liveness probe, and must therefore
// be killed and restarted by the agent as its restartPolicy says.
func (m *Manager) NeedsRestart(podUID types.UID, container, containerID string) (Restart, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, kind := range [...]Kind{Startup, Liveness} {
		w := m.workerLocked(podUID, container, containerID, kind)
		if w != nil && w.result == Failure {
			return Restart{
				Kind:                          kind,
				Message:                       w.message,
				TerminationGracePeriodSeconds: w.spec.TerminationGracePeriodSeconds,
			}, true
		}
	}
	return Restart{}, false
}

func (m *Manager) result(podUID types.UID, container, containerID string, kind Kind) (Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.workerLocked(podUID, container, containerID, kind)
	if w == nil {
		return Unknown, false
	}
	return w.result, true
}

func (m *Manager) workerLocked(podUID types.UID, container, containerID string, kind Kind) *worker {
	pp := m.pods[podUID]
	if pp == nil {
		return nil
	}
	w := pp.workers[workerKey{container, kind}]
	if w == nil || w.containerID != containerID {
		return nil
	}
	return w
}

// startedLocked is the startup gate for one container instance: true once
// its startup probe succeeded, or when it has none.
func (pp *podProbes) startedLocked(container, containerID string) bool {
	w := pp.workers[workerKey{container, Startup}]
	if w == nil || w.containerID != containerID {
		return true
	}
	return w.result == Success
}

// enqueueLocked hands u to the agent without ever blocking the caller.
func (m *Manager) enqueueLocked(u Update) {
	if m.closed {
		return
	}
	m.queue = append(m.queue, u)
	if !m.forwarding {
		m.forwarding = true
		m.wg.Add(1)
		go m.forward()
	}
}

// forward moves queued updates to the channel and exits when the queue is
// empty, so an idle Manager has no goroutine besides its workers.
func (m *Manager) forward() {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		if len(m.queue) == 0 || m.closed {
			m.forwarding = false
			m.mu.Unlock()
			return
		}
		u := m.queue[0]
		m.queue = m.queue[1:]
		if len(m.queue) == 0 {
			m.queue = nil // let the backing array go
		}
		m.mu.Unlock()
		select {
		case m.updates <- u:
		case <-m.done:
			return
		}
	}
}

// findContainer returns the spec of the named app container, or of a
// restartable init container, and its field path for event references.
func findContainer(pod *corev1.Pod, name string) (*corev1.Container, string) {
	for i := range pod.Spec.Containers {
		if c := &pod.Spec.Containers[i]; c.Name == name {
			return c, "spec.containers{" + name + "}"
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.Name == name && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return c, "spec.initContainers{" + name + "}"
		}
	}
	return nil, ""
}

func probeOf(c *corev1.Container, kind Kind) *corev1.Probe {
	switch kind {
	case Liveness:
		return c.LivenessProbe
	case Readiness:
		return c.ReadinessProbe
	case Startup:
		return c.StartupProbe
	}
	return nil
}
