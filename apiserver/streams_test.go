package apiserver

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/exec"
)

func TestParseStreamRequest(t *testing.T) {
	cases := []struct {
		sub, query string
		want       streamRequest
		err        string
	}{
		// kubectl exec web -- ls /
		{sub: "exec", query: "command=ls&command=%2F&container=c&stderr=true&stdout=true",
			want: streamRequest{subresource: "exec", stdout: true, stderr: true, container: "c", command: []string{"ls", "/"}}},
		// kubectl exec -it: no stderr is sent
		{sub: "exec", query: "command=sh&stdin=true&stdout=true&tty=true",
			want: streamRequest{subresource: "exec", stdin: true, stdout: true, tty: true, command: []string{"sh"}}},
		// a terminal has no separate stderr, as the kubelet decides
		{sub: "exec", query: "command=sh&stdout=true&stderr=true&tty=true",
			want: streamRequest{subresource: "exec", stdout: true, tty: true, command: []string{"sh"}}},
		// the parameter codec's booleans: absent, "false" and "0" are false
		{sub: "attach", query: "stdin=1&stdout=False&stderr=0&tty=yes",
			want: streamRequest{subresource: "attach", stdin: true, tty: true}},
		{sub: "attach", query: "stdout=true", want: streamRequest{subresource: "attach", stdout: true}},
		{sub: "exec", query: "command=ls", err: "you must specify at least 1 of stdin, stdout, stderr"},
		{sub: "attach", query: "", err: "you must specify at least 1 of stdin, stdout, stderr"},
		{sub: "exec", query: "stdout=true", err: "you must specify a command to run in the container"},
		{sub: "portforward", query: "", want: streamRequest{subresource: "portforward"}},
		{sub: "portforward", query: "ports=80&ports=8080,9090",
			want: streamRequest{subresource: "portforward", ports: []int32{80, 8080, 9090}}},
		{sub: "portforward", query: "ports=0", err: `invalid port "0": must be a number between 1 and 65535`},
		{sub: "portforward", query: "ports=70000", err: `invalid port "70000": must be a number between 1 and 65535`},
		{sub: "portforward", query: "ports=http", err: `invalid port "http": must be a number between 1 and 65535`},
	}
	for _, c := range cases {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseStreamRequest(c.sub, q)
		if c.err != "" {
			if !apierrors.IsBadRequest(err) || err.Error() != c.err {
				t.Errorf("%s?%s: error %v, want BadRequest %q", c.sub, c.query, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s?%s: %v", c.sub, c.query, err)
			continue
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", c.want) {
			t.Errorf("%s?%s:\n got %+v\nwant %+v", c.sub, c.query, got, c.want)
		}
	}
}

func TestChooseContainer(t *testing.T) {
	pod := func(annotation string, init []string, names ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}}
		if annotation != "" {
			p.Annotations = map[string]string{defaultContainerAnnotation: annotation}
		}
		for _, n := range init {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n})
		}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	cases := []struct {
		name      string
		pod       *corev1.Pod
		requested string
		want, err string
	}{
		{"only container", pod("", nil, "app"), "", "app", ""},
		{"named container", pod("", nil, "app", "side"), "side", "side", ""},
		{"named init container", pod("", []string{"setup"}, "app"), "setup", "setup", ""},
		{"annotation picks", pod("side", nil, "app", "side"), "", "side", ""},
		{"annotation overridden by name", pod("side", nil, "app", "side"), "app", "app", ""},
		{"annotation naming no container is ignored", pod("gone", nil, "app"), "", "app", ""},
		{"unknown container", pod("", nil, "app"), "x", "", "container x is not valid for pod web"},
		{"several, none named", pod("", []string{"setup"}, "app", "side"), "", "",
			"a container name must be specified for pod web, choose one of: [setup app side]"},
		{"annotation naming no container, several", pod("gone", nil, "app", "side"), "", "",
			"a container name must be specified for pod web, choose one of: [app side]"},
		{"no containers", pod("", nil), "", "", "a container name must be specified for pod web"},
	}
	for _, c := range cases {
		got, err := chooseContainer(c.pod, c.requested)
		if c.err != "" {
			if !apierrors.IsBadRequest(err) || err.Error() != c.err {
				t.Errorf("%s: error %v, want BadRequest %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestAgentStreamURL(t *testing.T) {
	base := &url.URL{Scheme: "https", Host: "10.0.0.5:10250"}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod", UID: "u-1"}}
	cases := []struct {
		sr        streamRequest
		container string
		want      string
	}{
		{streamRequest{subresource: "exec", stdin: true, stdout: true, tty: true, command: []string{"sh", "-c", "echo a&b"}}, "app",
			"https://10.0.0.5:10250/exec/prod/web/u-1/app?command=sh&command=-c&command=echo+a%26b&input=1&output=1&tty=1"},
		{streamRequest{subresource: "attach", stdout: true, stderr: true}, "app",
			"https://10.0.0.5:10250/attach/prod/web/u-1/app?error=1&output=1"},
		{streamRequest{subresource: "portforward"}, "",
			"https://10.0.0.5:10250/portForward/prod/web/u-1"},
		{streamRequest{subresource: "portforward", ports: []int32{80, 8080}}, "",
			"https://10.0.0.5:10250/portForward/prod/web/u-1?port=80%2C8080"},
	}
	for _, c := range cases {
		if got := agentStreamURL(base, c.sr, pod, c.container).String(); got != c.want {
			t.Errorf("%+v:\n got %s\nwant %s", c.sr, got, c.want)
		}
	}
}

func TestAuthorizeStream(t *testing.T) {
	info := &requestInfo{namespace: "default", name: "web", subresource: "exec"}
	if err := authorizeStream(User{Name: "skiff-admin", Groups: []string{"system:masters", "system:authenticated"}}, info); err != nil {
		t.Errorf("admin refused: %v", err)
	}
	err := authorizeStream(User{Name: "system:node-bootstrap", Groups: []string{"system:nodes", "system:authenticated"}}, info)
	want := `pods "web" is forbidden: User "system:node-bootstrap" cannot create resource "pods/exec" in API group "" in the namespace "default"`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("node: %v, want Forbidden %q", err, want)
	}
}

func TestSessionStatus(t *testing.T) {
	if st := sessionStatus(nil); st.Status != metav1.StatusSuccess {
		t.Errorf("success: %+v", st)
	}
	st := sessionStatus(fmt.Errorf("stream: %w", exec.CodeExitError{Err: errors.New("exit 7"), Code: 7}))
	if st.Status != metav1.StatusFailure || st.Reason != "NonZeroExitCode" || st.Details == nil ||
		!slices.Equal(st.Details.Causes, []metav1.StatusCause{{Type: "ExitCode", Message: "7"}}) {
		t.Errorf("exit code 7: %+v", st)
	}
	st = sessionStatus(apierrors.NewNotFound(corev1.Resource("pods"), "web"))
	if st.Code != 404 || st.Reason != metav1.StatusReasonNotFound {
		t.Errorf("status error: %+v", st)
	}
	st = sessionStatus(errors.New(`unable to upgrade connection: container not found ("app")`))
	if st.Code != 500 || st.Message != `Internal error occurred: unable to upgrade connection: container not found ("app")` {
		t.Errorf("other error: %+v", st)
	}
}
