package nodeagent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/nodeagent/podstate"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
	"github.com/skiff-dev/skiff/nodeagent/streams"
)

// apiServerName is the identity (certificate CN) the agent accepts on its
// HTTPS endpoint: only the API server may read logs or open streams
// (exec, attach, port-forward; see nodeagent/streams).
const apiServerName = "skiff-apiserver"

func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", a.serveLogs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	streams.New(streams.Options{Runtime: a.rt, Match: a.match, Logger: a.log, Pod: a.podForStream}).Register(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != apiServerName {
			writeStatus(w, http.StatusForbidden, "Forbidden", "only the API server may call the node agent")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// podForStream looks a pod up in the agent's informer for exec, attach
// and port-forward; a pod the agent does not know is not run here.
func (a *Agent) podForStream(namespace, name string) (*corev1.Pod, error) {
	if a.pods == nil {
		return nil, fmt.Errorf("the agent has not listed its pods yet")
	}
	return a.pods.Pods(namespace).Get(name)
}

// writeStatus answers with a Kubernetes Status, which the API server
// passes through to the client.
func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	st := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: metav1.StatusReason(reason), Message: msg,
	}
	b, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// flushWriter flushes after every write so `kubectl logs -f` sees lines
// as they come.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	_ = f.rc.Flush()
	return n, err
}

// serveLogs serves a container's log with the PodLogOptions kubectl sends.
func (a *Agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, podName, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	q := r.URL.Query()
	match := a.match(runtime.LabelPodNamespace, ns, runtime.LabelPodName, podName, runtime.LabelContainer, container)
	if uid := q.Get("podUID"); uid != "" {
		match[runtime.LabelPodUID] = uid
	}
	cs, err := a.rt.ListContainers(r.Context(), match)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	// Newest first.
	var newest, previous *runtime.Container
	for i := range cs {
		c := &cs[i]
		switch {
		case newest == nil || podstate.RestartCount(c) > podstate.RestartCount(newest):
			previous, newest = newest, c
		case previous == nil || podstate.RestartCount(c) > podstate.RestartCount(previous):
			previous = c
		}
	}
	target := newest
	if q.Get("previous") == "true" {
		target = previous
		if target == nil {
			writeStatus(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("previous terminated container %q in pod %q not found", container, podName))
			return
		}
	}
	if target == nil {
		reason := "ContainerCreating"
		if p, err := a.pods.Pods(ns).Get(podName); err == nil {
			for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
				if s.Name == container && s.State.Waiting != nil && s.State.Waiting.Reason != "" {
					reason = s.State.Waiting.Reason
				}
			}
		}
		writeStatus(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, podName, reason))
		return
	}
	opts := runtime.LogOptions{Tail: -1, Follow: q.Get("follow") == "true", Timestamps: q.Get("timestamps") == "true"}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeStatus(w, http.StatusBadRequest, "BadRequest", "tailLines must be a non-negative integer")
			return
		}
		opts.Tail = n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			writeStatus(w, http.StatusBadRequest, "BadRequest", "limitBytes must be a positive integer")
			return
		}
		opts.LimitBytes = n
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			writeStatus(w, http.StatusBadRequest, "BadRequest", "sinceSeconds must be a positive integer")
			return
		}
		opts.Since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeStatus(w, http.StatusBadRequest, "BadRequest", "sinceTime must be RFC 3339")
			return
		}
		opts.Since = t
	}
	// A finished container's log is complete: following it would hang.
	if target.State != runtime.StateRunning {
		opts.Follow = false
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	if opts.Follow {
		// Stop following when the container ends.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go a.cancelWhenStopped(ctx, target.ID, cancel)
	}
	if err := a.rt.Logs(ctx, target.ID, opts, flushWriter{w: w, rc: http.NewResponseController(w)}); err != nil && ctx.Err() == nil {
		a.log.Debug("log stream ended", "container", target.Name, "err", err)
	}
}

func (a *Agent) cancelWhenStopped(ctx context.Context, id string, cancel context.CancelFunc) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		c, err := a.rt.InspectContainer(ctx, id)
		if err != nil || c.State != runtime.StateRunning {
			// Give the engine a moment to flush the last lines.
			time.Sleep(200 * time.Millisecond)
			cancel()
			return
		}
	}
}
