package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

var (
	gitRepositoriesGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	kustomizationsGVR  = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

// gitCLI runs the stock git client against one server, trusting its CA
// and with no user or system configuration.
type gitCLI struct {
	t   *testing.T
	env []string
}

func newGitCLI(t *testing.T, s *cluster.Server) *gitCLI {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git client on this machine")
	}
	home := t.TempDir()
	env := append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=",
		// GIT_SSL_CAINFO outranks http.sslCAInfo; set it to the cluster's CA.
		"GIT_SSL_CAINFO="+filepath.Join(s.DataDir(), "tls", "ca.crt"),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"LC_ALL=C")
	return &gitCLI{t: t, env: env}
}

// run returns git's combined output and exit code.
func (g *gitCLI) run(dir string, args ...string) (string, int) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = dir, g.env
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return string(out), code
}

func (g *gitCLI) must(dir string, args ...string) string {
	g.t.Helper()
	out, code := g.run(dir, args...)
	if code != 0 {
		g.t.Fatalf("git %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// playKustomizationController waits until the push annotates the
// Kustomization (reconcile.fluxcd.io/requestedAt changes), then writes its
// status through the status subresource as Flux's kustomize-controller
// would for revision, and records the event it would.
func playKustomizationController(t *testing.T, dyn dynamic.Interface, s *cluster.Server, name, revision string) chan error {
	kz := dyn.Resource(kustomizationsGVR).Namespace("default")
	prev := ""
	if cur, err := kz.Get(context.Background(), name, metav1.GetOptions{}); err == nil {
		prev = cur.GetAnnotations()["reconcile.fluxcd.io/requestedAt"]
	}
	cs := clientset(t, s)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			cur, err := kz.Get(ctx, name, metav1.GetOptions{})
			if err == nil && cur.GetAnnotations()["reconcile.fluxcd.io/requestedAt"] != prev {
				now := metav1.Now()
				ev := &corev1.Event{
					ObjectMeta: metav1.ObjectMeta{GenerateName: name + ".", Namespace: "default"},
					InvolvedObject: corev1.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization",
						Name: name, Namespace: "default", UID: cur.GetUID()},
					Reason: "ReconciliationSucceeded", Type: corev1.EventTypeNormal,
					Message:        "Deployment/default/web configured\nService/default/web created",
					Source:         corev1.EventSource{Component: "kustomize-controller"},
					FirstTimestamp: now, LastTimestamp: now, Count: 1,
				}
				if _, err := cs.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
					done <- fmt.Errorf("record event: %w", err)
					return
				}
				status := map[string]any{
					"observedGeneration":    cur.GetGeneration(),
					"lastAttemptedRevision": revision,
					"lastAppliedRevision":   revision,
					"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
						"message": "Applied revision: " + revision, "lastTransitionTime": now.UTC().Format(time.RFC3339),
						"observedGeneration": cur.GetGeneration()}},
					"inventory": map[string]any{"entries": []any{
						map[string]any{"id": "default_web_apps_Deployment", "v": "v1"},
						map[string]any{"id": "default_web__Service", "v": "v1"},
					}},
				}
				if err := unstructured.SetNestedField(cur.Object, status, "status"); err != nil {
					done <- err
					return
				}
				_, err = kz.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
				done <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		done <- fmt.Errorf("the push never annotated Kustomization %s", name)
	}()
	return done
}

// TestGitRemote pushes to the built-in remote with the stock git client:
// first push (objects created), clone and compare, a pushed revision
// reported back as Flux would write it, a second branch, refused rewrites
// and refused credentials.
func TestGitRemote(t *testing.T) {
	// No GitOps controller: this test plays it, so the result it reads
	// back is the one it wrote.
	s := startServer(t, "--controllers=deployment")
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	token := cfg.BearerToken
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := newGitCLI(t, s)
	url := s.URL + "/git/default/shop.git"
	auth := "http.extraHeader=Authorization: Bearer " + token

	// A repository of 100 manifests in two commits.
	work := t.TempDir()
	g.must(work, "init", "-q", "-b", "main")
	for i := 0; i < 100; i++ {
		cm := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%03d\ndata:\n  index: %q\n  text: %q\n", i, fmt.Sprint(i), strings.Repeat("skiff ", 50))
		if err := os.WriteFile(filepath.Join(work, fmt.Sprintf("cm-%03d.yaml", i)), []byte(cm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g.must(work, "add", ".")
	g.must(work, "commit", "-q", "-m", "first")
	if err := os.WriteFile(filepath.Join(work, "cm-000.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.must(work, "commit", "-q", "-am", "second")
	g.must(work, "remote", "add", "skiff", url)

	t.Run("credentials", func(t *testing.T) {
		if out, code := g.run(work, "push", "skiff", "main"); code == 0 || !strings.Contains(out, "could not read Username") {
			t.Errorf("push without credentials: exit %d\n%s", code, out)
		}
		wrong := strings.Replace(url, "https://", "https://me:wrong-token@", 1)
		if out, code := g.run(work, "push", wrong, "main"); code == 0 || !strings.Contains(out, "Authentication failed") {
			t.Errorf("push with a wrong token: exit %d\n%s", code, out)
		}
		nodeToken, err := os.ReadFile(filepath.Join(s.DataDir(), "node-token"))
		if err != nil {
			t.Fatal(err)
		}
		out, code := g.run(work, "-c", "http.extraHeader=Authorization: Bearer "+strings.TrimSpace(string(nodeToken)), "push", "skiff", "main")
		if code == 0 || !strings.Contains(out, "403") || !strings.Contains(out, "may not push") {
			t.Errorf("push with a node's token: exit %d\n%s", code, out)
		}
		if _, err := os.Stat(filepath.Join(s.DataDir(), "git", "default", "shop.git")); !os.IsNotExist(err) {
			t.Errorf("refused pushes created the repository: %v", err)
		}
	})

	t.Run("first push", func(t *testing.T) {
		start := time.Now()
		out := g.must(work, "-c", auth, "push", "-o", "skiff.wait=false", "skiff", "main")
		took := time.Since(start)
		t.Logf("push of 100 files in 2 commits (no wait): %s", took.Round(time.Millisecond))
		for _, want := range []string{
			"remote: created GitRepository default/shop (branch main) and Kustomization default/shop",
			"remote: applying main@sha1:",
			"remote: not waiting for the result; see kubectl get kustomization shop",
			"* [new branch]      main -> main",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("push output lacks %q:\n%s", want, out)
			}
		}
		if took > 10*time.Second {
			t.Errorf("-o skiff.wait=false push took %s: it must not wait for the (absent) controller", took)
		}
		ctx := context.Background()
		gr, err := dyn.Resource(gitRepositoriesGVR).Namespace("default").Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		gotURL, _, _ := unstructured.NestedString(gr.Object, "spec", "url")
		branch, _, _ := unstructured.NestedString(gr.Object, "spec", "ref", "branch")
		if want := "file://" + filepath.Join(s.DataDir(), "git", "default", "shop.git"); !strings.HasSuffix(gotURL, strings.TrimPrefix(want, "file://")) || !strings.HasPrefix(gotURL, "file:///") || branch != "main" {
			t.Errorf("GitRepository url %q branch %q, want %s on main", gotURL, branch, want)
		}
		k, err := dyn.Resource(kustomizationsGVR).Namespace("default").Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []*unstructured.Unstructured{gr, k} {
			if o.GetLabels()["skiff.dev/git-remote"] != "true" {
				t.Errorf("%s labels: %v", o.GetKind(), o.GetLabels())
			}
			at := o.GetAnnotations()["reconcile.fluxcd.io/requestedAt"]
			if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
				t.Errorf("%s requestedAt %q: %v", o.GetKind(), at, err)
			}
		}
		// git itself accepts what go-git stored.
		g.must("", "--git-dir", filepath.Join(s.DataDir(), "git", "default", "shop.git"), "fsck", "--no-progress")
	})

	t.Run("clone", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "clone")
		start := time.Now()
		g.must("", "-c", auth, "clone", "-q", url, dst)
		t.Logf("clone of 100 files in 2 commits: %s", time.Since(start).Round(time.Millisecond))
		if a, b := g.must(work, "rev-parse", "HEAD"), g.must(dst, "rev-parse", "HEAD"); a != b {
			t.Errorf("clone HEAD %s, pushed %s", b, a)
		}
		if a, b := g.must(work, "ls-tree", "-r", "HEAD"), g.must(dst, "ls-tree", "-r", "HEAD"); a != b {
			t.Errorf("cloned tree differs")
		}
		if out := g.must(dst, "log", "--format=%s"); out != "second\nfirst\n" {
			t.Errorf("cloned history %q", out)
		}
		for i := 0; i < 100; i += 33 {
			name := fmt.Sprintf("cm-%03d.yaml", i)
			a, _ := os.ReadFile(filepath.Join(work, name))
			b, err := os.ReadFile(filepath.Join(dst, name))
			if err != nil || string(a) != string(b) {
				t.Errorf("%s differs in the clone: %v", name, err)
			}
		}
		// A push from the clone, then a fetch into the first copy (with
		// local commits of its own to negotiate).
		if err := os.WriteFile(filepath.Join(dst, "extra.yaml"), []byte("a: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		g.must(dst, "add", ".")
		g.must(dst, "commit", "-q", "-m", "from the clone")
		g.must(dst, "-c", auth, "push", "-q", "-o", "skiff.wait=false", "origin", "main")
		g.must(work, "-c", auth, "fetch", "-q", "skiff")
		if a, b := g.must(work, "rev-parse", "skiff/main"), g.must(dst, "rev-parse", "HEAD"); a != b {
			t.Errorf("fetched %s, pushed %s", a, b)
		}
		g.must(work, "merge", "-q", "--ff-only", "skiff/main")
	})

	t.Run("result reported", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(work, "web.yaml"), []byte("kind: Deployment\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		g.must(work, "add", ".")
		g.must(work, "commit", "-q", "-m", "web")
		revision := "main@sha1:" + strings.TrimSpace(g.must(work, "rev-parse", "HEAD"))
		done := playKustomizationController(t, dyn, s, "shop", revision)
		start := time.Now()
		out := g.must(work, "-c", auth, "push", "skiff", "main")
		t.Logf("push with the result reported: %s", time.Since(start).Round(time.Millisecond))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"remote: applying " + revision,
			"remote: applied " + revision + ": Ready",
			"remote:   Applied revision: " + revision,
			"remote:   Deployment/default/web configured",
			"remote:   Service/default/web created",
			"remote: inventory: 2 objects",
			"remote:   Service/default/web",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("push output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("second branch", func(t *testing.T) {
		g.must(work, "checkout", "-q", "-b", "feature")
		if err := os.WriteFile(filepath.Join(work, "feature.yaml"), []byte("f: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		g.must(work, "add", ".")
		g.must(work, "commit", "-q", "-m", "feature")
		out := g.must(work, "-c", auth, "push", "skiff", "feature")
		if !strings.Contains(out, "remote: GitRepository default/shop follows branch main") || !strings.Contains(out, "* [new branch]      feature -> feature") {
			t.Errorf("push of a second branch:\n%s", out)
		}
		refs := g.must(work, "-c", auth, "ls-remote", "skiff")
		for _, want := range []string{"refs/heads/main", "refs/heads/feature", "HEAD"} {
			if !strings.Contains(refs, want) {
				t.Errorf("ls-remote lacks %s:\n%s", want, refs)
			}
		}
		g.must(work, "checkout", "-q", "main")
	})

	t.Run("rewrites refused", func(t *testing.T) {
		g.must(work, "reset", "-q", "--hard", "HEAD~1")
		if err := os.WriteFile(filepath.Join(work, "other.yaml"), []byte("o: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		g.must(work, "add", ".")
		g.must(work, "commit", "-q", "-m", "rewritten")
		out, code := g.run(work, "-c", auth, "push", "skiff", "main")
		if code == 0 || !strings.Contains(out, "[rejected]") {
			t.Errorf("non-fast-forward push without --force: exit %d\n%s", code, out)
		}
		out, code = g.run(work, "-c", auth, "push", "--force", "skiff", "main")
		if code == 0 || !strings.Contains(out, "[remote rejected] main -> main (non-fast-forward)") ||
			!strings.Contains(out, "remote: error: denying non-fast-forward refs/heads/main") {
			t.Errorf("force push: exit %d\n%s", code, out)
		}
		out, code = g.run(work, "-c", auth, "push", "skiff", ":feature")
		if code == 0 || !strings.Contains(out, "(deletion prohibited)") {
			t.Errorf("branch deletion: exit %d\n%s", code, out)
		}
	})
}

// TestGitRemoteLimits checks the server's git flags with the stock git
// client: a bounded wait with nobody to apply the push, a push over the
// size cap, a token sent as git's credential prompt would (HTTP Basic),
// and a namespace that does not exist.
func TestGitRemoteLimits(t *testing.T) {
	s := startServer(t, "--controllers=deployment", "--git-push-wait=1s", "--git-max-request-bytes=200000")
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	g := newGitCLI(t, s)
	work := t.TempDir()
	g.must(work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.must(work, "add", ".")
	g.must(work, "commit", "-q", "-m", "first")
	// The token as the password of a URL, as a credential helper gives it.
	url := strings.Replace(s.URL, "https://", "https://skiff:"+cfg.BearerToken+"@", 1) + "/git/default/limits.git"

	start := time.Now()
	out := g.must(work, "push", url, "main")
	if !strings.Contains(out, "remote: not applied yet after 1s; see kubectl get kustomization limits") {
		t.Errorf("push with nobody to apply it:\n%s", out)
	}
	if took := time.Since(start); took < time.Second || took > 10*time.Second {
		t.Errorf("the push returned after %s, want about --git-push-wait=1s", took)
	}

	// Random, so that git's deflate cannot shrink it under the cap.
	big := make([]byte, 400000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	g.must(work, "add", ".")
	g.must(work, "commit", "-q", "-m", "big")
	out, code := g.run(work, "push", url, "main")
	if code == 0 || !strings.Contains(out, "larger than the server's limit of 200000 bytes") || !strings.Contains(out, "[remote rejected] main -> main (unpacker error)") {
		t.Errorf("push over the size cap: exit %d\n%s", code, out)
	}

	out, code = g.run(work, "push", strings.Replace(url, "/default/", "/nope/", 1), "main")
	if code == 0 || !strings.Contains(out, `remote: namespace "nope" not found`) {
		t.Errorf("push to a namespace that does not exist: exit %d\n%s", code, out)
	}
}
