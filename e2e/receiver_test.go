package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/skiff-dev/skiff/apiserver/pki"
	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/reconcile/gitsync/receiver"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

var (
	gitRepositories = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	fluxReceivers   = receiver.GVR
)

// hookClient trusts the cluster's CA (from the data directory) and
// carries no credentials at all.
func hookClient(t *testing.T, s *cluster.Server) *http.Client {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(s.DataDir(), pki.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no certificate in the CA file")
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func hmacHex(newHash func() hash.Hash, key, body string) string {
	m := hmac.New(newHash, []byte(key))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// TestReceiverWebhooks posts signed GitHub, GitLab and generic-hmac
// payloads to a real server, without credentials, and checks that only
// verified ones annotate the GitRepository (through a normal update: new
// resourceVersion, a watch event). The Receiver controller is played by
// the test: it writes status.webhookPath and Ready itself, so the server
// runs without its own (TestReceiverTriggersFetch runs it).
func TestReceiverWebhooks(t *testing.T) {
	s := startServer(t, "--controllers=*,-receiver")
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs := clientset(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ns, tok = "default", "hook-s3cr3t"
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-token"}, StringData: map[string]string{"token": tok},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	repo := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "shop"},
		"spec":     map[string]any{"url": "https://example.com/me/shop.git", "interval": "1m", "ref": map[string]any{"branch": "main"}},
	}}
	if _, err := dyn.Resource(gitRepositories).Namespace(ns).Create(ctx, repo, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Each receiver gets its path and Ready, as the controller would write.
	paths := map[string]string{}
	for typ, events := range map[string][]any{"github": {"push"}, "gitlab": {"Push Hook"}, "generic-hmac": nil} {
		rcv := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
			"metadata": map[string]any{"name": typ},
			"spec": map[string]any{"type": typ, "secretRef": map[string]any{"name": "webhook-token"},
				"resources": []any{map[string]any{"kind": "GitRepository", "name": "shop"}}},
		}}
		if events != nil {
			_ = unstructured.SetNestedSlice(rcv.Object, events, "spec", "events")
		}
		created, err := dyn.Resource(fluxReceivers).Namespace(ns).Create(ctx, rcv, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create receiver %s: %v", typ, err)
		}
		p := receiver.WebhookPath(tok, typ, ns)
		paths[typ] = p
		_ = unstructured.SetNestedField(created.Object, map[string]any{
			"webhookPath": p,
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Succeeded",
				"message": "Receiver initialized for path: " + p, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
		}, "status")
		if _, err := dyn.Resource(fluxReceivers).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("status of receiver %s: %v", typ, err)
		}
	}

	hc := hookClient(t, s)
	base := cfg.Host
	post := func(path string, h map[string]string, body io.Reader) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		t.Logf("POST %s → %d %s (%s)", path[:14]+"…", resp.StatusCode, strings.TrimSpace(string(msg)), time.Since(start).Round(time.Millisecond))
		return resp.StatusCode
	}
	requestedAt := func() (string, string) {
		t.Helper()
		u, err := dyn.Resource(gitRepositories).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return u.GetAnnotations()["reconcile.fluxcd.io/requestedAt"], u.GetResourceVersion()
	}
	// expectTrigger posts and checks the annotation moved (or did not).
	expect := func(name string, wantCode int, triggers bool, path string, h map[string]string, body string) {
		t.Helper()
		before, rvBefore := requestedAt()
		// requestedAt has nanosecond resolution, but two hooks within one
		// clock tick must still be told apart.
		time.Sleep(2 * time.Millisecond)
		if code := post(path, h, strings.NewReader(body)); code != wantCode {
			t.Fatalf("%s: %d, want %d", name, code, wantCode)
		}
		after, rvAfter := requestedAt()
		switch {
		case triggers && (after == before || rvAfter == rvBefore):
			t.Fatalf("%s: requestedAt %q → %q, resourceVersion %s → %s: not triggered", name, before, after, rvBefore, rvAfter)
		case triggers:
			if _, err := time.Parse(time.RFC3339Nano, after); err != nil {
				t.Fatalf("%s: requestedAt %q is not RFC 3339: %v", name, after, err)
			}
		case !triggers && after != before:
			// Only the annotation: the GitRepository controller, when the
			// binary runs one, writes status (and resourceVersions) too.
			t.Fatalf("%s: refused hook changed the GitRepository (%q → %q)", name, before, after)
		}
	}

	// The watch a GitRepository controller holds sees the trigger.
	w, err := dyn.Resource(gitRepositories).Namespace(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=shop"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	push := `{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}`
	github := func(sig string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": sig}
	}
	expect("github push, signed", 200, true, paths["github"], github("sha256="+hmacHex(sha256.New, tok, push)), push)
	sawEvent := false
	for !sawEvent {
		select {
		case ev := <-w.ResultChan():
			if u, ok := ev.Object.(*unstructured.Unstructured); ok && ev.Type == watch.Modified && u.GetAnnotations()["reconcile.fluxcd.io/requestedAt"] != "" {
				sawEvent = true
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no MODIFIED watch event for the annotated GitRepository")
		}
	}
	expect("github push, bad signature", 401, false, paths["github"], github("sha256="+hmacHex(sha256.New, "not-the-token", push)), push)
	expect("github push, unsigned", 401, false, paths["github"], map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "push"}, push)
	expect("github push, legacy sha1", 200, true, paths["github"],
		map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature": "sha1=" + hmacHex(sha1.New, tok, push)}, push)
	expect("github ping", 200, false, paths["github"],
		map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + hmacHex(sha256.New, tok, `{"zen":"x"}`)}, `{"zen":"x"}`)
	expect("gitlab push", 200, true, paths["gitlab"], map[string]string{"X-Gitlab-Token": tok, "X-Gitlab-Event": "Push Hook"}, push)
	expect("gitlab wrong token", 401, false, paths["gitlab"], map[string]string{"X-Gitlab-Token": tok + "x", "X-Gitlab-Event": "Push Hook"}, push)
	expect("gitlab event not accepted", 400, false, paths["gitlab"], map[string]string{"X-Gitlab-Token": tok, "X-Gitlab-Event": "Tag Push Hook"}, push)
	expect("generic-hmac", 200, true, paths["generic-hmac"], map[string]string{"X-Signature": "sha256=" + hmacHex(sha256.New, tok, push)}, push)
	expect("generic-hmac bad signature", 401, false, paths["generic-hmac"], map[string]string{"X-Signature": "sha256=" + hmacHex(sha256.New, tok, push+" ")}, push)
	expect("unknown path", 404, false, receiver.WebhookPath("other-token", "github", ns), github("sha256="+hmacHex(sha256.New, tok, push)), push)

	// A body over the 1 MiB cap: 413, nothing triggered.
	huge := `{"pad":"` + strings.Repeat("x", 2<<20) + `"}`
	expect("huge body", 413, false, paths["github"], github("sha256="+hmacHex(sha256.New, tok, huge)), huge)
	// Streamed without a Content-Length, it is cut off at the cap too.
	before, _ := requestedAt()
	if code := post(paths["generic-hmac"], map[string]string{"X-Signature": "sha256=" + hmacHex(sha256.New, tok, huge)},
		io.NopCloser(bytes.NewReader([]byte(huge)))); code != 413 {
		t.Fatalf("huge streamed body: %d, want 413", code)
	}
	if after, _ := requestedAt(); after != before {
		t.Fatal("a huge streamed body triggered")
	}

	// The hook client really has no credentials: the API refuses it.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/namespaces", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the hook client reached the API: %d", resp.StatusCode)
	}
	if !strings.Contains(s.Log(), "webhook handled") {
		t.Error("no 'webhook handled' line in the server log")
	}
}

// TestReceiverController runs the Receiver controller in the test process
// against a real server started without its own, so that what is checked
// is this controller's work (with coverage in the test binary): it must
// write the path Flux would and Ready, report a missing Secret as
// TokenNotFound until it appears, mark an unsupported type NotSupported,
// and the path it writes must then accept a signed hook.
func TestReceiverController(t *testing.T) {
	s := startServer(t, "--controllers=*,-receiver")
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs := clientset(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := manager.NewDeps(cs, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, 0)
	c, err := receiver.New(d, dyn)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	const ns, tok = "default", "ctrl-s3cr3t"
	repo := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "shop"},
		"spec":     map[string]any{"url": "https://example.com/me/shop.git", "interval": "1m"},
	}}
	if _, err := dyn.Resource(gitRepositories).Namespace(ns).Create(ctx, repo, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	newReceiver := func(name, typ string) {
		rcv := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{"type": typ, "interval": "1m", "secretRef": map[string]any{"name": "webhook-token"},
				"resources": []any{map[string]any{"kind": "GitRepository", "name": "shop"}}},
		}}
		if _, err := dyn.Resource(fluxReceivers).Namespace(ns).Create(ctx, rcv, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create receiver %s: %v", name, err)
		}
	}
	readyOf := func(name string) (string, string, string, string) {
		u, err := dyn.Resource(fluxReceivers).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		path, _, _ := unstructured.NestedString(u.Object, "status", "webhookPath")
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
				return path, fmt.Sprint(m["status"]), fmt.Sprint(m["reason"]), fmt.Sprint(m["message"])
			}
		}
		return path, "", "", ""
	}
	waitReady := func(name, status, reason string) (string, string) {
		var path, msg string
		eventually(t, 20*time.Second, func() error {
			var st, rs string
			path, st, rs, msg = readyOf(name)
			if st != status || rs != reason {
				return fmt.Errorf("receiver %s: Ready %s %s %q, want %s %s", name, st, rs, msg, status, reason)
			}
			return nil
		})
		return path, msg
	}

	newReceiver("github", "github")
	newReceiver("bitbucket", "bitbucket")
	if path, _ := waitReady("github", "False", receiver.TokenNotFoundReason); path != "" {
		t.Fatalf("webhookPath %q without a token", path)
	}
	_, msg := waitReady("bitbucket", "False", receiver.NotSupportedReason)
	if !strings.Contains(msg, "bitbucket") {
		t.Fatalf("NotSupported message %q does not name the type", msg)
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-token"}, StringData: map[string]string{"token": tok},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	path, msg := waitReady("github", "True", receiver.SucceededReason)
	// Flux's algorithm, spelled out: sha256 of token, name and namespace.
	sum := sha256.Sum256([]byte(tok + "github" + ns))
	if want := "/hook/" + hex.EncodeToString(sum[:]); path != want || msg != "Receiver initialized for path: "+want {
		t.Fatalf("webhookPath %q, message %q; want %s", path, msg, want)
	}
	// kubectl apply of the same spec must not see a change: the interval
	// keeps its spelling through the controller's status writes.
	u, err := dyn.Resource(fluxReceivers).Namespace(ns).Get(ctx, "github", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if iv, _, _ := unstructured.NestedString(u.Object, "spec", "interval"); iv != "1m" {
		t.Errorf("spec.interval %q after the controller's writes, want 1m", iv)
	}

	push := `{"ref":"refs/heads/main"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Host+path, strings.NewReader(push))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hmacHex(sha256.New, tok, push))
	resp, err := hookClient(t, s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("hook at the controller's path: %d", resp.StatusCode)
	}
	r, err := dyn.Resource(gitRepositories).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetAnnotations()["reconcile.fluxcd.io/requestedAt"] == "" {
		t.Fatal("the hook did not annotate the GitRepository")
	}
}

// gitHTTPServer serves the bare repositories under root over smart HTTP
// with the real git http-backend (CGI), on loopback, and counts the
// requests it gets: a fetch (or ls-remote) starts with GET info/refs, so
// a count that does not move proves no fetch was attempted. A GitOps
// source over http is not watched with fsnotify, unlike a file:// one, so
// only the interval, requestedAt or a webhook can make it fetch.
type gitHTTPServer struct {
	*httptest.Server
	root     string
	infoRefs atomic.Int64
}

func newGitHTTPServer(t *testing.T) *gitHTTPServer {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	g := &gitHTTPServer{root: t.TempDir()}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir()},
	}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/info/refs") {
			g.infoRefs.Add(1)
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

// publish pushes the work repository's master to <root>/<name>.git and
// returns the repository's URL.
func (g *gitHTTPServer) publish(r *gitRepo, name string) string {
	r.t.Helper()
	bare := filepath.Join(g.root, name+".git")
	if _, err := os.Stat(bare); err != nil {
		r.git("init", "-q", "--bare", bare)
	}
	r.git("push", "-q", "--force", bare, "master")
	return g.URL + "/" + name + ".git"
}

// TestReceiverTriggersFetch is the acceptance 3 with every piece
// real: the server's GitRepository, Kustomization and Receiver controllers,
// a git repository served over HTTP by git http-backend, and GitHub push
// payloads posted without credentials. The sources' interval is an hour,
// so only the hook can make them fetch: a signed push moves the artifact
// revision to the new commit at once and the Kustomization applies it; a
// bad signature is refused with 401 and an oversized body with 413, and
// neither reaches the git server nor moves the revision.
func TestReceiverTriggersFetch(t *testing.T) {
	e := newGitsyncEnv(t)
	gs := newGitHTTPServer(t)
	repo := newGitRepo(t)
	head := repo.commit("first", map[string]string{"config.yaml": configMap("hooked", "one")})
	url := gs.publish(repo, "shop")
	const tok = "hook-s3cr3t"
	e.apply(strings.Replace(gitRepositoryYAML("shop", url, "  ref: {branch: master}\n"), "interval: 10m", "interval: 1h", 1) + "---\n" + kustomizationYAML("shop", "shop", "./", "") + `---
apiVersion: v1
kind: Secret
metadata: {name: webhook-token, namespace: default}
stringData: {token: ` + tok + `}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: github, namespace: default}
spec:
  type: github
  events: [push]
  secretRef: {name: webhook-token}
  resources:
  - {apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: shop}
`)
	e.k.must("wait", "--for=condition=Ready", "receiver/github", "gitrepository/shop", "--timeout=60s")
	e.waitApplied("shop", "master@sha1:"+head, 30*time.Second)
	path := str(e.get(fluxReceivers, "github"), "status", "webhookPath")
	if !strings.HasPrefix(path, "/hook/") {
		t.Fatalf("receiver webhookPath %q", path)
	}
	revision := func() string { return str(e.get(gitRepoGVR, "shop"), "status", "artifact", "revision") }

	// A new commit on the remote: nothing fetches it until the hook.
	old := "master@sha1:" + head
	head = repo.commit("second", map[string]string{"config.yaml": configMap("hooked", "two")})
	gs.publish(repo, "shop")
	newRev := "master@sha1:" + head

	hc := hookClient(t, e.s)
	post := func(h map[string]string, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(msg))
	}
	github := func(sig string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": sig}
	}
	push := fmt.Sprintf(`{"ref":"refs/heads/master","after":%q,"repository":{"clone_url":%q}}`, head, url)
	// refused checks that a refused hook leaves the source alone: no
	// request reaches the git server and the revision stays, for longer
	// than a triggered fetch takes (see below).
	refused := func(name string, wantCode int, h map[string]string, body string) {
		t.Helper()
		before := gs.infoRefs.Load()
		code, msg := post(h, body)
		if code != wantCode {
			t.Fatalf("%s: %d %q, want %d", name, code, msg, wantCode)
		}
		time.Sleep(2 * time.Second)
		if n := gs.infoRefs.Load(); n != before {
			t.Fatalf("%s: the git server got %d requests after a refused hook", name, n-before)
		}
		if rev := revision(); rev != old {
			t.Fatalf("%s: artifact revision moved to %q after a refused hook", name, rev)
		}
		t.Logf("%s: %d %q; no fetch", name, code, msg)
	}

	t.Run("bad signature: 401, no fetch", func(t *testing.T) {
		refused("bad signature", http.StatusUnauthorized, github("sha256="+hmacHex(sha256.New, "not-the-token", push)), push)
		refused("signature of another body", http.StatusUnauthorized, github("sha256="+hmacHex(sha256.New, tok, push+" ")), push)
	})
	t.Run("oversized body: 413, no fetch", func(t *testing.T) {
		huge := `{"ref":"refs/heads/master","pad":"` + strings.Repeat("x", 2<<20) + `"}`
		refused("oversized body", http.StatusRequestEntityTooLarge, github("sha256="+hmacHex(sha256.New, tok, huge)), huge)
	})
	t.Run("valid signature: fetched at once, the new revision applied", func(t *testing.T) {
		before := gs.infoRefs.Load()
		start := time.Now()
		if code, msg := post(github("sha256="+hmacHex(sha256.New, tok, push)), push); code != http.StatusOK {
			t.Fatalf("signed push: %d %q", code, msg)
		}
		// The interval is an hour: 30 s only bounds a broken test.
		eventually(t, 30*time.Second, func() error {
			if rev := revision(); rev != newRev {
				return fmt.Errorf("artifact revision %q, want %q", rev, newRev)
			}
			return nil
		})
		fetched := time.Since(start)
		if gs.infoRefs.Load() == before {
			t.Fatal("the revision moved without a request to the git server")
		}
		e.waitApplied("shop", newRev, 30*time.Second)
		if v, err := e.configMapData("hooked"); err != nil || v != "two" {
			t.Fatalf("configmap: %q %v", v, err)
		}
		t.Logf("FIGURE signed GitHub push -> artifact revision moved: %s; -> Kustomization applied: %s",
			fetched.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	})
}
