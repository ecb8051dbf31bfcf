package prober

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// outcome is what one probe attempt found, before thresholds.
type outcome int

const (
	outcomeSuccess outcome = iota
	// outcomeWarning is a success worth an event: an HTTP redirect to
	// another host was not followed.
	outcomeWarning
	outcomeFailure
)

// Handler errors that are no fault of the container: the worker retries
// them and then throws the result away instead of counting a failure.
var (
	errNoPodIP   = errors.New("pod has no IP address yet")
	errNoHandler = errors.New("probe has no handler (exec, httpGet, tcpSocket or grpc)")
)

// prober runs single probe attempts; it holds no per-container state.
type prober struct {
	rt        runtime.Runtime
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	transport *http.Transport
	userAgent string
}

func newProber(rt runtime.Runtime, dial func(ctx context.Context, network, addr string) (net.Conn, error), userAgent string) *prober {
	if dial == nil {
		dial = probeDialer().DialContext
	}
	return &prober{rt: rt, dial: dial, transport: newTransport(dial), userAgent: userAgent}
}

// probe runs the handler of spec once against one container instance. A
// non-nil error means the attempt could not be made; the output is the
// kubelet's text for the outcome (the failure reason, or a body).
func (p *prober) probe(ctx context.Context, spec *corev1.Probe, c *corev1.Container, containerID, podIP string) (outcome, string, error) {
	timeout := time.Duration(spec.TimeoutSeconds) * time.Second
	switch {
	case spec.Exec != nil:
		// As the kubelet: $(VAR) expands from the container's literal env
		// only; the probe does not see valueFrom or the downward API.
		return p.exec(ctx, containerID, expandCommand(spec.Exec.Command, c.Env), timeout)
	case spec.HTTPGet != nil:
		return p.httpGet(ctx, spec.HTTPGet, c, podIP, timeout)
	case spec.TCPSocket != nil:
		return p.tcpSocket(ctx, spec.TCPSocket, c, podIP, timeout)
	case spec.GRPC != nil:
		return p.grpc(ctx, spec.GRPC, podIP, timeout)
	}
	return outcomeFailure, "", errNoHandler
}
