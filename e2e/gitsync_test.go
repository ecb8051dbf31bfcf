package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

var (
	gitRepoGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	ksGVR      = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

// gitsyncEnv is one server with a simulated node (pods turn Ready
// without Docker), the clients to inspect it, and stock kubectl.
type gitsyncEnv struct {
	t   *testing.T
	s   *cluster.Server
	cs  *kubernetes.Clientset
	dyn dynamic.Interface
	k   *kubectl
}

func newGitsyncEnv(t *testing.T) *gitsyncEnv {
	t.Helper()
	s := startServer(t)
	fakeNodes(t, s, 1)
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &gitsyncEnv{t: t, s: s, cs: clientset(t, s), dyn: dyn, k: newKubectl(t, s, "")}
}

func (e *gitsyncEnv) get(gvr schema.GroupVersionResource, name string) *unstructured.Unstructured {
	e.t.Helper()
	u, err := e.dyn.Resource(gvr).Namespace("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// apply runs kubectl apply -f - and fails the test unless it succeeds.
func (e *gitsyncEnv) apply(manifest string) {
	e.t.Helper()
	if out, errOut, code := e.k.runIn(manifest, "apply", "-f", "-"); code != 0 {
		e.t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
}

func str(u *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, path...)
	return s
}

// cond returns status, reason and message of a condition ("" if absent).
func cond(u *unstructured.Unstructured, typ string) (string, string, string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			return fmt.Sprint(m["status"]), fmt.Sprint(m["reason"]), fmt.Sprint(m["message"])
		}
	}
	return "", "", ""
}

func (e *gitsyncEnv) configMapData(name string) (string, error) {
	cm, err := e.cs.CoreV1().ConfigMaps("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return cm.Data["v"], nil
}

// gitRepo is a local repository driven with the git CLI.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	r := &gitRepo{t: t, dir: filepath.Join(t.TempDir(), "repo")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("init", "-q", "-b", "master")
	r.git("config", "user.email", "e2e@skiff.dev")
	r.git("config", "user.name", "e2e")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// Write and rename, as editors save, so a watcher never reads half a
	// file.
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// commit writes files (content "" removes the file) and commits; it
// returns the new HEAD.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		if content == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		writeFile(r.t, p, content)
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

const gitsyncDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: example.com/web:1
`

// gitsyncService names its port's protocol: Skiff's server-side apply
// does not yet default list-map keys (ports are keyed by port+protocol),
// so a second apply of a Service without it fails as a duplicate port.
const gitsyncService = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector: {app: web}
  ports:
  - port: 80
    protocol: TCP
`

func configMap(name, v string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  namespace: default
data:
  v: %q
`, name, v)
}

func gitRepositoryYAML(name, url, extra string) string {
	return fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: %s
  namespace: default
spec:
  url: %s
  interval: 10m
%s`, name, url, extra)
}

func kustomizationYAML(name, source, path, extra string) string {
	return fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: %s
  namespace: default
spec:
  sourceRef: {kind: GitRepository, name: %s}
  path: %s
  prune: true
  interval: 10m
  retryInterval: 2s
  timeout: 30s
%s`, name, source, path, extra)
}

// waitApplied waits until the Kustomization is Ready at revision.
func (e *gitsyncEnv) waitApplied(name, revision string, timeout time.Duration) *unstructured.Unstructured {
	e.t.Helper()
	var ks *unstructured.Unstructured
	eventually(e.t, timeout, func() error {
		ks = e.get(ksGVR, name)
		st, reason, msg := cond(ks, "Ready")
		if st != "True" || str(ks, "status", "lastAppliedRevision") != revision {
			return fmt.Errorf("kustomization %s: Ready=%s %s %q, lastAppliedRevision %q, want %q", name, st, reason, msg, str(ks, "status", "lastAppliedRevision"), revision)
		}
		return nil
	})
	return ks
}

func inventoryIDs(ks *unstructured.Unstructured) []string {
	es, _, _ := unstructured.NestedSlice(ks.Object, "status", "inventory", "entries")
	var ids []string
	for _, e := range es {
		m, _ := e.(map[string]any)
		ids = append(ids, fmt.Sprint(m["id"]))
	}
	slices.Sort(ids)
	return ids
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// TestGitSyncLocalRepo drives a file:// git repository made with the git
// CLI through the GitRepository and Kustomization controllers of a real
// skiff server, as a Flux user would: first sync, a change and a removal
// (pruned), a YAML syntax error and an object the API server rejects
// (nothing applied, the file and line named), the fix, and the
// commit-to-applied latency. Simulated node, no Docker.
func TestGitSyncLocalRepo(t *testing.T) {
	e := newGitsyncEnv(t)
	repo := newGitRepo(t)
	head := repo.commit("first", map[string]string{
		"deploy/web.yaml":    gitsyncDeployment,
		"deploy/svc.yaml":    gitsyncService,
		"deploy/config.yaml": configMap("web", "one"),
		"README.md":          "not a manifest, outside path\n",
	})
	rev := "master@sha1:" + head
	e.apply(gitRepositoryYAML("app", "file://"+repo.dir, "") + "---\n" + kustomizationYAML("app", "app", "./deploy", "  wait: true\n"))

	t.Run("first sync: Ready with Flux's revision and messages, objects applied", func(t *testing.T) {
		e.k.must("wait", "--for=condition=Ready", "gitrepository/app", "kustomization/app", "--timeout=60s")
		gr := e.get(gitRepoGVR, "app")
		if got := str(gr, "status", "artifact", "revision"); got != rev {
			t.Fatalf("artifact revision %q, want %q", got, rev)
		}
		if st, reason, msg := cond(gr, "Ready"); st != "True" || reason != "Succeeded" || msg != "stored artifact for revision '"+rev+"'" {
			t.Fatalf("GitRepository Ready = %s %s %q", st, reason, msg)
		}
		if st, _, _ := cond(gr, "ArtifactInStorage"); st != "True" {
			t.Fatalf("ArtifactInStorage = %q", st)
		}
		url := str(gr, "status", "artifact", "url")
		if !strings.HasPrefix(url, "file://"+e.s.DataDir()) {
			t.Fatalf("artifact url %q not under the data dir %s", url, e.s.DataDir())
		}
		ks := e.waitApplied("app", rev, 30*time.Second)
		if _, reason, msg := cond(ks, "Ready"); reason != "ReconciliationSucceeded" || msg != "Applied revision: "+rev {
			t.Fatalf("Kustomization Ready = %s %q", reason, msg)
		}
		if st, _, _ := cond(ks, "Healthy"); st != "True" {
			t.Fatalf("Healthy = %q with wait: true", st)
		}
		want := []string{"default_web__ConfigMap", "default_web__Service", "default_web_apps_Deployment"}
		if got := inventoryIDs(ks); !slices.Equal(got, want) {
			t.Fatalf("inventory %v, want %v", got, want)
		}
		d, err := e.cs.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Labels["kustomize.toolkit.fluxcd.io/name"] != "app" || d.Status.AvailableReplicas != 1 {
			t.Fatalf("deployment labels %v, available %d", d.Labels, d.Status.AvailableReplicas)
		}
		if v, err := e.configMapData("web"); err != nil || v != "one" {
			t.Fatalf("configmap: %q %v", v, err)
		}
		out := e.k.must("get", "kustomizations")
		if !strings.Contains(out, "Applied revision: "+rev) {
			t.Fatalf("kubectl get kustomizations:\n%s", out)
		}
	})

	t.Run("a change and a removal: applied, pruned, inventory updated, events listed", func(t *testing.T) {
		head = repo.commit("second", map[string]string{"deploy/config.yaml": configMap("web", "two"), "deploy/svc.yaml": ""})
		rev = "master@sha1:" + head
		ks := e.waitApplied("app", rev, 20*time.Second)
		if v, _ := e.configMapData("web"); v != "two" {
			t.Fatalf("configmap v = %q, want two", v)
		}
		if _, err := e.cs.CoreV1().Services("default").Get(context.Background(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("service not pruned: %v", err)
		}
		if got := inventoryIDs(ks); len(got) != 2 || slices.Contains(got, "default_web__Service") {
			t.Fatalf("inventory %v", got)
		}
		eventually(t, 10*time.Second, func() error {
			evs, err := e.cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=app,involvedObject.kind=Kustomization"})
			if err != nil {
				return err
			}
			var all []string
			for _, ev := range evs.Items {
				all = append(all, ev.Message)
			}
			joined := strings.Join(all, "\n")
			for _, want := range []string{"ConfigMap/default/web configured", "Service/default/web deleted"} {
				if !strings.Contains(joined, want) {
					return fmt.Errorf("no event %q in:\n%s", want, joined)
				}
			}
			return nil
		})
	})

	good := rev
	t.Run("a YAML syntax error: Ready=False naming file:line, nothing applied", func(t *testing.T) {
		head = repo.commit("broken", map[string]string{
			"deploy/config.yaml": configMap("web", "three"),
			"deploy/bad.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: default\ndata:\n  v: [unclosed\n",
		})
		bad := "master@sha1:" + head
		eventually(t, 20*time.Second, func() error {
			ks := e.get(ksGVR, "app")
			st, reason, msg := cond(ks, "Ready")
			if st != "False" || reason != "BuildFailed" || !strings.Contains(msg, "deploy/bad.yaml:") || str(ks, "status", "lastAttemptedRevision") != bad {
				return fmt.Errorf("Ready=%s %s %q", st, reason, msg)
			}
			return nil
		})
		if v, _ := e.configMapData("web"); v != "two" {
			t.Fatalf("configmap v = %q: part of a broken revision was applied", v)
		}
		if got := str(e.get(ksGVR, "app"), "status", "lastAppliedRevision"); got != good {
			t.Fatalf("lastAppliedRevision %q, want %q", got, good)
		}
	})

	t.Run("an object the server rejects: nothing applied, the object's file:line and reason named", func(t *testing.T) {
		head = repo.commit("rejected", map[string]string{
			"deploy/bad.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\n  namespace: default\nspec:\n  ports:\n  - port: 99999\n",
		})
		bad := "master@sha1:" + head
		eventually(t, 20*time.Second, func() error {
			ks := e.get(ksGVR, "app")
			st, reason, msg := cond(ks, "Ready")
			if st != "False" || reason != "ReconciliationFailed" || !strings.Contains(msg, "deploy/bad.yaml:1") ||
				!strings.Contains(msg, "Invalid") || str(ks, "status", "lastAttemptedRevision") != bad {
				return fmt.Errorf("Ready=%s %s %q", st, reason, msg)
			}
			return nil
		})
		if v, _ := e.configMapData("web"); v != "two" {
			t.Fatalf("configmap v = %q: part of a rejected revision was applied", v)
		}
	})

	t.Run("the fix is applied", func(t *testing.T) {
		head = repo.commit("fixed", map[string]string{"deploy/bad.yaml": ""})
		rev = "master@sha1:" + head
		e.waitApplied("app", rev, 20*time.Second)
		if v, _ := e.configMapData("web"); v != "three" {
			t.Fatalf("configmap v = %q, want three", v)
		}
	})

	t.Run("an immutable field: refused, then recreated with spec.force", func(t *testing.T) {
		before, err := e.cs.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		head = repo.commit("new selector", map[string]string{"deploy/web.yaml": strings.ReplaceAll(gitsyncDeployment, "app: web", "app: web2")})
		rev = "master@sha1:" + head
		eventually(t, 20*time.Second, func() error {
			ks := e.get(ksGVR, "app")
			st, reason, msg := cond(ks, "Ready")
			if st != "False" || reason != "ReconciliationFailed" || !strings.Contains(msg, "deploy/web.yaml:1") || !strings.Contains(msg, "immutable") {
				return fmt.Errorf("Ready=%s %s %q", st, reason, msg)
			}
			return nil
		})
		e.k.must("patch", "kustomization/app", "--type=merge", "-p", `{"spec":{"force":true}}`)
		e.waitApplied("app", rev, 40*time.Second)
		after, err := e.cs.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.UID == before.UID || after.Spec.Selector.MatchLabels["app"] != "web2" {
			t.Fatalf("deployment not recreated: uid %s -> %s, selector %v", before.UID, after.UID, after.Spec.Selector.MatchLabels)
		}
	})

	t.Run("commit to applied latency", func(t *testing.T) {
		var ds []time.Duration
		for i := range 10 {
			v := fmt.Sprintf("lat-%d", i)
			start := time.Now()
			head = repo.commit(v, map[string]string{"deploy/config.yaml": configMap("web", v)})
			rev = "master@sha1:" + head
			e.waitApplied("app", rev, 20*time.Second)
			ds = append(ds, time.Since(start))
		}
		t.Logf("FIGURE commit -> Kustomization Ready (file:// repo, wait: true, 3 objects): p50 %s, max %s over %d commits",
			percentile(ds, 0.5).Round(time.Millisecond), percentile(ds, 1).Round(time.Millisecond), len(ds))
	})

	t.Run("a no-op resync writes nothing to the applied objects", func(t *testing.T) {
		cm, err := e.cs.CoreV1().ConfigMaps("default").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ds []time.Duration
		for i := range 10 {
			at := fmt.Sprintf("noop-%d", i)
			start := time.Now()
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, at)
			if _, err := e.dyn.Resource(ksGVR).Namespace("default").Patch(context.Background(), "app", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, func() error {
				if got := str(e.get(ksGVR, "app"), "status", "lastHandledReconcileAt"); got != at {
					return fmt.Errorf("lastHandledReconcileAt %q, want %q", got, at)
				}
				return nil
			})
			ds = append(ds, time.Since(start))
		}
		after, err := e.cs.CoreV1().ConfigMaps("default").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.ResourceVersion != cm.ResourceVersion {
			t.Fatalf("configmap written by a no-op resync: resourceVersion %s -> %s", cm.ResourceVersion, after.ResourceVersion)
		}
		t.Logf("FIGURE no-op resync (requestedAt -> lastHandledReconcileAt, 2 objects, wait: true): p50 %s", percentile(ds, 0.5).Round(time.Millisecond))
	})

	t.Run("drift is corrected at the next reconcile", func(t *testing.T) {
		if _, err := e.cs.CoreV1().ConfigMaps("default").Patch(context.Background(), "web", types.MergePatchType, []byte(`{"data":{"v":"drifted"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		e.k.must("annotate", "--overwrite", "kustomization/app", "reconcile.fluxcd.io/requestedAt=drift")
		eventually(t, 10*time.Second, func() error {
			if v, _ := e.configMapData("web"); v != "lat-9" {
				return fmt.Errorf("configmap v = %q", v)
			}
			return nil
		})
	})

	t.Run("source unreachable: Ready=False with the error, nothing pruned, recovery", func(t *testing.T) {
		moved := repo.dir + ".away"
		if err := os.Rename(repo.dir, moved); err != nil {
			t.Fatal(err)
		}
		e.k.must("annotate", "--overwrite", "gitrepository/app", "reconcile.fluxcd.io/requestedAt=gone")
		eventually(t, 10*time.Second, func() error {
			st, reason, msg := cond(e.get(gitRepoGVR, "app"), "Ready")
			if st != "False" || reason != "GitOperationFailed" || !strings.Contains(msg, "failed to checkout and determine revision") {
				return fmt.Errorf("GitRepository Ready=%s %s %q", st, reason, msg)
			}
			return nil
		})
		if st, _, _ := cond(e.get(gitRepoGVR, "app"), "ArtifactInStorage"); st != "True" {
			t.Fatalf("ArtifactInStorage=%s: the last artifact must stay", st)
		}
		if _, err := e.cs.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{}); err != nil {
			t.Fatalf("objects touched while the source is gone: %v", err)
		}
		if err := os.Rename(moved, repo.dir); err != nil {
			t.Fatal(err)
		}
		head = repo.commit("back", map[string]string{"deploy/config.yaml": configMap("web", "back")})
		rev = "master@sha1:" + head
		e.waitApplied("app", rev, 30*time.Second)
		if st, _, _ := cond(e.get(gitRepoGVR, "app"), "Ready"); st != "True" {
			t.Fatalf("GitRepository Ready=%s after recovery", st)
		}
	})

	t.Run("deleting the Kustomization prunes what it applied", func(t *testing.T) {
		e.k.must("delete", "kustomization/app", "--timeout=30s")
		eventually(t, 20*time.Second, func() error {
			if _, err := e.cs.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("deployment still there: %v", err)
			}
			return nil
		})
	})
}

// TestGitSyncFolder uses a plain folder as the source (Skiff extension):
// a saved file is applied at once with no requestedAt; suspend stops it;
// dependsOn waits for the dependency; unsupported fields are named in a
// NotSupported condition and nothing is applied. Simulated node, no
// Docker.
func TestGitSyncFolder(t *testing.T) {
	e := newGitsyncEnv(t)
	dir := filepath.Join(t.TempDir(), "site")
	writeFile(t, filepath.Join(dir, "app", "config.yaml"), configMap("folder", "v0"))
	writeFile(t, filepath.Join(dir, "extra", "config.yaml"), configMap("extra", "x"))
	e.apply(gitRepositoryYAML("site", "file://"+dir, "") + "---\n" + kustomizationYAML("site", "site", "./app", ""))
	e.k.must("wait", "--for=condition=Ready", "gitrepository/site", "kustomization/site", "--timeout=60s")
	if v, err := e.configMapData("folder"); err != nil || v != "v0" {
		t.Fatalf("configmap: %q %v", v, err)
	}
	if rev := str(e.get(gitRepoGVR, "site"), "status", "artifact", "revision"); !strings.HasPrefix(rev, "sha256:") {
		t.Fatalf("folder revision %q, want sha256:…", rev)
	}

	t.Run("a saved file is applied within a couple of seconds", func(t *testing.T) {
		var ds []time.Duration
		for i := 1; i <= 10; i++ {
			v := fmt.Sprintf("v%d", i)
			start := time.Now()
			writeFile(t, filepath.Join(dir, "app", "config.yaml"), configMap("folder", v))
			eventually(t, 2*time.Second, func() error {
				if got, _ := e.configMapData("folder"); got != v {
					return fmt.Errorf("configmap v = %q, want %q", got, v)
				}
				return nil
			})
			ds = append(ds, time.Since(start))
		}
		t.Logf("FIGURE file write -> object applied (folder source): p50 %s, max %s over %d writes",
			percentile(ds, 0.5).Round(time.Millisecond), percentile(ds, 1).Round(time.Millisecond), len(ds))
	})

	t.Run("suspend stops applying, resume applies", func(t *testing.T) {
		e.k.must("patch", "kustomization/site", "--type=merge", "-p", `{"spec":{"suspend":true}}`)
		time.Sleep(500 * time.Millisecond) // let the controller see it
		writeFile(t, filepath.Join(dir, "app", "config.yaml"), configMap("folder", "while-suspended"))
		time.Sleep(2 * time.Second)
		if got, _ := e.configMapData("folder"); got == "while-suspended" {
			t.Fatal("a suspended Kustomization applied a change")
		}
		e.k.must("patch", "kustomization/site", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		eventually(t, 5*time.Second, func() error {
			if got, _ := e.configMapData("folder"); got != "while-suspended" {
				return fmt.Errorf("configmap v = %q", got)
			}
			return nil
		})
	})

	t.Run("dependsOn waits for the dependency, then applies at once", func(t *testing.T) {
		e.apply(kustomizationYAML("second", "site", "./extra", "  dependsOn:\n  - name: first\n"))
		eventually(t, 10*time.Second, func() error {
			st, reason, msg := cond(e.get(ksGVR, "second"), "Ready")
			if st != "False" || reason != "DependencyNotReady" || !strings.Contains(msg, "default/first") {
				return fmt.Errorf("Ready=%s %s %q", st, reason, msg)
			}
			return nil
		})
		if _, err := e.configMapData("extra"); !apierrors.IsNotFound(err) {
			t.Fatalf("dependent applied before its dependency: %v", err)
		}
		e.apply(kustomizationYAML("first", "site", "./app", ""))
		// retryInterval is 2s; the dependency's status change must
		// trigger the dependent sooner.
		start := time.Now()
		e.k.must("wait", "--for=condition=Ready", "kustomization/second", "--timeout=30s")
		t.Logf("dependent Ready %s after its dependency was created", time.Since(start).Round(time.Millisecond))
		if v, err := e.configMapData("extra"); err != nil || v != "x" {
			t.Fatalf("configmap extra: %q %v", v, err)
		}
	})

	t.Run("unsupported fields: NotSupported condition, nothing applied", func(t *testing.T) {
		e.apply(kustomizationYAML("subst", "site", "./extra", "  namePrefix: subst-\n  postBuild:\n    substitute: {x: \"y\"}\n"))
		eventually(t, 10*time.Second, func() error {
			ks := e.get(ksGVR, "subst")
			st, reason, msg := cond(ks, "Ready")
			nst, _, nmsg := cond(ks, "NotSupported")
			if st != "False" || reason != "NotSupported" || nst != "True" || !strings.Contains(nmsg, "spec.postBuild") {
				return fmt.Errorf("Ready=%s %s %q; NotSupported=%s %q", st, reason, msg, nst, nmsg)
			}
			return nil
		})
		if _, err := e.cs.CoreV1().ConfigMaps("default").Get(context.Background(), "subst-extra", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("applied despite an unsupported field: %v", err)
		}
		e.apply(gitRepositoryYAML("verified", "file://"+dir, "  verify:\n    mode: HEAD\n    secretRef: {name: keys}\n"))
		eventually(t, 10*time.Second, func() error {
			gr := e.get(gitRepoGVR, "verified")
			st, reason, _ := cond(gr, "Ready")
			nst, _, nmsg := cond(gr, "NotSupported")
			if st != "False" || reason != "NotSupported" || nst != "True" || !strings.Contains(nmsg, "spec.verify") || str(gr, "status", "artifact", "revision") != "" {
				return fmt.Errorf("Ready=%s %s; NotSupported=%s %q", st, reason, nst, nmsg)
			}
			return nil
		})
	})

	t.Run("healthChecks: a listed object that never appears fails after spec.timeout", func(t *testing.T) {
		e.apply(strings.Replace(kustomizationYAML("hc", "site", "./extra", "  namePrefix: hc-\n  healthChecks:\n  - {apiVersion: apps/v1, kind: Deployment, name: missing, namespace: default}\n"),
			"timeout: 30s", "timeout: 2s", 1))
		eventually(t, 15*time.Second, func() error {
			ks := e.get(ksGVR, "hc")
			st, reason, msg := cond(ks, "Ready")
			hst, hreason, _ := cond(ks, "Healthy")
			if st != "False" || reason != "HealthCheckFailed" || !strings.Contains(msg, "Deployment/default/missing status: 'NotFound'") || hst != "False" || hreason != "HealthCheckFailed" {
				return fmt.Errorf("Ready=%s %s %q; Healthy=%s %s", st, reason, msg, hst, hreason)
			}
			if got := str(ks, "status", "lastAppliedRevision"); got != "" {
				return fmt.Errorf("lastAppliedRevision %q set though unhealthy", got)
			}
			return nil
		})
		// The objects were applied; only their health is in question.
		if v, err := e.configMapData("hc-extra"); err != nil || v != "x" {
			t.Fatalf("configmap hc-extra: %q %v", v, err)
		}
	})

	t.Run("a namespace and its objects in one revision", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "withns", "ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: gitsync-made\n")
		writeFile(t, filepath.Join(dir, "withns", "cm.yaml"), strings.Replace(configMap("inside", "y"), "namespace: default", "namespace: gitsync-made", 1))
		e.apply(kustomizationYAML("withns", "site", "./withns", ""))
		e.k.must("wait", "--for=condition=Ready", "kustomization/withns", "--timeout=30s")
		if _, err := e.cs.CoreV1().ConfigMaps("gitsync-made").Get(context.Background(), "inside", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("interval resyncs correct drift and otherwise write nothing", func(t *testing.T) {
		e.apply(strings.Replace(gitRepositoryYAML("steady", "file://"+dir, ""), "interval: 10m", "interval: 1s", 1) + "---\n" +
			strings.Replace(kustomizationYAML("steady", "steady", "./extra", "  namePrefix: steady-\n"), "interval: 10m", "interval: 1s", 1))
		e.k.must("wait", "--for=condition=Ready", "gitrepository/steady", "kustomization/steady", "--timeout=30s")
		time.Sleep(500 * time.Millisecond) // let the first reconciles' writes settle
		gr, ks := e.get(gitRepoGVR, "steady").GetResourceVersion(), e.get(ksGVR, "steady").GetResourceVersion()
		cm, err := e.cs.CoreV1().ConfigMaps("default").Get(context.Background(), "steady-extra", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3500 * time.Millisecond) // three resyncs of each
		if g2, k2 := e.get(gitRepoGVR, "steady").GetResourceVersion(), e.get(ksGVR, "steady").GetResourceVersion(); g2 != gr || k2 != ks {
			t.Errorf("unchanged resyncs wrote status: GitRepository rv %s -> %s, Kustomization rv %s -> %s", gr, g2, ks, k2)
		}
		if c2, _ := e.cs.CoreV1().ConfigMaps("default").Get(context.Background(), "steady-extra", metav1.GetOptions{}); c2.ResourceVersion != cm.ResourceVersion {
			t.Errorf("unchanged resyncs wrote the applied object: rv %s -> %s", cm.ResourceVersion, c2.ResourceVersion)
		}
		if _, err := e.cs.CoreV1().ConfigMaps("default").Patch(context.Background(), "steady-extra", types.MergePatchType, []byte(`{"data":{"v":"drifted"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Second, func() error {
			if v, _ := e.configMapData("steady-extra"); v != "x" {
				return fmt.Errorf("configmap v = %q, not corrected", v)
			}
			return nil
		})
	})

	t.Run("a deleted GitRepository's artifacts are removed", func(t *testing.T) {
		art := filepath.Join(e.s.DataDir(), "gitsync", "artifacts", "default", "site")
		if _, err := os.Stat(art); err != nil {
			t.Fatal(err)
		}
		e.k.must("delete", "gitrepository/site")
		eventually(t, 10*time.Second, func() error {
			if _, err := os.Stat(art); err == nil {
				return fmt.Errorf("%s still there", art)
			}
			return nil
		})
	})
}
