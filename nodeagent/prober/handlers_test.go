package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	testclock "k8s.io/utils/clock/testing"

	skiffruntime "github.com/skiff-dev/skiff/nodeagent/runtime"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func mustPort(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// closedPort returns a local port nothing listens on.
func closedPort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := mustPort(t, l.Addr().String())
	_ = l.Close()
	return p
}

func TestHTTPGetProbe(t *testing.T) {
	var seen http.Header
	var seenHost, seenURI string
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		seen, seenHost, seenURI = r.Header.Clone(), r.Host, r.RequestURI
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		if code == 0 {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("body-" + strconv.Itoa(code)))
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/?code=203", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		// Same server, other host name: not followed.
		u := *r.URL
		u.Scheme, u.Host, u.Path, u.RawQuery = "http", "localhost:"+strings.Split(r.Host, ":")[1], "/", "code=500"
		w.Header().Set("Location", u.String())
		w.WriteHeader(http.StatusMovedPermanently)
		_, _ = w.Write([]byte("see elsewhere"))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	port := mustPort(t, srv.Listener.Addr().String())
	closed := closedPort(t)

	container := &corev1.Container{Name: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}}}
	tests := []struct {
		name        string
		action      corev1.HTTPGetAction
		podIP       string
		want        outcome
		wantOutput  string // exact, unless suffix
		suffix      bool
		wantErr     bool
		wantHeaders map[string]string // "" means absent
		wantHost    string
		wantURI     string
	}{{
		name:        "200 by number, default headers",
		action:      corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port)},
		want:        outcomeSuccess,
		wantOutput:  "body-200",
		wantHeaders: map[string]string{"User-Agent": "kube-probe/1.33", "Accept": "*/*", "Accept-Encoding": ""},
		wantURI:     "/healthz",
	}, {
		name:       "named port, query kept",
		action:     corev1.HTTPGetAction{Path: "/?code=299", Port: intstr.FromString("http")},
		want:       outcomeSuccess,
		wantOutput: "body-299",
		wantURI:    "/?code=299",
	}, {
		name:       "a 3xx without a redirect to follow is a success with a warning",
		action:     corev1.HTTPGetAction{Path: "/?code=399", Port: intstr.FromString("http")},
		want:       outcomeWarning,
		wantOutput: "Probe terminated redirects, Response body: body-399",
	}, {
		name:       "500 fails without the body",
		action:     corev1.HTTPGetAction{Path: "/?code=500", Port: intstr.FromString("http")},
		want:       outcomeFailure,
		wantOutput: "HTTP probe failed with statuscode: 500",
	}, {
		name:       "400 fails",
		action:     corev1.HTTPGetAction{Path: "/?code=400", Port: intstr.FromInt32(port)},
		want:       outcomeFailure,
		wantOutput: "HTTP probe failed with statuscode: 400",
	}, {
		name: "custom headers; User-Agent and Host overridden; empty Accept dropped",
		action: corev1.HTTPGetAction{Port: intstr.FromInt32(port), HTTPHeaders: []corev1.HTTPHeader{
			{Name: "X-Probe", Value: "a"}, {Name: "x-probe", Value: "b"},
			{Name: "user-agent", Value: "mine"}, {Name: "Host", Value: "example.test"}, {Name: "Accept", Value: ""},
		}},
		want:        outcomeSuccess,
		wantOutput:  "body-200",
		wantHeaders: map[string]string{"X-Probe": "a,b", "User-Agent": "mine", "Accept": ""},
		wantHost:    "example.test",
		wantURI:     "/",
	}, {
		name:       "redirect on the same host is followed",
		action:     corev1.HTTPGetAction{Path: "/moved", Port: intstr.FromInt32(port)},
		want:       outcomeSuccess,
		wantOutput: "body-203",
		wantURI:    "/?code=203",
	}, {
		name:       "redirect to another host is not followed: success with a warning",
		action:     corev1.HTTPGetAction{Path: "/elsewhere", Port: intstr.FromInt32(port)},
		want:       outcomeWarning,
		wantOutput: "Probe terminated redirects, Response body: see elsewhere",
	}, {
		name:       "redirect loop stops after 10",
		action:     corev1.HTTPGetAction{Path: "/loop", Port: intstr.FromInt32(port)},
		want:       outcomeFailure,
		wantOutput: `/loop": stopped after 10 redirects`,
		suffix:     true,
	}, {
		name:       "host field instead of the pod IP",
		action:     corev1.HTTPGetAction{Host: "127.0.0.1", Port: intstr.FromInt32(port)},
		podIP:      "192.0.2.1", // would time out
		want:       outcomeSuccess,
		wantOutput: "body-200",
	}, {
		name:       "connection refused",
		action:     corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(closed)},
		want:       outcomeFailure,
		wantOutput: fmt.Sprintf(`Get "http://127.0.0.1:%d/healthz": dial tcp 127.0.0.1:%d: connect: connection refused`, closed, closed),
	}, {
		name:       "unknown port name is a readable failure",
		action:     corev1.HTTPGetAction{Port: intstr.FromString("metrics")},
		want:       outcomeFailure,
		wantOutput: `port "metrics" is not a port number nor the name of a port of container "web"`,
	}, {
		name:       "port number out of range",
		action:     corev1.HTTPGetAction{Port: intstr.FromInt32(70000)},
		want:       outcomeFailure,
		wantOutput: "invalid port number: 70000",
	}, {
		name:    "no pod IP yet is an error, not the container's failure",
		action:  corev1.HTTPGetAction{Port: intstr.FromInt32(port)},
		podIP:   "-",
		wantErr: true,
	}}
	p := newProber(nil, nil, DefaultUserAgent)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen, seenHost, seenURI = nil, "", ""
			podIP := tc.podIP
			switch podIP {
			case "":
				podIP = "127.0.0.1"
			case "-":
				podIP = ""
			}
			got, out, err := p.httpGet(context.Background(), &tc.action, container, podIP, 5*time.Second)
			if tc.wantErr {
				if !errors.Is(err, errNoPodIP) {
					t.Fatalf("err %v, want errNoPodIP", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.suffix {
				if !strings.HasSuffix(out, tc.wantOutput) {
					t.Errorf("output %q, want …%q", out, tc.wantOutput)
				}
			} else if out != tc.wantOutput {
				t.Errorf("output %q, want %q", out, tc.wantOutput)
			}
			if got != tc.want {
				t.Errorf("outcome %d, want %d", got, tc.want)
			}
			for k, v := range tc.wantHeaders {
				if g := strings.Join(seen.Values(k), ","); g != v {
					t.Errorf("header %s = %q, want %q", k, g, v)
				}
			}
			if tc.wantHost != "" && seenHost != tc.wantHost {
				t.Errorf("Host %q, want %q", seenHost, tc.wantHost)
			}
			if tc.wantURI != "" && seenURI != tc.wantURI {
				t.Errorf("request URI %q, want %q", seenURI, tc.wantURI)
			}
		})
	}
}

// HTTPS probes do not verify the pod's certificate.
func TestHTTPGetHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	port := mustPort(t, srv.Listener.Addr().String())
	p := newProber(nil, nil, DefaultUserAgent)
	got, out, err := p.httpGet(context.Background(), &corev1.HTTPGetAction{Scheme: corev1.URISchemeHTTPS, Port: intstr.FromInt32(port)},
		&corev1.Container{}, "127.0.0.1", 5*time.Second)
	if err != nil || got != outcomeSuccess {
		t.Fatalf("outcome %d %q %v, want success", got, out, err)
	}
}

// timeoutSeconds bounds a request to a pod that never answers.
func TestHTTPGetTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	port := mustPort(t, srv.Listener.Addr().String())
	p := newProber(nil, nil, DefaultUserAgent)
	got, out, err := p.httpGet(context.Background(), &corev1.HTTPGetAction{Port: intstr.FromInt32(port)},
		&corev1.Container{}, "127.0.0.1", 50*time.Millisecond)
	if err != nil || got != outcomeFailure || !strings.Contains(out, "Client.Timeout exceeded") {
		t.Fatalf("outcome %d %q %v, want a timeout failure", got, out, err)
	}
}

// A body that never ends does not hold the probe: at most 10 KiB is read.
func TestHTTPGetBodyIsCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 4096))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	port := mustPort(t, srv.Listener.Addr().String())
	p := newProber(nil, nil, DefaultUserAgent)
	got, out, err := p.httpGet(context.Background(), &corev1.HTTPGetAction{Port: intstr.FromInt32(port)},
		&corev1.Container{}, "127.0.0.1", 30*time.Second)
	if err != nil || got != outcomeSuccess || len(out) != maxResponseBody {
		t.Fatalf("outcome %d, %d bytes, %v; want success with %d bytes", got, len(out), err, maxResponseBody)
	}
}

func TestTCPSocketProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	open := mustPort(t, l.Addr().String())
	closed := closedPort(t)
	container := &corev1.Container{Name: "db", Ports: []corev1.ContainerPort{{Name: "sql", ContainerPort: open}}}
	p := newProber(nil, nil, DefaultUserAgent)
	tests := []struct {
		name   string
		action corev1.TCPSocketAction
		want   outcome
		output string
	}{
		{"open by number", corev1.TCPSocketAction{Port: intstr.FromInt32(open)}, outcomeSuccess, ""},
		{"open by name", corev1.TCPSocketAction{Port: intstr.FromString("sql")}, outcomeSuccess, ""},
		{"number written as a string", corev1.TCPSocketAction{Port: intstr.FromString(strconv.Itoa(int(open)))}, outcomeSuccess, ""},
		{"host field", corev1.TCPSocketAction{Host: "127.0.0.1", Port: intstr.FromInt32(open)}, outcomeSuccess, ""},
		{"refused", corev1.TCPSocketAction{Port: intstr.FromInt32(closed)}, outcomeFailure,
			fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", closed)},
		{"unknown name", corev1.TCPSocketAction{Port: intstr.FromString("redis")}, outcomeFailure,
			`port "redis" is not a port number nor the name of a port of container "db"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, out, err := p.tcpSocket(context.Background(), &tc.action, container, "127.0.0.1", 5*time.Second)
			if err != nil || got != tc.want || out != tc.output {
				t.Errorf("got %d %q %v, want %d %q", got, out, err, tc.want, tc.output)
			}
		})
	}
}

// timeoutSeconds bounds the dial; the dialer hook sees the deadline.
func TestTCPSocketTimeout(t *testing.T) {
	var left time.Duration
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d, _ := ctx.Deadline()
		left = time.Until(d)
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	p := newProber(nil, dial, DefaultUserAgent)
	got, out, err := p.tcpSocket(context.Background(), &corev1.TCPSocketAction{Port: intstr.FromInt32(80)},
		&corev1.Container{}, "10.0.0.5", 30*time.Millisecond)
	if err != nil || got != outcomeFailure || out != "dial tcp: context deadline exceeded" {
		t.Fatalf("got %d %q %v", got, out, err)
	}
	if left <= 0 || left > 30*time.Millisecond {
		t.Errorf("dial deadline %v away, want within 30ms", left)
	}
}

func TestExecProbe(t *testing.T) {
	rt := newFakeRuntime()
	rt.set("ok", execReply{output: "fine\n"})
	rt.set("bad", execReply{code: 2, output: "disk full\n"})
	rt.set("quiet", execReply{code: 1})
	rt.set("loud", execReply{code: 1, output: strings.Repeat("y", 3*maxExecOutput)})
	rt.set("hang", execReply{block: true})
	rt.set("broken", execReply{err: errEngine})
	p := newProber(rt, nil, DefaultUserAgent)
	tests := []struct {
		cmd     []string
		want    outcome
		output  string
		wantErr bool
	}{
		{[]string{"ok"}, outcomeSuccess, "fine\n", false},
		{[]string{"bad"}, outcomeFailure, "disk full\n", false},
		{[]string{"quiet"}, outcomeFailure, "", false},
		{[]string{"loud"}, outcomeFailure, strings.Repeat("y", maxExecOutput), false},
		{[]string{"hang", "-c", "sleep 100"}, outcomeFailure, `command "hang -c sleep 100" timed out`, false},
		{[]string{"broken"}, outcomeFailure, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.cmd[0], func(t *testing.T) {
			got, out, err := p.exec(context.Background(), "c1", tc.cmd, 20*time.Millisecond)
			if (err != nil) != tc.wantErr || got != tc.want || out != tc.output {
				t.Errorf("got %d %.40q %v, want %d %.40q (error %v)", got, out, err, tc.want, tc.output, tc.wantErr)
			}
		})
	}
	// Stopping the worker is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := p.exec(ctx, "c1", []string{"hang"}, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled exec: %v, want context.Canceled", err)
	}
}

// The exec command is expanded from the container's env, as the kubelet does.
func TestExecProbeExpandsEnv(t *testing.T) {
	rt := newFakeRuntime()
	var got []string
	rt.set("check", ok)
	p := newProber(execRecorder{rt, &got}, nil, DefaultUserAgent)
	spec := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
		Command: []string{"check", "--port=$(PORT)", "$(SECRET)", "$(NOPE)", "$$(PORT)"},
	}}}
	c := &corev1.Container{Env: []corev1.EnvVar{
		{Name: "PORT", Value: "8080"},
		{Name: "SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}},
	}}
	if out, _, err := p.probe(context.Background(), spec, c, "c1", ""); out != outcomeSuccess || err != nil {
		t.Fatalf("probe %d %v", out, err)
	}
	want := []string{"check", "--port=8080", "", "$(NOPE)", "$(PORT)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("command %q, want %q", got, want)
	}
}

type execRecorder struct {
	*fakeRuntime
	cmd *[]string
}

func (e execRecorder) Exec(ctx context.Context, id string, opts skiffruntime.ExecOptions) (int, error) {
	*e.cmd = opts.Cmd
	return e.fakeRuntime.Exec(ctx, id, opts)
}

func TestGRPCProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("up", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	bare, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	noHealth := grpc.NewServer()
	go func() { _ = noHealth.Serve(bare) }()
	defer noHealth.Stop()

	port, barePort, closed := mustPort(t, l.Addr().String()), mustPort(t, bare.Addr().String()), closedPort(t)
	str := func(s string) *string { return &s }
	tests := []struct {
		name   string
		action corev1.GRPCAction
		want   outcome
		output string // prefix
	}{
		{"whole server serving", corev1.GRPCAction{Port: port}, outcomeSuccess, "service healthy"},
		{"service serving", corev1.GRPCAction{Port: port, Service: str("up")}, outcomeSuccess, "service healthy"},
		{"service not serving", corev1.GRPCAction{Port: port, Service: str("down")}, outcomeFailure,
			`service unhealthy (responded with "NOT_SERVING")`},
		{"unknown service", corev1.GRPCAction{Port: port, Service: str("nope")}, outcomeFailure,
			"error: health rpc probe failed: rpc error: code = NotFound"},
		{"no health service", corev1.GRPCAction{Port: barePort}, outcomeFailure,
			"error: this server does not implement the grpc health protocol (grpc.health.v1.Health)"},
		{"refused", corev1.GRPCAction{Port: closed}, outcomeFailure, "error: health rpc probe failed: rpc error: code = Unavailable"},
		{"bad port", corev1.GRPCAction{Port: 0}, outcomeFailure, "invalid port number: 0"},
	}
	p := newProber(nil, nil, DefaultUserAgent)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, out, err := p.grpc(context.Background(), &tc.action, "127.0.0.1", 5*time.Second)
			if err != nil || got != tc.want || !strings.HasPrefix(out, tc.output) {
				t.Errorf("got %d %q %v, want %d %q…", got, out, err, tc.want, tc.output)
			}
		})
	}
}

func TestResolvePort(t *testing.T) {
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "9000", ContainerPort: 9001}}}
	tests := []struct {
		port    intstr.IntOrString
		want    int
		wantErr string
	}{
		{intstr.FromInt32(80), 80, ""},
		{intstr.FromString("http"), 8080, ""},
		{intstr.FromString("9000"), 9001, ""}, // a name wins over a number
		{intstr.FromString("443"), 443, ""},
		{intstr.FromString("grpc"), 0, `port "grpc" is not a port number nor the name of a port of container "app"`},
		{intstr.FromInt32(0), 0, "invalid port number: 0"},
		{intstr.FromString("65536"), 0, "invalid port number: 65536"},
	}
	for _, tc := range tests {
		got, err := resolvePort(tc.port, c)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
			t.Errorf("resolvePort(%v) = %d, %v; want %d, %q", tc.port.String(), got, err, tc.want, tc.wantErr)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "EMPTY": ""}
	tests := map[string]string{
		"":              "",
		"plain":         "plain",
		"$(A)":          "1",
		"x$(A)y$(A)":    "x1y1",
		"$(EMPTY)":      "",
		"$(B)":          "$(B)",
		"$$(A)":         "$(A)",
		"$$":            "$",
		"$":             "$",
		"a$":            "a$",
		"$A":            "$A",
		"$(A":           "$(A",
		"$(":            "$(",
		"100$ and $(A)": "100$ and 1",
	}
	for in, want := range tests {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// End to end over the network: a named-port HTTP readiness probe through
// the Manager, with the kubelet's event text.
func TestManagerHTTPReadiness(t *testing.T) {
	status := make(chan int, 1)
	status <- http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := <-status
		status <- code
		w.WriteHeader(code)
	}))
	defer srv.Close()
	su, _ := url.Parse(srv.URL)
	port := mustPort(t, su.Host)

	ev := &eventLog{notify: make(chan string, 10)}
	clk := testclock.NewFakeClock(t0)
	m := NewManager(nil, Options{Clock: clk, Recorder: ev})
	defer m.Close()
	pod := testPod(corev1.Container{
		Name:  "web",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
			PeriodSeconds: 10, FailureThreshold: 2,
		},
	})
	m.Sync(pod, "127.0.0.1", running("web", "c1", clk.Now()))
	if u := nextUpdate(t, m); u.Kind != Readiness || u.Result != Success {
		t.Fatalf("update %+v", u)
	}
	<-status
	status <- http.StatusServiceUnavailable
	for i := range 2 {
		clk.Step(10 * time.Second)
		select {
		case msg := <-ev.notify:
			if msg != "Readiness probe failed: HTTP probe failed with statuscode: 503" {
				t.Fatalf("event %q", msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event after tick %d", i+1)
		}
	}
	u := nextUpdate(t, m)
	if u.Result != Failure || u.Message != "Readiness probe failed: HTTP probe failed with statuscode: 503" {
		t.Fatalf("update %+v", u)
	}
	if ready, known := m.Ready(podUID, "web", "c1"); ready || !known {
		t.Errorf("Ready = %v, %v", ready, known)
	}
}

// nextUpdate waits for an update; the deadline only bounds a broken test.
func nextUpdate(t *testing.T, m *Manager) Update {
	t.Helper()
	select {
	case u := <-m.Updates():
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("no update")
	}
	return Update{}
}
