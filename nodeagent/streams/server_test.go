package streams

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	clientexec "k8s.io/client-go/util/exec"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

func TestNewestRunning(t *testing.T) {
	c := func(id string, kind runtime.State, sandbox bool, attempt, restarts string) runtime.Container {
		l := map[string]string{runtime.LabelRestartCount: restarts, runtime.LabelSandboxAttempt: attempt, runtime.LabelKind: runtime.KindApp}
		if sandbox {
			l = map[string]string{runtime.LabelRestartCount: attempt, runtime.LabelKind: runtime.KindSandbox}
		}
		return runtime.Container{ID: id, State: kind, Labels: l}
	}
	cases := []struct {
		name    string
		cs      []runtime.Container
		sandbox bool
		want    string
	}{
		{"none", nil, false, ""},
		{"only exited", []runtime.Container{c("a", runtime.StateExited, false, "0", "0")}, false, ""},
		{"the running one", []runtime.Container{c("a", runtime.StateExited, false, "0", "1"), c("b", runtime.StateRunning, false, "0", "0")}, false, "b"},
		{"newest restart", []runtime.Container{c("a", runtime.StateRunning, false, "0", "1"), c("b", runtime.StateRunning, false, "0", "2")}, false, "b"},
		{"newest sandbox attempt first", []runtime.Container{c("a", runtime.StateRunning, false, "0", "5"), c("b", runtime.StateRunning, false, "1", "0")}, false, "b"},
		{"sandboxes are not containers", []runtime.Container{c("s", runtime.StateRunning, true, "0", "")}, false, ""},
		{"newest running sandbox", []runtime.Container{c("s0", runtime.StateRunning, true, "0", ""), c("s1", runtime.StateRunning, true, "1", ""),
			c("s2", runtime.StateExited, true, "2", ""), c("a", runtime.StateRunning, false, "3", "0")}, true, "s1"},
	}
	for _, tc := range cases {
		got := newestRunning(tc.cs, tc.sandbox)
		if (got == nil && tc.want != "") || (got != nil && got.ID != tc.want) {
			t.Errorf("%s: got %+v, want %q", tc.name, got, tc.want)
		}
	}
}

// fakeAgent serves the stream routes over a fake runtime with one running
// pod "web" (UID u1) with container "app", and one pod "stopped" whose
// container has exited.
type fakeAgent struct {
	srv    *httptest.Server
	rt     *runtime.Fake
	config *rest.Config
	appID  string
}

func newFakeAgent(t *testing.T) *fakeAgent {
	t.Helper()
	ctx := context.Background()
	rt := runtime.NewFake(runtime.FakeOptions{NodeName: "n1"})
	if _, err := rt.EnsureNetwork(ctx, "skiff", "10.244.0.0/16"); err != nil {
		t.Fatal(err)
	}
	pods := map[string]*corev1.Pod{}
	start := func(name, uid string, run bool) string {
		labels := map[string]string{runtime.LabelPodNamespace: "default", runtime.LabelPodName: name, runtime.LabelPodUID: uid}
		sb, _, err := rt.RunSandbox(ctx, runtime.SandboxConfig{Name: name + "-sb", Labels: labels, Network: "skiff"})
		if err != nil {
			t.Fatal(err)
		}
		cl := map[string]string{runtime.LabelContainer: "app", runtime.LabelKind: runtime.KindApp}
		for k, v := range labels {
			cl[k] = v
		}
		id, err := rt.CreateContainer(ctx, runtime.ContainerConfig{Name: name + "-app", Labels: cl, Image: "busybox:local", SandboxID: sb})
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
		if !run {
			if err := rt.Exit(id, 0); err != nil {
				t.Fatal(err)
			}
		}
		pods[name] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid)}}
		return id
	}
	appID := start("web", "u1", true)
	start("stopped", "u2", false)
	s := New(Options{
		Runtime: rt,
		Pod: func(ns, name string) (*corev1.Pod, error) {
			if p, ok := pods[name]; ok && ns == "default" {
				return p, nil
			}
			return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
		},
		Match: func(kv ...string) map[string]string {
			m := map[string]string{runtime.LabelManaged: "true", runtime.LabelNode: "n1"}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		},
		StreamCreationTimeout: 5 * time.Second,
	})
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fakeAgent{srv: srv, rt: rt, config: &rest.Config{Host: srv.URL}, appID: appID}
}

func (a *fakeAgent) exec(t *testing.T, path string, q url.Values, opts remotecommand.StreamOptions) error {
	t.Helper()
	u, _ := url.Parse(a.srv.URL + path)
	u.RawQuery = q.Encode()
	e, err := remotecommand.NewSPDYExecutor(a.config, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return e.StreamWithContext(ctx, opts)
}

func TestExecThroughTheKubeletProtocol(t *testing.T) {
	a := newFakeAgent(t)
	var out bytes.Buffer
	err := a.exec(t, "/exec/default/web/u1/app", url.Values{"command": {"echo", "hello", "world"}, "output": {"1"}}, remotecommand.StreamOptions{Stdout: &out})
	if err != nil || out.String() != "hello world\n" {
		t.Errorf("echo: %q, %v", out.String(), err)
	}
	// The path without a UID, as the kubelet also serves it.
	out.Reset()
	input := strings.Repeat("abc\n", 10_000)
	err = a.exec(t, "/exec/default/web/app", url.Values{"command": {"cat"}, "input": {"1"}, "output": {"1"}},
		remotecommand.StreamOptions{Stdin: strings.NewReader(input), Stdout: &out})
	if err != nil || out.String() != input {
		t.Errorf("cat: %d bytes of %d, %v", out.Len(), len(input), err)
	}
	// A non-zero exit code comes back as the client's exit error.
	err = a.exec(t, "/exec/default/web/u1/app", url.Values{"command": {"false"}, "output": {"1"}}, remotecommand.StreamOptions{Stdout: &out})
	var ce clientexec.CodeExitError
	if !errors.As(err, &ce) || ce.Code != 1 {
		t.Errorf("false: %v, want exit code 1", err)
	}
	// The fake refuses what it cannot simulate, through the error stream.
	err = a.exec(t, "/exec/default/web/u1/app", url.Values{"command": {"ls", "/"}, "output": {"1"}}, remotecommand.StreamOptions{Stdout: &out})
	if err == nil || !strings.Contains(err.Error(), `command "ls" is not supported by the fake runtime`) {
		t.Errorf("ls: %v", err)
	}
}

// Refusals before the upgrade carry the kubelet's status codes and words;
// client-go shows them after "unable to upgrade connection: ".
func TestStreamRefusals(t *testing.T) {
	a := newFakeAgent(t)
	out := remotecommand.StreamOptions{Stdout: &bytes.Buffer{}}
	cases := []struct {
		path string
		q    url.Values
		want string
	}{
		{"/exec/default/nope/u9/app", url.Values{"command": {"true"}, "output": {"1"}}, "pod does not exist"},
		{"/exec/default/web/wrong-uid/app", url.Values{"command": {"true"}, "output": {"1"}}, "pod does not exist"},
		{"/exec/default/web/u1/other", url.Values{"command": {"true"}, "output": {"1"}}, `container not found ("other")`},
		{"/exec/default/stopped/u2/app", url.Values{"command": {"true"}, "output": {"1"}}, `container not found ("app")`},
		{"/exec/default/web/u1/app", url.Values{"command": {"true"}}, "you must specify at least 1 of stdin, stdout, stderr"},
		{"/exec/default/web/u1/app", url.Values{"output": {"1"}}, "you must specify a command to run in the container"},
		{"/attach/default/stopped/u2/app", url.Values{"output": {"1"}}, `container not found ("app")`},
	}
	for _, c := range cases {
		err := a.exec(t, c.path, c.q, out)
		if want := "unable to upgrade connection: " + c.want; err == nil || err.Error() != want {
			t.Errorf("%s?%s: %v, want %q", c.path, c.q.Encode(), err, want)
		}
	}
	// Attach to the fake's container is refused in the session, clearly.
	err := a.exec(t, "/attach/default/web/u1/app", url.Values{"output": {"1"}}, out)
	if err == nil || !strings.Contains(err.Error(), "a container of the fake runtime runs no process") {
		t.Errorf("attach: %v", err)
	}
}
