package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/skiff-dev/skiff/nodeagent/podstate"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// The kubelet's defaults: --streaming-connection-idle-timeout and the
// streaming library's stream creation timeout.
const (
	defaultIdleTimeout           = 4 * time.Hour
	defaultStreamCreationTimeout = remotecommand.DefaultStreamCreationTimeout
)

// Options configure a Server.
type Options struct {
	Runtime runtime.Runtime
	// Pod returns a pod bound to this node from the agent's view (its
	// informer), or an error if the agent does not know it.
	Pod func(namespace, name string) (*corev1.Pod, error)
	// Match returns the labels that select this agent's containers, plus
	// the given key/value pairs.
	Match  func(kv ...string) map[string]string
	Logger *slog.Logger
	// IdleTimeout closes a stream connection with no traffic (4 h).
	IdleTimeout time.Duration
	// StreamCreationTimeout bounds the wait for a client's streams (30 s).
	StreamCreationTimeout time.Duration
}

// Server serves exec, attach and port-forward for one agent.
type Server struct {
	rt                    runtime.Runtime
	pod                   func(namespace, name string) (*corev1.Pod, error)
	match                 func(kv ...string) map[string]string
	log                   *slog.Logger
	idleTimeout           time.Duration
	streamCreationTimeout time.Duration
}

// New returns a Server.
func New(o Options) *Server {
	s := &Server{
		rt: o.Runtime, pod: o.Pod, match: o.Match, log: o.Logger,
		idleTimeout: o.IdleTimeout, streamCreationTimeout: o.StreamCreationTimeout,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.idleTimeout == 0 {
		s.idleTimeout = defaultIdleTimeout
	}
	if s.streamCreationTimeout == 0 {
		s.streamCreationTimeout = defaultStreamCreationTimeout
	}
	return s
}

// Register adds the stream routes to mux, for GET and POST as the kubelet
// serves them (SPDY upgrades are POSTs, WebSocket upgrades GETs).
func (s *Server) Register(mux *http.ServeMux) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(m+" /exec/{namespace}/{pod}/{container}", s.serveExec)
		mux.HandleFunc(m+" /exec/{namespace}/{pod}/{uid}/{container}", s.serveExec)
		mux.HandleFunc(m+" /attach/{namespace}/{pod}/{container}", s.serveAttach)
		mux.HandleFunc(m+" /attach/{namespace}/{pod}/{uid}/{container}", s.serveAttach)
		mux.HandleFunc(m+" /portForward/{namespace}/{pod}", s.servePortForward)
		mux.HandleFunc(m+" /portForward/{namespace}/{pod}/{uid}", s.servePortForward)
	}
}

// target is what a stream request names.
type target struct {
	namespace, pod, uid, container string
}

func targetOf(r *http.Request) target {
	return target{namespace: r.PathValue("namespace"), pod: r.PathValue("pod"), uid: r.PathValue("uid"), container: r.PathValue("container")}
}

// requestError is an error answered before the upgrade, with the status
// code the kubelet uses for it.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

// writeError answers as the kubelet does before an upgrade: the message as
// plain text, which kubectl shows after "unable to upgrade connection: ".
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var re *requestError
	if errors.As(err, &re) {
		code = re.code
	}
	http.Error(w, err.Error(), code)
}

// checkPod fails unless the agent runs the pod (with the UID asked for).
func (s *Server) checkPod(t target) (*corev1.Pod, error) {
	pod, err := s.pod(t.namespace, t.pod)
	if err != nil || pod == nil || (t.uid != "" && string(pod.UID) != t.uid) {
		return nil, &requestError{code: http.StatusNotFound, msg: "pod does not exist"}
	}
	return pod, nil
}

// runningContainer returns the running instance of a pod's container.
func (s *Server) runningContainer(ctx context.Context, t target) (*runtime.Container, error) {
	match := s.match(runtime.LabelPodNamespace, t.namespace, runtime.LabelPodName, t.pod, runtime.LabelContainer, t.container)
	if t.uid != "" {
		match[runtime.LabelPodUID] = t.uid
	}
	cs, err := s.rt.ListContainers(ctx, match)
	if err != nil {
		return nil, err
	}
	c := newestRunning(cs, false)
	if c == nil {
		return nil, fmt.Errorf("container not found (%q)", t.container)
	}
	return c, nil
}

// runningSandbox returns the running sandbox of a pod.
func (s *Server) runningSandbox(ctx context.Context, t target) (*runtime.Container, error) {
	match := s.match(runtime.LabelPodNamespace, t.namespace, runtime.LabelPodName, t.pod, runtime.LabelKind, runtime.KindSandbox)
	if t.uid != "" {
		match[runtime.LabelPodUID] = t.uid
	}
	cs, err := s.rt.ListContainers(ctx, match)
	if err != nil {
		return nil, err
	}
	c := newestRunning(cs, true)
	if c == nil {
		// The kubelet's words, with its "name_namespace" pod full name.
		return nil, fmt.Errorf("pod not found (%q)", t.pod+"_"+t.namespace)
	}
	return c, nil
}

// newestRunning picks, among a pod's instances of one container (or its
// sandboxes), the running one of the newest generation. There is normally
// one; during a restart the old one may linger a moment.
func newestRunning(cs []runtime.Container, sandbox bool) *runtime.Container {
	var best *runtime.Container
	for i := range cs {
		c := &cs[i]
		if c.State != runtime.StateRunning || (c.Labels[runtime.LabelKind] == runtime.KindSandbox) != sandbox {
			continue
		}
		if best == nil || newer(c, best) {
			best = c
		}
	}
	return best
}

// newer orders instances by sandbox attempt, then restart count.
func newer(a, b *runtime.Container) bool {
	if aa, ba := podstate.Attempt(a), podstate.Attempt(b); aa != ba {
		return aa > ba
	}
	return podstate.RestartCount(a) > podstate.RestartCount(b)
}

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	t := targetOf(r)
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		writeError(w, &requestError{code: http.StatusBadRequest, msg: err.Error()})
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		writeError(w, &requestError{code: http.StatusBadRequest, msg: "you must specify a command to run in the container"})
		return
	}
	if _, err := s.checkPod(t); err != nil {
		writeError(w, err)
		return
	}
	c, err := s.runningContainer(r.Context(), t)
	if err != nil {
		writeError(w, err)
		return
	}
	w, r, done := watchClient(w, r)
	defer done()
	s.log.Debug("exec", "pod", t.namespace+"/"+t.pod, "container", t.container, "tty", opts.TTY)
	remotecommand.ServeExec(w, r, &execInContainer{rt: s.rt, id: c.ID, log: s.log}, t.pod, t.uid, t.container, cmd, opts,
		s.idleTimeout, s.streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	t := targetOf(r)
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		writeError(w, &requestError{code: http.StatusBadRequest, msg: err.Error()})
		return
	}
	if _, err := s.checkPod(t); err != nil {
		writeError(w, err)
		return
	}
	c, err := s.runningContainer(r.Context(), t)
	if err != nil {
		writeError(w, err)
		return
	}
	w, r, done := watchClient(w, r)
	defer done()
	s.log.Debug("attach", "pod", t.namespace+"/"+t.pod, "container", t.container, "tty", opts.TTY)
	remotecommand.ServeAttach(w, r, &attachToContainer{rt: s.rt, id: c.ID}, t.pod, t.uid, t.container, opts,
		s.idleTimeout, s.streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	t := targetOf(r)
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		writeError(w, &requestError{code: http.StatusBadRequest, msg: err.Error()})
		return
	}
	if _, err := s.checkPod(t); err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.runningSandbox(r.Context(), t); err != nil {
		writeError(w, err)
		return
	}
	w, r, done := watchClient(w, r)
	defer done()
	s.log.Debug("port-forward", "pod", t.namespace+"/"+t.pod)
	portforward.ServePortForward(w, r, &forwardToPod{server: s, target: t, ctx: r.Context()}, t.pod, t.uid, opts,
		s.idleTimeout, s.streamCreationTimeout, portforward.SupportedProtocols)
}
