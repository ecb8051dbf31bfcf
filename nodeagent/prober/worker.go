package prober

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Probe defaults, as API defaulting sets them; applied again here because
// a zero period would spin and a zero threshold would flip on nothing.
const (
	defaultPeriodSeconds    = 10
	defaultTimeoutSeconds   = 1
	defaultSuccessThreshold = 1
	defaultFailureThreshold = 3
	// maxProbeRetries bounds the immediate retries of a probe whose handler
	// errored (kubelet prober.go).
	maxProbeRetries = 3
)

// worker probes one container instance for one kind of probe. Everything
// but result and message belongs to its goroutine.
type worker struct {
	m           *Manager
	podUID      types.UID
	key         workerKey
	containerID string
	startedAt   time.Time
	container   *corev1.Container
	fieldPath   string
	spec        corev1.Probe // defaulted copy

	ctx    context.Context // cancelled by stop; also cancels a probe in flight
	cancel context.CancelFunc
	// trigger asks for a probe now (readiness, when startup succeeds).
	trigger chan struct{}
	// probeAtStart is false for liveness and readiness workers that start
	// behind a startup probe: they cannot be let through yet, and whether
	// their first run came before or after the startup probe's first
	// success would be a race. They wait for their tick (or trigger).
	probeAtStart bool

	// Guarded by m.mu.
	result  Result
	message string

	lastResult Result
	resultRun  int  // how many probes in a row returned lastResult
	onHold     bool // no more probing for this container instance
}

func newWorker(m *Manager, podUID types.UID, key workerKey, c *corev1.Container, fieldPath string, spec *corev1.Probe, info ContainerInfo, probeAtStart bool) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{
		m:           m,
		podUID:      podUID,
		key:         key,
		containerID: info.ID,
		startedAt:   info.StartedAt,
		container:   c,
		fieldPath:   fieldPath,
		spec:        *spec,
		ctx:         ctx,
		cancel:      cancel,
		trigger:     make(chan struct{}, 1),

		probeAtStart: probeAtStart,
	}
	if w.spec.PeriodSeconds < 1 {
		w.spec.PeriodSeconds = defaultPeriodSeconds
	}
	if w.spec.TimeoutSeconds < 1 {
		w.spec.TimeoutSeconds = defaultTimeoutSeconds
	}
	if w.spec.SuccessThreshold < 1 || key.kind != Readiness {
		// API validation allows only 1 for liveness and startup.
		w.spec.SuccessThreshold = defaultSuccessThreshold
	}
	if w.spec.FailureThreshold < 1 {
		w.spec.FailureThreshold = defaultFailureThreshold
	}
	switch key.kind {
	case Readiness:
		w.result = Failure
	case Liveness:
		w.result = Success
	case Startup:
		w.result = Unknown
	}
	return w
}

func (w *worker) stop() { w.cancel() }

// run probes at start and on every period tick until stopped.
func (w *worker) run() {
	defer w.m.wg.Done()
	defer w.cancel()
	period := time.Duration(w.spec.PeriodSeconds) * time.Second
	ticker := w.m.clock.NewTicker(period)
	defer func() { ticker.Stop() }()
	for first := true; ; first = false {
		if !first || w.probeAtStart {
			w.doProbe()
		}
		if w.onHold {
			// Nothing more to learn about this container instance; a
			// restarted container gets a new worker.
			<-w.ctx.Done()
			return
		}
		select {
		case <-w.ctx.Done():
			return
		case <-ticker.C():
		case <-w.trigger:
			// As the kubelet: a manual run restarts the period from now.
			ticker.Stop()
			ticker = w.m.clock.NewTicker(period)
		}
	}
}

// doProbe probes once if the timing rules allow it and records the result.
func (w *worker) doProbe() {
	if w.ctx.Err() != nil {
		return
	}
	m := w.m
	m.mu.Lock()
	pp := m.pods[w.podUID]
	if pp == nil || pp.workers[w.key] != w {
		m.mu.Unlock()
		return
	}
	pod, podIP := pp.pod, pp.podIP
	started := pp.startedLocked(w.key.container, w.containerID)
	m.mu.Unlock()

	if pod.DeletionTimestamp != nil && w.key.kind != Readiness {
		// A terminating pod is not restarted for failing probes (kubelet
		// worker.go): report healthy and stop.
		w.set(Success, "")
		w.onHold = true
		return
	}
	if int32(m.clock.Since(w.startedAt).Seconds()) < w.spec.InitialDelaySeconds {
		return
	}
	if w.key.kind == Startup {
		if started {
			return
		}
	} else if !started {
		// Liveness and readiness wait for the startup probe.
		return
	}

	var (
		out    outcome
		output string
		err    error
	)
	for range maxProbeRetries {
		out, output, err = m.prober.probe(w.ctx, &w.spec, w.container, w.containerID, podIP)
		if err == nil || w.ctx.Err() != nil {
			break
		}
	}
	if w.ctx.Err() != nil {
		// Stopped mid-probe: the result describes a container we no
		// longer watch.
		return
	}

	var result Result
	switch {
	case err != nil:
		w.event(pod, ReasonUnhealthy, fmt.Sprintf("%s probe errored and resulted in unknown state: %s", w.key.kind, err))
		m.log.Debug("probe errored", w.logAttrs(pod, "error", err)...)
		return // thrown away: it says nothing about the container
	case out == outcomeWarning:
		w.event(pod, ReasonProbeWarning, fmt.Sprintf("%s probe warning: %s", w.key.kind, output))
		result = Success
	case out == outcomeSuccess:
		result = Success
	default:
		output = fmt.Sprintf("%s probe failed: %s", w.key.kind, output)
		w.event(pod, ReasonUnhealthy, output)
		m.log.Debug("probe failed", w.logAttrs(pod, "message", output)...)
		result = Failure
	}

	if w.lastResult == result {
		w.resultRun++
	} else {
		w.lastResult, w.resultRun = result, 1
	}
	if (result == Failure && w.resultRun < int(w.spec.FailureThreshold)) ||
		(result == Success && w.resultRun < int(w.spec.SuccessThreshold)) {
		return // below threshold: the result stands
	}
	msg := ""
	if result == Failure {
		msg = output
	}
	w.set(result, msg)

	if (w.key.kind == Liveness && result == Failure) || w.key.kind == Startup {
		// The container is to be restarted, or has started: stop probing
		// it (kubelet #21751: exec into a stopping container can corrupt
		// it; #117153: no extra startup probes).
		w.onHold = true
		w.resultRun = 0
	}
}

// set records a thresholded result and tells the agent if it changed.
func (w *worker) set(r Result, msg string) {
	m := w.m
	m.mu.Lock()
	defer m.mu.Unlock()
	pp := m.pods[w.podUID]
	if pp == nil || pp.workers[w.key] != w {
		return // stopped or superseded meanwhile
	}
	if r == Failure {
		// Keep the latest failure even when the result stays the same,
		// so the agent reports what is wrong now.
		w.message = msg
	}
	if w.result == r {
		return
	}
	w.result = r
	if r != Failure {
		w.message = ""
	}
	m.log.Info("probe result changed", w.logAttrs(pp.pod, "result", r.String(), "message", w.message)...)
	m.enqueueLocked(Update{
		PodUID:      w.podUID,
		Container:   w.key.container,
		ContainerID: w.containerID,
		Kind:        w.key.kind,
		Result:      r,
		Message:     w.message,
	})
	if w.key.kind == Startup && r == Success {
		// The kubelet probes readiness as soon as it sees the container
		// started, rather than a period later.
		if rw := pp.workers[workerKey{w.key.container, Readiness}]; rw != nil && rw.containerID == w.containerID {
			select {
			case rw.trigger <- struct{}{}:
			default:
			}
		}
	}
}

// event records a Warning about this container, if the agent wants events.
func (w *worker) event(pod *corev1.Pod, reason, msg string) {
	if w.m.recorder == nil {
		return
	}
	ref := &corev1.ObjectReference{
		Kind:            "Pod",
		APIVersion:      "v1",
		Namespace:       pod.Namespace,
		Name:            pod.Name,
		UID:             pod.UID,
		ResourceVersion: pod.ResourceVersion,
		FieldPath:       w.fieldPath,
	}
	w.m.recorder.Eventf(ref, corev1.EventTypeWarning, reason, "%s", msg)
}

func (w *worker) logAttrs(pod *corev1.Pod, kv ...any) []any {
	return append([]any{
		"pod", pod.Namespace + "/" + pod.Name,
		"container", w.key.container,
		"containerID", w.containerID,
		"probe", w.key.kind.String(),
	}, kv...)
}
