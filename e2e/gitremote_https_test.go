package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// TestGitRemoteHTTPS reads the built-in git remote the way a second
// cluster or a real Flux would: a GitRepository with the remote's https
// URL, following a branch, with a secretRef holding a token and the
// server's CA in Flux's format. The stock git client's shallow clone and
// deepening go to the same endpoint. Needs the built binary, not Docker.
func TestGitRemoteHTTPS(t *testing.T) {
	// Only the source controller: the push must not wait for a
	// Kustomization, and nothing here is applied.
	s := startServer(t, "--controllers=gitrepository")
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs := clientset(t, s)
	ca, err := os.ReadFile(filepath.Join(s.DataDir(), "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	g := newGitCLI(t, s)
	url := s.URL + "/git/default/app.git"
	auth := "http.extraHeader=Authorization: Bearer " + cfg.BearerToken

	// Three commits, so that depth 1 and full history differ.
	work := t.TempDir()
	g.must(work, "init", "-q", "-b", "main")
	commit := func(t *testing.T, i int) string {
		t.Helper()
		cm := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  version: %q\n", fmt.Sprint(i))
		if err := os.WriteFile(filepath.Join(work, "app.yaml"), []byte(cm), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, fmt.Sprintf("file-%d.txt", i)), []byte(strings.Repeat("x", 1000*i)), 0o644); err != nil {
			t.Fatal(err)
		}
		g.must(work, "add", ".")
		g.must(work, "commit", "-q", "-m", fmt.Sprintf("commit %d", i))
		return strings.TrimSpace(g.must(work, "rev-parse", "HEAD"))
	}
	for i := 1; i <= 3; i++ {
		commit(t, i)
	}
	head := strings.TrimSpace(g.must(work, "rev-parse", "HEAD"))
	g.must(work, "remote", "add", "skiff", url)
	g.must(work, "-c", auth, "push", "-q", "-o", "skiff.wait=false", "skiff", "main")

	ctx := context.Background()
	secret := func(t *testing.T, name string, data map[string][]byte) {
		t.Helper()
		data["ca.crt"] = ca
		_, err := cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data,
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	gitRepo := func(t *testing.T, name, secretName string) {
		t.Helper()
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
			"metadata": map[string]any{"name": name, "namespace": "default"},
			"spec": map[string]any{
				"url": url, "interval": "10m",
				"ref":       map[string]any{"branch": "main"},
				"secretRef": map[string]any{"name": secretName},
			},
		}}
		if _, err := dyn.Resource(gitRepositoriesGVR).Namespace("default").Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// waitRevision waits until the GitRepository is Ready with an
	// artifact at revision.
	waitRevision := func(t *testing.T, name, revision string) {
		t.Helper()
		start := time.Now()
		eventually(t, 60*time.Second, func() error {
			gr, err := dyn.Resource(gitRepositoriesGVR).Namespace("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			st, reason, msg := cond(gr, "Ready")
			got := str(gr, "status", "artifact", "revision")
			if st != "True" || got != revision {
				return fmt.Errorf("GitRepository %s: Ready=%s %s %q, artifact revision %q; want Ready at %s", name, st, reason, msg, got, revision)
			}
			return nil
		})
		t.Logf("GitRepository %s Ready at %s after %s", name, revision, time.Since(start).Round(time.Millisecond))
	}

	t.Run("bearer token", func(t *testing.T) {
		secret(t, "mirror-auth", map[string][]byte{"bearerToken": []byte(cfg.BearerToken)})
		gitRepo(t, "mirror", "mirror-auth")
		waitRevision(t, "mirror", "main@sha1:"+head)
	})

	t.Run("token as basic password", func(t *testing.T) {
		secret(t, "mirror-basic-auth", map[string][]byte{"username": []byte("skiff"), "password": []byte(cfg.BearerToken)})
		gitRepo(t, "mirror-basic", "mirror-basic-auth")
		waitRevision(t, "mirror-basic", "main@sha1:"+head)
	})

	t.Run("wrong token", func(t *testing.T) {
		secret(t, "mirror-bad-auth", map[string][]byte{"bearerToken": []byte("not-a-token")})
		gitRepo(t, "mirror-bad", "mirror-bad-auth")
		eventually(t, 60*time.Second, func() error {
			gr, err := dyn.Resource(gitRepositoriesGVR).Namespace("default").Get(ctx, "mirror-bad", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if st, reason, msg := cond(gr, "Ready"); st != "False" || !strings.Contains(msg, "authentication") {
				return fmt.Errorf("Ready=%s %s %q, want False for an authentication error", st, reason, msg)
			}
			return nil
		})
	})

	t.Run("follows a new push", func(t *testing.T) {
		next := commit(t, 4)
		g.must(work, "-c", auth, "push", "-q", "-o", "skiff.wait=false", "skiff", "main")
		// As `flux reconcile source git mirror` asks for it.
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
		if _, err := dyn.Resource(gitRepositoriesGVR).Namespace("default").Patch(ctx, "mirror", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		waitRevision(t, "mirror", "main@sha1:"+next)
		head = next
	})

	// The stock git client, shallow: a depth-1 clone has one commit and
	// the tip's files; deepening and unshallowing fetch the rest.
	t.Run("git clone --depth 1", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "shallow")
		g.must("", "-c", auth, "clone", "-q", "--depth", "1", "--branch", "main", url, dst)
		count := func() string { return strings.TrimSpace(g.must(dst, "rev-list", "--count", "HEAD")) }
		if got := strings.TrimSpace(g.must(dst, "rev-parse", "HEAD")); got != head {
			t.Fatalf("shallow clone HEAD %s, want %s", got, head)
		}
		if n := count(); n != "1" {
			t.Fatalf("depth-1 clone has %s commits", n)
		}
		if got := strings.TrimSpace(g.must(dst, "rev-parse", "--is-shallow-repository")); got != "true" {
			t.Fatalf("is-shallow-repository = %s", got)
		}
		if a, b := g.must(work, "ls-tree", "-r", "HEAD"), g.must(dst, "ls-tree", "-r", "HEAD"); a != b {
			t.Fatalf("shallow clone's tree differs:\n%s\nwant\n%s", b, a)
		}
		g.must(dst, "fsck", "--no-progress")
		// Only the tip came: its commit, root tree and blobs (the files
		// are all at the top level), not the earlier commits' objects.
		files := len(strings.Split(strings.TrimSpace(g.must(work, "ls-tree", "-r", "HEAD")), "\n"))
		if got, want := objectCount(t, g, dst), files+2; got != want {
			t.Fatalf("depth-1 clone holds %d objects, want %d (commit, tree, %d blobs)", got, want, files)
		}

		g.must(dst, "-c", auth, "fetch", "-q", "--deepen", "2")
		if n := count(); n != "3" {
			t.Fatalf("after --deepen 2: %s commits, want 3", n)
		}
		// A new commit fetched into the shallow clone keeps it shallow
		// and complete.
		next := commit(t, 5)
		g.must(work, "-c", auth, "push", "-q", "-o", "skiff.wait=false", "skiff", "main")
		g.must(dst, "-c", auth, "pull", "-q", "--ff-only")
		if n := count(); n != "4" {
			t.Fatalf("after a pull: %s commits, want 4", n)
		}
		if got := strings.TrimSpace(g.must(dst, "rev-parse", "HEAD")); got != next {
			t.Fatalf("pulled HEAD %s, want %s", got, next)
		}
		g.must(dst, "fsck", "--no-progress")

		g.must(dst, "-c", auth, "fetch", "-q", "--unshallow")
		if got := strings.TrimSpace(g.must(dst, "rev-parse", "--is-shallow-repository")); got != "false" {
			t.Fatalf("after --unshallow, is-shallow-repository = %s", got)
		}
		if a, b := g.must(work, "log", "--format=%H %s"), g.must(dst, "log", "--format=%H %s"); a != b {
			t.Fatalf("unshallowed history:\n%s\nwant\n%s", b, a)
		}
		g.must(dst, "fsck", "--no-progress")
	})

	t.Run("git clone --shallow-since refused", func(t *testing.T) {
		out, code := g.run("", "-c", auth, "clone", "-q", "--shallow-since", "2000-01-01", url, filepath.Join(t.TempDir(), "since"))
		if code == 0 || !strings.Contains(out, "shallow-since") {
			t.Fatalf("clone --shallow-since: exit %d\n%s", code, out)
		}
	})
}

// objectCount is the number of objects in a repository, loose or packed
// (git unpacks a small fetched pack into loose objects).
func objectCount(t *testing.T, g *gitCLI, dir string) int {
	t.Helper()
	n, seen := 0, 0
	for _, l := range strings.Split(g.must(dir, "count-objects", "-v"), "\n") {
		for _, key := range []string{"count: ", "in-pack: "} {
			if v, ok := strings.CutPrefix(l, key); ok {
				c, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					t.Fatal(err)
				}
				n += c
				seen++
			}
		}
	}
	if seen != 2 {
		t.Fatal("git count-objects -v printed no count or in-pack line")
	}
	return n
}
