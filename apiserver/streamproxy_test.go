package apiserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	clientspdy "k8s.io/client-go/transport/spdy"
	clientexec "k8s.io/client-go/util/exec"
	crifwd "k8s.io/cri-streaming/pkg/streaming/portforward"
	crirc "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// scriptedExecutor stands in for a container behind the kubelet's
// streaming library, which the node agent serves with.
type scriptedExecutor struct{}

func (scriptedExecutor) ExecInContainer(_ context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser,
	_ bool, resize <-chan crirc.TerminalSize, _ time.Duration) error {
	switch cmd[0] {
	case "echo":
		_, err := io.WriteString(out, strings.Join(cmd[1:], " ")+"\n")
		return err
	case "cat":
		_, err := io.Copy(out, in)
		return err
	case "fail":
		_, _ = io.WriteString(errOut, "failing\n")
		var code int
		_, _ = fmt.Sscan(cmd[1], &code)
		return utilexec.CodeExitError{Err: errors.New("failed"), Code: code}
	case "size":
		s := <-resize
		_, err := fmt.Fprintf(out, "%d %d\n", s.Height, s.Width)
		return err
	}
	return fmt.Errorf("unknown command %q", cmd[0])
}

// echoForwarder answers every forwarded connection with what it received.
type echoForwarder struct{}

func (echoForwarder) PortForward(_ context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	b, err := io.ReadAll(stream)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stream, "%d:%s", port, bytes.ToUpper(b))
	return err
}

// streamFixture is an agent serving streams with the kubelet's library
// over TLS, and an API server front that proxies to it with streamProxy.
type streamFixture struct {
	agent, front *httptest.Server
	config       *rest.Config
}

func newStreamFixture(t *testing.T) *streamFixture {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/exec/{ns}/{pod}/{uid}/{container}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("container") == "missing" {
			http.Error(w, `container not found ("missing")`, http.StatusInternalServerError)
			return
		}
		opts, err := crirc.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		crirc.ServeExec(w, r, scriptedExecutor{}, r.PathValue("pod"), "", r.PathValue("container"), r.URL.Query()["command"], opts,
			time.Minute, 10*time.Second, crirc.SupportedStreamingProtocols)
	})
	mux.HandleFunc("/portForward/{ns}/{pod}/{uid}", func(w http.ResponseWriter, r *http.Request) {
		opts, err := crifwd.NewV4Options(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		crifwd.ServePortForward(w, r, echoForwarder{}, r.PathValue("pod"), "", opts, time.Minute, 10*time.Second, crifwd.SupportedProtocols)
	})
	agent := httptest.NewTLSServer(mux)
	t.Cleanup(agent.Close)
	agentURL, _ := url.Parse(agent.URL)
	p := &streamProxy{tls: &tls.Config{RootCAs: agent.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, NextProtos: []string{"http/1.1"}},
		log: slog.New(slog.DiscardHandler)}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		sub := parts[len(parts)-1]
		sr, err := parseStreamRequest(sub, r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := p.serve(&statusRecorder{ResponseWriter: w}, r, agentStreamURL(agentURL, sr, pod, sr.container), sr); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(front.Close)
	return &streamFixture{agent: agent, front: front, config: &rest.Config{Host: front.URL}}
}

func (f *streamFixture) url(sub string, q url.Values) *url.URL {
	u, _ := url.Parse(f.front.URL + "/api/v1/namespaces/default/pods/web/" + sub)
	u.RawQuery = q.Encode()
	return u
}

// executors are the two ways kubectl runs exec: SPDY (relayed to the
// agent) and WebSocket v5 (translated to SPDY by the proxy).
func (f *streamFixture) executors(t *testing.T, u *url.URL) map[string]remotecommand.Executor {
	t.Helper()
	spdyExec, err := remotecommand.NewSPDYExecutor(f.config, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	wsExec, err := remotecommand.NewWebSocketExecutor(f.config, "GET", u.String())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]remotecommand.Executor{"spdy": spdyExec, "websocket": wsExec}
}

type fixedSize struct{ sent bool }

func (s *fixedSize) Next() *remotecommand.TerminalSize {
	if s.sent {
		select {} // no further resizes; the session ends first
	}
	s.sent = true
	return &remotecommand.TerminalSize{Width: 91, Height: 17}
}

func TestStreamProxyExec(t *testing.T) {
	f := newStreamFixture(t)
	q := func(kv ...string) url.Values {
		v := url.Values{"container": {"c"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, e := range f.executors(t, f.url("exec", q("command", "echo", "command", "hi there", "stdout", "true", "stderr", "true"))) {
		var out, errOut bytes.Buffer
		if err := e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut}); err != nil || out.String() != "hi there\n" {
			t.Errorf("%s echo: %q, %v", name, out.String(), err)
		}
	}
	for name, e := range f.executors(t, f.url("exec", q("command", "fail", "command", "7", "stdout", "true", "stderr", "true"))) {
		var out, errOut bytes.Buffer
		err := e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
		var ce clientexec.CodeExitError
		if !errors.As(err, &ce) || ce.Code != 7 || errOut.String() != "failing\n" {
			t.Errorf("%s exit 7: error %v, stderr %q", name, err, errOut.String())
		}
	}
	// stdin reaches the process, and its end ends cat.
	input := strings.Repeat("0123456789", 50_000)
	for name, e := range f.executors(t, f.url("exec", q("command", "cat", "stdin", "true", "stdout", "true"))) {
		var out bytes.Buffer
		if err := e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader(input), Stdout: &out}); err != nil || out.String() != input {
			t.Errorf("%s cat: %d bytes back of %d, %v", name, out.Len(), len(input), err)
		}
	}
	// A terminal size reaches the process.
	for name, e := range f.executors(t, f.url("exec", q("command", "size", "stdin", "true", "stdout", "true", "tty", "true"))) {
		var out bytes.Buffer
		err := e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader(""), Stdout: &out, Tty: true, TerminalSizeQueue: &fixedSize{}})
		if err != nil || out.String() != "17 91\n" {
			t.Errorf("%s resize: %q, %v", name, out.String(), err)
		}
	}
}

// An agent's refusal reaches the client with the agent's words, before or
// after the WebSocket is opened (as with kube-apiserver and a kubelet).
func TestStreamProxyAgentRefusal(t *testing.T) {
	f := newStreamFixture(t)
	u := f.url("exec", url.Values{"container": {"missing"}, "command": {"ls"}, "stdout": {"true"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string]string{
		"spdy":      `unable to upgrade connection: container not found ("missing")`,
		"websocket": `Internal error occurred: unable to upgrade connection: container not found ("missing")`,
	}
	for name, e := range f.executors(t, u) {
		err := e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
		if err == nil || err.Error() != want[name] {
			t.Errorf("%s: error %v, want %q", name, err, want[name])
		}
	}
}

func TestStreamProxyPortForward(t *testing.T) {
	f := newStreamFixture(t)
	u := f.url("portforward", nil)
	transport, upgrader, err := clientspdy.RoundTripperFor(f.config)
	if err != nil {
		t.Fatal(err)
	}
	tunnel, err := portforward.NewSPDYOverWebsocketDialer(u, f.config)
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]func() (*portforward.PortForwarder, chan struct{}, error){
		"spdy": func() (*portforward.PortForwarder, chan struct{}, error) {
			stop, ready := make(chan struct{}), make(chan struct{})
			pf, err := portforward.New(clientspdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", u), []string{"0:8080"}, stop, ready, io.Discard, io.Discard)
			return pf, stop, err
		},
		"websocket tunnel": func() (*portforward.PortForwarder, chan struct{}, error) {
			stop, ready := make(chan struct{}), make(chan struct{})
			pf, err := portforward.New(tunnel, []string{"0:8080"}, stop, ready, io.Discard, io.Discard)
			return pf, stop, err
		},
	} {
		pf, stop, err := d()
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- pf.ForwardPorts() }()
		var ports []portforward.ForwardedPort
		deadline := time.Now().Add(10 * time.Second)
		for len(ports) == 0 && time.Now().Before(deadline) {
			ports, _ = pf.GetPorts()
			time.Sleep(20 * time.Millisecond)
		}
		if len(ports) == 0 {
			t.Fatalf("%s: no local port", name)
		}
		for i := 0; i < 3; i++ {
			got, err := roundTrip(fmt.Sprintf("127.0.0.1:%d", ports[0].Local), fmt.Sprintf("hello %d", i))
			if want := fmt.Sprintf("8080:HELLO %d", i); err != nil || got != want {
				t.Errorf("%s connection %d: %q, %v; want %q", name, i, got, err, want)
			}
		}
		close(stop)
		if err := <-errc; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// roundTrip sends msg, half-closes, and reads the whole answer.
func roundTrip(addr, msg string) (string, error) {
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	_ = c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}
