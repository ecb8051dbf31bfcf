package apiserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/skiff-dev/skiff/manifests/flux"
)

// startGitTestAPI is startTestAPI with the git remote's settings.
func startGitTestAPI(t *testing.T, wait time.Duration, maxBytes int64) *testAPI {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	run, err := Run(ctx, RunOptions{DataDir: filepath.Join(t.TempDir(), "data"), Listen: "127.0.0.1:0",
		Version:     version.Info{Major: "1", Minor: "33", GitVersion: "v1.33.0-skiff.test"},
		GitPushWait: wait, GitMaxRequestBytes: maxBytes})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = run.Wait() })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(run.CAPEM)
	return &testAPI{t: t, run: run, client: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}}
}

// localRepo is a client's working repository, in memory.
type localRepo struct {
	t    *testing.T
	repo *git.Repository
	at   time.Time
}

func newLocalRepo(t *testing.T, url string) *localRepo {
	t.Helper()
	r, err := git.Init(memory.NewStorage(), memfs.New())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateRemote(&gitconfig.RemoteConfig{Name: "skiff", URLs: []string{url}}); err != nil {
		t.Fatal(err)
	}
	return &localRepo{t: t, repo: r, at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// commit writes files on branch (created from HEAD if new) and commits.
func (l *localRepo) commit(branch string, files map[string]string) plumbing.Hash {
	l.t.Helper()
	wt, err := l.repo.Worktree()
	if err != nil {
		l.t.Fatal(err)
	}
	ref := plumbing.NewBranchReferenceName(branch)
	if head, err := l.repo.Head(); err == nil && head.Name() != ref {
		_, exists := l.repo.Reference(ref, false)
		if err := wt.Checkout(&git.CheckoutOptions{Branch: ref, Create: exists != nil, Keep: true}); err != nil {
			l.t.Fatal(err)
		}
	} else if err != nil {
		// No commit yet: HEAD names the branch to create.
		if err := l.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, ref)); err != nil {
			l.t.Fatal(err)
		}
	}
	for name, content := range files {
		f, err := wt.Filesystem.Create(name)
		if err != nil {
			l.t.Fatal(err)
		}
		_, _ = f.Write([]byte(content))
		f.Close()
		if _, err := wt.Add(name); err != nil {
			l.t.Fatal(err)
		}
	}
	l.at = l.at.Add(time.Minute)
	h, err := wt.Commit("change", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: l.at}})
	if err != nil {
		l.t.Fatal(err)
	}
	return h
}

// push pushes refspecs and returns the server's progress ("remote:"
// lines).
func (l *localRepo) push(a *testAPI, auth transport.AuthMethod, options map[string]string, specs ...string) (string, error) {
	var progress bytes.Buffer
	var rs []gitconfig.RefSpec
	for _, s := range specs {
		rs = append(rs, gitconfig.RefSpec(s))
	}
	err := l.repo.Push(&git.PushOptions{RemoteName: "skiff", RefSpecs: rs, Auth: auth, CABundle: a.run.CAPEM, Progress: &progress, Options: options})
	return progress.String(), err
}

func adminAuth(a *testAPI) transport.AuthMethod { return &githttp.TokenAuth{Token: a.run.AdminToken} }

func gitURL(a *testAPI, ns, name string) string {
	return a.run.URL + "/git/" + ns + "/" + name + ".git"
}

func TestGitRemotePushCreatesObjectsAndClones(t *testing.T) {
	a := startGitTestAPI(t, 300*time.Millisecond, 0)
	url := gitURL(a, "default", "shop")
	l := newLocalRepo(t, url)
	l.commit("main", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
	second := l.commit("main", map[string]string{"cm2.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"})
	out, err := l.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main")
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	for _, want := range []string{
		"created GitRepository default/shop (branch main) and Kustomization default/shop",
		"applying main@sha1:" + second.String(),
		"not applied yet after 300ms; see kubectl get kustomization shop",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}

	gr := a.must(http.StatusOK, "GET", "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories/shop", "", "")
	m := objectMeta(t, gr)
	spec := gr["spec"].(map[string]any)
	wantURL := "file://" + filepath.Join(a.run.Server.git.cfg.Dir, "default", "shop.git")
	if spec["url"] != wantURL || spec["ref"].(map[string]any)["branch"] != "main" || spec["interval"] != "10m" {
		t.Errorf("GitRepository spec = %v, want url %s, branch main, interval 10m", spec, wantURL)
	}
	if m.Labels[GitRemoteLabel] != "true" || m.Annotations[reconcileRequestAnnotation] == "" {
		t.Errorf("GitRepository metadata: labels %v annotations %v", m.Labels, m.Annotations)
	}
	if _, ok := managerEntry(m, gitRemoteManager, metav1.ManagedFieldsOperationUpdate); !ok {
		t.Errorf("GitRepository managedFields lack %s: %+v", gitRemoteManager, m.ManagedFields)
	}
	k := a.must(http.StatusOK, "GET", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/default/kustomizations/shop", "", "")
	km := objectMeta(t, k)
	ks := k["spec"].(map[string]any)
	if ks["path"] != "./" || ks["prune"] != true || ks["interval"] != "10m" ||
		ks["sourceRef"].(map[string]any)["kind"] != "GitRepository" || ks["sourceRef"].(map[string]any)["name"] != "shop" {
		t.Errorf("Kustomization spec = %v", ks)
	}
	if km.Labels[GitRemoteLabel] != "true" || km.Annotations[reconcileRequestAnnotation] == "" {
		t.Errorf("Kustomization metadata: labels %v annotations %v", km.Labels, km.Annotations)
	}

	// A clone gives back what was pushed, HEAD on main.
	clone, err := git.Clone(memory.NewStorage(), memfs.New(), &git.CloneOptions{URL: url, Auth: adminAuth(a), CABundle: a.run.CAPEM})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	head, err := clone.Head()
	if err != nil || head.Hash() != second || head.Name() != plumbing.Main {
		t.Fatalf("cloned HEAD = %v (%v), want %s on main", head, err, second)
	}
	c, _ := clone.CommitObject(second)
	if c == nil || c.NumParents() != 1 {
		t.Fatalf("cloned history: %v", c)
	}

	// A user's own spec is never overwritten: a change survives the
	// next push, which only annotates.
	a.must(http.StatusOK, "PATCH", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/default/kustomizations/shop", "application/merge-patch+json",
		`{"spec":{"path":"./deploy"}}`)
	l.commit("main", map[string]string{"x.yaml": "x: 1\n"})
	if out, err := l.push(a, adminAuth(a), map[string]string{"skiff.wait": "false"}, "refs/heads/main:refs/heads/main"); err != nil ||
		strings.Contains(out, "created") || !strings.Contains(out, "not waiting for the result") {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	k = a.must(http.StatusOK, "GET", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/default/kustomizations/shop", "", "")
	if p := k["spec"].(map[string]any)["path"]; p != "./deploy" {
		t.Errorf("the user's path was overwritten: %v", p)
	}
	if ann := objectMeta(t, k).Annotations[reconcileRequestAnnotation]; ann == km.Annotations[reconcileRequestAnnotation] {
		t.Errorf("requestedAt not renewed by the second push: %s", ann)
	}
}

// playController waits for the Kustomization's requestedAt to change from
// what it was, then writes status as Flux's kustomize-controller would,
// and records an event as it does.
func playController(t *testing.T, a *testAPI, name string, status map[string]any, event string) (done chan struct{}) {
	t.Helper()
	path := "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/default/kustomizations/" + name
	prev := ""
	if code, b := a.do("GET", path, "", "", ""); code == http.StatusOK {
		var obj map[string]any
		_ = json.Unmarshal(b, &obj)
		prev = objectMeta(t, obj).Annotations[reconcileRequestAnnotation]
	}
	done = make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			code, b := a.do("GET", path, "", "", "")
			if code == http.StatusOK {
				var obj map[string]any
				_ = json.Unmarshal(b, &obj)
				if v := objectMeta(t, obj).Annotations[reconcileRequestAnnotation]; v != "" && v != prev {
					if event != "" {
						ev := fmt.Sprintf(`{"metadata":{"generateName":"%s."},"involvedObject":{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","name":"%s","namespace":"default"},"reason":"ReconciliationSucceeded","message":%q,"type":"Normal","source":{"component":"kustomize-controller"},"lastTimestamp":"%s","firstTimestamp":"%s"}`,
							name, name, event, time.Now().UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))
						if code, b := a.do("POST", "/api/v1/namespaces/default/events", "application/json", ev, ""); code != http.StatusCreated {
							t.Errorf("create event: %d %s", code, b)
						}
					}
					body, _ := json.Marshal(map[string]any{"status": status})
					if code, b := a.do("PATCH", path+"/status", "application/merge-patch+json", string(body), ""); code != http.StatusOK {
						t.Errorf("write status: %d %s", code, b)
					}
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("the push never requested a reconciliation of %s", name)
	}()
	return done
}

func TestGitRemoteReportsTheResult(t *testing.T) {
	a := startGitTestAPI(t, 10*time.Second, 0)
	l := newLocalRepo(t, gitURL(a, "default", "web"))
	h := l.commit("main", map[string]string{"deploy.yaml": "kind: Deployment\n"})
	rev := "main@sha1:" + h.String()
	done := playController(t, a, "web", map[string]any{
		"lastAttemptedRevision": rev, "lastAppliedRevision": rev, "observedGeneration": 1,
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
			"message": "Applied revision: " + rev, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
		"inventory": map[string]any{"entries": []any{
			map[string]any{"id": "default_web_apps_Deployment", "v": "v1"},
			map[string]any{"id": "default_web__Service", "v": "v1"},
		}},
	}, "Deployment/default/web created\nService/default/web created")
	start := time.Now()
	out, err := l.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main")
	<-done
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the push waited %s: the result was written at once", time.Since(start))
	}
	for _, want := range []string{
		"applying " + rev,
		"applied " + rev + ": Ready",
		"Applied revision: " + rev,
		"events:", "Deployment/default/web created", "Service/default/web created",
		"inventory: 2 objects", "Deployment/default/web\n", "Service/default/web\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}

	// A failed apply: Ready=False with the controller's message.
	h = l.commit("main", map[string]string{"bad.yaml": "kind: ???\n"})
	rev = "main@sha1:" + h.String()
	done = playController(t, a, "web", map[string]any{
		"lastAttemptedRevision": rev,
		"conditions": []any{map[string]any{"type": "Ready", "status": "False", "reason": "BuildFailed",
			"message": "bad.yaml:1: kind ??? is not served", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
	}, "")
	out, err = l.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main")
	<-done
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	for _, want := range []string{"failed to apply " + rev + ": Ready=False, BuildFailed", "bad.yaml:1: kind ??? is not served"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
}

func TestGitRemoteRefusesRewritesUnlessAllowed(t *testing.T) {
	a := startGitTestAPI(t, -1, 0)
	l := newLocalRepo(t, gitURL(a, "default", "app"))
	l.commit("main", map[string]string{"a": "1"})
	if out, err := l.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	// A second client rewrites history and force-pushes.
	other := newLocalRepo(t, gitURL(a, "default", "app"))
	rewritten := other.commit("main", map[string]string{"b": "2"})
	out, err := other.push(a, adminAuth(a), nil, "+refs/heads/main:refs/heads/main")
	if err == nil || !strings.Contains(err.Error(), "non-fast-forward") || !strings.Contains(out, GitAllowForcePushAnnotation) {
		t.Fatalf("force push: %v\n%s", err, out)
	}
	// A deletion is refused too.
	out, err = l.push(a, adminAuth(a), nil, ":refs/heads/main")
	if err == nil || !strings.Contains(err.Error(), "deletion prohibited") || !strings.Contains(out, GitAllowDeleteAnnotation) {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	// The GitRepository's annotations allow both.
	a.must(http.StatusOK, "PATCH", "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories/app", "application/merge-patch+json",
		fmt.Sprintf(`{"metadata":{"annotations":{%q:"true",%q:"true"}}}`, GitAllowForcePushAnnotation, GitAllowDeleteAnnotation))
	if out, err := other.push(a, adminAuth(a), nil, "+refs/heads/main:refs/heads/main"); err != nil {
		t.Fatalf("allowed force push: %v\n%s", err, out)
	}
	sto, err := openGitRepo(a.run.Server.git.dir(gitRepo{"default", "app"}))
	if err != nil {
		t.Fatal(err)
	}
	defer sto.Close()
	if ref, err := sto.Reference(plumbing.Main); err != nil || ref.Hash() != rewritten {
		t.Fatalf("main = %v (%v), want %s", ref, err, rewritten)
	}
	other.commit("topic", map[string]string{"c": "3"})
	if out, err := other.push(a, adminAuth(a), nil, "refs/heads/topic:refs/heads/topic"); err != nil || !strings.Contains(out, "follows branch main") {
		t.Fatalf("push topic: %v\n%s", err, out)
	}
	if out, err := other.push(a, adminAuth(a), nil, ":refs/heads/topic"); err != nil {
		t.Fatalf("allowed delete: %v\n%s", err, out)
	}
	if _, err := sto.Reference(plumbing.NewBranchReferenceName("topic")); err == nil {
		t.Fatal("topic still exists after its deletion")
	}
}

func TestGitRemoteAuthentication(t *testing.T) {
	a := startGitTestAPI(t, -1, 0)
	get := func(path string, set func(*http.Request)) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", a.run.URL+path, nil)
		if set != nil {
			set(req)
		}
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	refs := "/git/default/shop.git/info/refs?service=git-receive-pack"
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	basic := func(tok string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth("anyone", tok) } }
	cases := []struct {
		name, path string
		set        func(*http.Request)
		code       int
		body       string
	}{
		{"no credentials", refs, nil, http.StatusUnauthorized, "authentication required"},
		{"wrong bearer", refs, bearer("nope"), http.StatusUnauthorized, "authentication required"},
		{"wrong basic", refs, basic("nope"), http.StatusUnauthorized, "authentication required"},
		{"node token", refs, bearer(a.run.NodeToken), http.StatusForbidden, `may not push to default/shop`},
		{"node token fetch", "/git/default/shop.git/info/refs?service=git-upload-pack", basic(a.run.NodeToken), http.StatusForbidden, "may not read"},
		{"admin bearer", refs, bearer(a.run.AdminToken), http.StatusOK, "# service=git-receive-pack"},
		{"admin basic", refs, basic(a.run.AdminToken), http.StatusOK, "capabilities^{}"},
		{"admin token as user name", refs, func(r *http.Request) { r.SetBasicAuth(a.run.AdminToken, "") }, http.StatusOK, "capabilities^{}"},
		{"empty basic", refs, func(r *http.Request) { r.SetBasicAuth("", "") }, http.StatusUnauthorized, "authentication required"},
		{"missing namespace", "/git/nope/shop.git/info/refs?service=git-receive-pack", bearer(a.run.AdminToken), http.StatusNotFound, `namespace "nope" not found`},
		{"missing repository", "/git/default/shop.git/info/refs?service=git-upload-pack", bearer(a.run.AdminToken), http.StatusNotFound, "does not exist yet"},
		{"dumb protocol", "/git/default/shop.git/info/refs", bearer(a.run.AdminToken), http.StatusForbidden, "smart HTTP protocol only"},
		{"dumb file", "/git/default/shop.git/HEAD", bearer(a.run.AdminToken), http.StatusNotFound, "smart HTTP protocol only"},
		{"path escape", "/git/default/..%2F..%2Fetc.git/info/refs?service=git-upload-pack", bearer(a.run.AdminToken), http.StatusNotFound, "invalid repository name"},
	}
	for _, c := range cases {
		code, h, body := get(c.path, c.set)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, code, body, c.code, c.body)
		}
		if code == http.StatusUnauthorized && h.Get("WWW-Authenticate") != `Basic realm="skiff"` {
			t.Errorf("%s: WWW-Authenticate = %q", c.name, h.Get("WWW-Authenticate"))
		}
	}
	// A POST to the service: the wrong Content-Type is refused naming
	// the one git sends; git's credential probe (a lone flush-pkt) gets
	// an empty 200 and changes nothing.
	post := func(ctype, body string) (int, string) {
		t.Helper()
		return gitPost(t, a, a.run.URL+"/git/default/shop.git/git-receive-pack", ctype, body, false)
	}
	if code, body := post("text/plain", "0000"); code != http.StatusUnsupportedMediaType || !strings.Contains(body, `git sends "application/x-git-receive-pack-request"`) {
		t.Errorf("wrong Content-Type: %d %q", code, body)
	}
	if code, body := post("application/x-git-receive-pack-request", "0000"); code != http.StatusOK || body != "" {
		t.Errorf("probe: %d %q, want an empty 200", code, body)
	}
	// The capabilities this layer adds are advertised.
	_, h, body := get(refs, bearer(a.run.AdminToken))
	for _, c := range []string{"report-status", "side-band-64k", "push-options", "no-thin", "delete-refs"} {
		if !strings.Contains(body, c) {
			t.Errorf("receive-pack advertisement lacks %s: %q", c, body)
		}
	}
	if ct := h.Get("Content-Type"); ct != "application/x-git-receive-pack-advertisement" {
		t.Errorf("Content-Type = %q", ct)
	}
	// go-git's client with a node token gets 403 on push.
	l := newLocalRepo(t, gitURL(a, "default", "shop"))
	l.commit("main", map[string]string{"a": "1"})
	if _, err := l.push(a, &githttp.BasicAuth{Username: "x", Password: a.run.NodeToken}, nil, "refs/heads/main:refs/heads/main"); err == nil {
		t.Fatal("a node's token pushed")
	}
	if _, err := os.Stat(a.run.Server.git.dir(gitRepo{"default", "shop"})); !os.IsNotExist(err) {
		t.Errorf("a refused push left a repository: %v", err)
	}
}

// gitPost POSTs body (gzipped if gz) to a git service URL with the admin
// token and returns the status and the answer.
func gitPost(t *testing.T, a *testAPI, url, contentType, body string, gz bool) (int, string) {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write([]byte(body))
		zw.Close()
		rd = &buf
	}
	req, _ := http.NewRequest("POST", url, rd)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+a.run.AdminToken)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pkt encodes pkt-lines; "" is a flush.
func pkt(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			b.WriteString("0000")
			continue
		}
		fmt.Fprintf(&b, "%04x%s", len(l)+4, l)
	}
	return b.String()
}

func TestGitRemoteNegotiation(t *testing.T) {
	a := startGitTestAPI(t, -1, 0)
	l := newLocalRepo(t, gitURL(a, "default", "neg"))
	first := l.commit("main", map[string]string{"a": "1"})
	tip := l.commit("main", map[string]string{"b": "2"})
	if out, err := l.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	post := func(body string, gz bool) (int, string) {
		t.Helper()
		return gitPost(t, a, gitURL(a, "default", "neg")+"/git-upload-pack", "application/x-git-upload-pack-request", body, gz)
	}
	unknown := strings.Repeat("ab", 20)
	want := "want " + tip.String() + " multi_ack_detailed side-band-64k ofs-delta agent=git/2.39.5\n"
	// A round without done: an ACK for the common have, then NAK.
	code, body := post(pkt(want, "", "have "+unknown+"\n", "have "+first.String()+"\n", ""), true)
	if wantBody := pkt("ACK "+first.String()+" common\n", "NAK\n"); code != http.StatusOK || body != wantBody {
		t.Errorf("negotiation round: %d %q, want %q", code, body, wantBody)
	}
	// The final round: the last ACK, then the pack on band 1, which
	// holds only the second commit's objects (commit, tree, blob).
	code, body = post(pkt(want, "", "have "+first.String()+"\n", "done\n"), false)
	if ack := pkt("ACK "+first.String()+" common\n", "ACK "+first.String()+"\n"); code != http.StatusOK || !strings.HasPrefix(body, ack) ||
		!strings.Contains(body, "\x01PACK\x00\x00\x00\x02\x00\x00\x00\x03") || !strings.HasSuffix(body, "0000") {
		t.Errorf("final round: %d %q", code, body)
	}
	// A want that is no reference's tip is refused (on band 3).
	code, body = post(pkt("want "+unknown+" side-band-64k\n", "", "done\n"), false)
	if code != http.StatusOK || !strings.Contains(body, "\x03upload-pack: not our ref "+unknown) {
		t.Errorf("unknown want: %d %q", code, body)
	}
	// git's credential probe: a lone flush, answered with an empty 200.
	if code, body := post("0000", false); code != http.StatusOK || body != "" {
		t.Errorf("probe: %d %q", code, body)
	}
}

func TestGitRemoteSizeCap(t *testing.T) {
	a := startGitTestAPI(t, -1, 4<<10)
	small := newLocalRepo(t, gitURL(a, "default", "small"))
	small.commit("main", map[string]string{"a": "1"})
	if out, err := small.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main"); err != nil {
		t.Fatalf("small push: %v\n%s", err, out)
	}
	l := newLocalRepo(t, gitURL(a, "default", "big"))
	var big strings.Builder
	for i := 0; big.Len() < 64<<10; i++ {
		fmt.Fprintf(&big, "%d %x\n", i, i*7919)
	}
	l.commit("main", map[string]string{"big.txt": big.String()})
	out, err := l.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main")
	if err == nil || !strings.Contains(err.Error(), "larger than the server's limit of 4 KiB") || !strings.Contains(out, "push refused") {
		t.Fatalf("oversized push: %v\n%s", err, out)
	}
	if _, err := os.Stat(a.run.Server.git.dir(gitRepo{"default", "big"})); !os.IsNotExist(err) {
		t.Errorf("an oversized push left a repository: %v", err)
	}
	// A body small as sent but large once decompressed is refused too.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(pkt("want "+strings.Repeat("ab", 20)+"\n", "")))
	_, _ = zw.Write(bytes.Repeat([]byte(pkt("have "+strings.Repeat("cd", 20)+"\n")), 8<<10))
	zw.Close()
	if buf.Len() > 4<<10 {
		t.Fatalf("the compressed body is %d bytes: not a test of the decompressed cap", buf.Len())
	}
	req, _ := http.NewRequest("POST", gitURL(a, "default", "small")+"/git-upload-pack", &buf)
	req.Header.Set("Content-Type", "application/x-git-upload-pack-request")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+a.run.AdminToken)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "larger than the server's limit of 4 KiB") {
		t.Errorf("decompressed body over the cap: %d %s", resp.StatusCode, b)
	}
}

func TestParseGitPath(t *testing.T) {
	cases := []struct {
		path, ns, name, op string
		ok                 bool
	}{
		{"/git/default/shop.git/info/refs", "default", "shop", gitInfoRefs, true},
		{"/git/default/shop/git-upload-pack", "default", "shop", gitUploadPack, true},
		{"/git/team-a/my.app.git/git-receive-pack", "team-a", "my.app", gitReceivePack, true},
		{"/git/default/shop.git/objects/info/packs", "", "", "", false},
		{"/git/default/../x.git/info/refs", "", "", "", false},
		{"/git/Default/shop.git/info/refs", "", "", "", false},
		{"/git/default/a/b.git/info/refs", "", "", "", false},
		{"/git/default.git", "", "", "", false},
	}
	for _, c := range cases {
		repo, op, err := parseGitPath(c.path)
		if (err == nil) != c.ok || (c.ok && (repo.Namespace != c.ns || repo.Name != c.name || op != c.op)) {
			t.Errorf("parseGitPath(%q) = %+v %q %v", c.path, repo, op, err)
		}
	}
}

func TestKustomizationAttempted(t *testing.T) {
	rev := "main@sha1:" + strings.Repeat("a", 40)
	k := func(attempted, ready, handled string) *flux.Kustomization {
		out := &flux.Kustomization{}
		out.Status.LastAttemptedRevision = attempted
		out.Status.LastHandledReconcileAt = handled
		if ready != "" {
			out.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionStatus(ready)}}
		}
		return out
	}
	cases := []struct {
		k           *flux.Kustomization
		needHandled bool
		want        bool
	}{
		{k(rev, "True", ""), false, true},
		{k(rev, "False", ""), false, true},
		{k(rev, "Unknown", ""), false, false},
		{k(rev, "", ""), false, false},
		{k("main@sha1:"+strings.Repeat("b", 40), "True", ""), false, false},
		{k(rev, "True", "old"), true, false},
		{k(rev, "True", "tok"), true, true},
	}
	for i, c := range cases {
		if _, got := kustomizationAttempted(c.k, rev, "tok", c.needHandled); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
	if got := inventoryName("default_web_apps_Deployment"); got != "Deployment/default/web" {
		t.Errorf("inventoryName = %q", got)
	}
	if got := inventoryName("_team__Namespace"); got != "Namespace/team" {
		t.Errorf("inventoryName = %q", got)
	}
}

// Two clients pushing unrelated histories at once: one wins, the other
// is refused, and the repository holds the winner's commit.
func TestGitRemoteConcurrentPushes(t *testing.T) {
	a := startGitTestAPI(t, -1, 0)
	url := gitURL(a, "default", "race")
	var heads [2]plumbing.Hash
	var errs [2]error
	var outs [2]string
	repos := [2]*localRepo{newLocalRepo(t, url), newLocalRepo(t, url)}
	for i, l := range repos {
		heads[i] = l.commit("main", map[string]string{"who": fmt.Sprint(i)})
	}
	var wg sync.WaitGroup
	for i, l := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = l.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main")
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("want exactly one push to succeed: %v (%s) / %v (%s)", errs[0], outs[0], errs[1], outs[1])
	}
	winner := 0
	if errs[0] != nil {
		winner = 1
	}
	sto, err := openGitRepo(a.run.Server.git.dir(gitRepo{"default", "race"}))
	if err != nil {
		t.Fatal(err)
	}
	defer sto.Close()
	if ref, err := sto.Reference(plumbing.Main); err != nil || ref.Hash() != heads[winner] {
		t.Fatalf("main = %v (%v), want the winner's %s", ref, err, heads[winner])
	}
}
