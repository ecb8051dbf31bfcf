package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuthCanIAndWhoAmI: `kubectl auth can-i`, `auth can-i --list` and
// `auth whoami`, with the stock kubectl 1.27, 1.32 and 1.33 and both of
// Skiff's credentials. Their answers must be the policy the server
// enforces: the admin may do everything; the nodes' credential everything
// but open a stream into a pod (TestStreamsOnFakeNode checks that the
// server refuses a node's exec).
func TestAuthCanIAndWhoAmI(t *testing.T) {
	s := startServer(t)
	tok, err := os.ReadFile(filepath.Join(s.DataDir(), "node-token"))
	if err != nil {
		t.Fatal(err)
	}
	asNode := "--token=" + strings.TrimSpace(string(tok))
	for _, minor := range []string{"1.27", "1.32", "1.33"} {
		t.Run("kubectl "+minor, func(t *testing.T) {
			k := newKubectl(t, s, minor)
			// kubectl prints a denial's reason after "no - ".
			noStream := "no - skiff: a node agent may not open a stream (exec, attach, port-forward) into a pod\n"
			for _, tc := range []struct {
				node bool // with the nodes' credential
				args []string
				want string
				code int
			}{
				{false, []string{"create", "pods"}, "yes\n", 0},
				{false, []string{"*", "*", "--all-namespaces"}, "yes\n", 0},
				{false, []string{"get", "/healthz"}, "yes\n", 0},
				{false, []string{"create", "pods", "--subresource=exec"}, "yes\n", 0},
				{true, []string{"get", "pods"}, "yes\n", 0},
				{true, []string{"update", "nodes/status"}, "yes\n", 0},
				{true, []string{"create", "pods", "--subresource=exec"}, noStream, 1},
				{true, []string{"get", "pods", "--subresource=portforward", "-n", "kube-system"}, noStream, 1},
			} {
				args, who := append([]string{"auth", "can-i"}, tc.args...), "admin"
				if tc.node {
					args, who = append([]string{asNode}, args...), "node"
				}
				out, errOut, code := k.run(args...)
				// The token stays out of the log.
				t.Logf("$ kubectl auth can-i %s (as %s)\n%s%s(exit %d)", strings.Join(tc.args, " "), who, out, errOut, code)
				if out != tc.want || code != tc.code {
					t.Errorf("kubectl auth can-i %s as %s: %q exit %d, want %q exit %d (stderr %q)", strings.Join(tc.args, " "), who, out, code, tc.want, tc.code, errOut)
				}
			}

			// --list: the admin's one rule; the nodes' rules name pods
			// and their log, not their streams.
			out := kubectlOK(t, k, "auth", "can-i", "--list")
			if !strings.Contains(out, "*.*") {
				t.Errorf("admin's can-i --list lacks *.*:\n%s", out)
			}
			out = asNodeOK(t, k, asNode, "auth", "can-i", "--list")
			for _, want := range []string{"pods ", "pods/log", "deployments.apps", "nodes/status"} {
				if !strings.Contains(out, want) {
					t.Errorf("node's can-i --list lacks %q:\n%s", want, out)
				}
			}
			for _, not := range []string{"pods/exec", "pods/attach", "pods/portforward", "*.*"} {
				if strings.Contains(out, not) {
					t.Errorf("node's can-i --list grants %q:\n%s", not, out)
				}
			}

			// whoami: authentication.k8s.io/v1 SelfSubjectReview, which
			// kubectl asks for from 1.28 on; 1.27 knows only the beta
			// versions, which a 1.33 server no longer serves.
			out, errOut, code := k.run("auth", "whoami")
			if minor == "1.27" {
				if code == 0 || !strings.Contains(errOut, "the selfsubjectreviews API is not enabled") {
					t.Errorf("kubectl 1.27 auth whoami: exit %d, %q %q", code, out, errOut)
				}
				return
			}
			if code != 0 || !strings.Contains(out, "skiff-admin") || !strings.Contains(out, "system:masters") {
				t.Errorf("auth whoami: exit %d, %q %q", code, out, errOut)
			}
			out = asNodeOK(t, k, asNode, "auth", "whoami")
			if !strings.Contains(out, "system:node-bootstrap") || !strings.Contains(out, "system:nodes") {
				t.Errorf("node's auth whoami: %q", out)
			}
		})
	}

	t.Run("a review is a question: bad ones refused, none kept", func(t *testing.T) {
		c := newAPIClient(t, s)
		path := "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
		r := c.do("POST", path, "application/json", []byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}`), nil)
		if r.code != 422 || !strings.Contains(r.status.Message, "spec.resourceAttributes: Invalid value") {
			t.Errorf("review without attributes: %d %s", r.code, r.body)
		}
		r = c.do("POST", path, "application/json", []byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","metadata":{"name":"x"},"spec":{"nonResourceAttributes":{"path":"/","verb":"get"}}}`), nil)
		if r.code != 422 || !strings.Contains(r.status.Message, "metadata: Invalid value") {
			t.Errorf("review with a name: %d %s", r.code, r.body)
		}
		// Reading or deleting one is refused, saying how a review is asked.
		for _, req := range []struct{ method, path string }{{"GET", path}, {"DELETE", path}, {"GET", path + "/x"}} {
			r := c.do(req.method, req.path, "", nil, nil)
			if r.code != 405 || r.status.Reason != "MethodNotAllowed" || !strings.Contains(r.status.Message, "asked with a POST to "+path) {
				t.Errorf("%s %s: %d %s, want 405 saying to POST to %s", req.method, req.path, r.code, r.body, path)
			}
		}
	})
}

// asNodeOK runs kubectl with the nodes' token (the --token flag asNode),
// which it keeps out of the log, and fails on a non-zero exit.
func asNodeOK(t *testing.T, k *kubectl, asNode string, args ...string) string {
	t.Helper()
	out, errOut, code := k.run(append([]string{asNode}, args...)...)
	t.Logf("$ kubectl %s (as node)\n%s%s(exit %d)", strings.Join(args, " "), out, errOut, code)
	if code != 0 {
		t.Fatalf("kubectl %s as node: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}
