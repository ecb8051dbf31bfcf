package gitrepository

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

// env is a controller over fake clients, its informers started.
type env struct {
	t    *testing.T
	c    *Controller
	dyn  *dynamicfake.FakeDynamicClient
	data string
}

func newEnv(t *testing.T, objs ...*flux.GitRepository) *env {
	t.Helper()
	var raw []runtime.Object
	for _, o := range objs {
		o.SetGroupVersionKind(flux.GitRepositoryKind)
		u, err := fluxobj.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, u)
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{fluxobj.GitRepositories: "GitRepositoryList"}, raw...)
	d := manager.NewDeps(fake.NewClientset(), nil, nil, nil, 0)
	d.Dynamic = dyn
	d.DynamicInformers = dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	data := t.TempDir()
	c, err := New(d, data)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d.DynamicInformers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		t.Fatal("cache sync")
	}
	return &env{t: t, c: c, dyn: dyn, data: data}
}

// reconcile runs one reconcile of default/<name> once the informer has
// caught up with the fake's latest write, and returns the object after.
func (e *env) reconcile(name string) (*flux.GitRepository, error) {
	e.t.Helper()
	e.sync(name)
	err := e.c.Reconcile(context.Background(), "default/"+name)
	u, gerr := e.dyn.Resource(fluxobj.GitRepositories).Namespace("default").Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(gerr) {
		return nil, err
	}
	if gerr != nil {
		e.t.Fatal(gerr)
	}
	obj, cerr := fluxobj.FromUnstructured[flux.GitRepository](u)
	if cerr != nil {
		e.t.Fatal(cerr)
	}
	return obj, err
}

// sync waits until the lister holds what the client has (the fake
// client keeps no resourceVersions, so the objects are compared).
func (e *env) sync(name string) {
	e.t.Helper()
	want, werr := e.dyn.Resource(fluxobj.GitRepositories).Namespace("default").Get(context.Background(), name, metav1.GetOptions{})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got, err := e.c.lister.ByNamespace("default").Get(name)
		switch {
		case werr != nil && apierrors.IsNotFound(err):
			return
		case werr == nil && err == nil && equality.Semantic.DeepEqual(got.(*unstructured.Unstructured).Object, want.Object):
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("informer did not catch up with %s", name)
}

func gitRepo(name, url string) *flux.GitRepository {
	return &flux.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Generation: 1},
		Spec:       flux.GitRepositorySpec{URL: url, Interval: flux.Duration{Duration: time.Minute}},
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func condition(t *testing.T, o *flux.GitRepository, typ string) metav1.Condition {
	t.Helper()
	c := fluxobj.FindCondition(o.Status.Conditions, typ)
	if c == nil {
		t.Fatalf("no %s condition in %+v", typ, o.Status.Conditions)
	}
	return *c
}

func TestFolderSourceArtifactLifecycle(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "cm.yaml"), "kind: ConfigMap\n")
	e := newEnv(t, gitRepo("site", "file://"+src))

	obj, err := e.reconcile("site")
	if err != nil {
		t.Fatal(err)
	}
	art := obj.Status.Artifact
	if art == nil || !strings.HasPrefix(art.Revision, "sha256:") || art.Revision != art.Digest {
		t.Fatalf("artifact %+v", art)
	}
	want := "stored artifact for revision '" + art.Revision + "'"
	for _, typ := range []string{fluxobj.ReadyCondition, fluxobj.ArtifactInStorageCondition} {
		if c := condition(t, obj, typ); c.Status != metav1.ConditionTrue || c.Reason != fluxobj.SucceededReason || c.Message != want {
			t.Errorf("%s = %+v", typ, c)
		}
	}
	if obj.Status.ObservedGeneration != 1 {
		t.Errorf("observedGeneration %d", obj.Status.ObservedGeneration)
	}
	dir, err := Resolve(e.c.StorageRoot(), art.Path)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cm.yaml")); err != nil || string(b) != "kind: ConfigMap\n" {
		t.Fatalf("artifact content %q %v", b, err)
	}
	if art.URL != "file://"+dir {
		t.Errorf("url %q, want file://%s", art.URL, dir)
	}

	// Unchanged: no status write at all.
	e.dyn.ClearActions()
	if _, err = e.reconcile("site"); err != nil {
		t.Fatal(err)
	}
	for _, a := range e.dyn.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("unchanged source wrote: %s %s", a.GetVerb(), a.GetSubresource())
		}
	}

	// A change: new artifact; the previous one stays (a Kustomization may
	// be reading it), the one before that goes.
	write(t, filepath.Join(src, "cm.yaml"), "kind: ConfigMap\nchanged: true\n")
	obj, err = e.reconcile("site")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Status.Artifact.Revision == art.Revision {
		t.Fatal("revision did not change")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the previous artifact %s is gone at once: %v", dir, err)
	}
	ents, _ := os.ReadDir(filepath.Join(e.c.StorageRoot(), "default", "site"))
	if len(ents) != 2 {
		t.Fatalf("storage holds %d entries, want 2 (current and previous)", len(ents))
	}
	write(t, filepath.Join(src, "cm.yaml"), "kind: ConfigMap\nchanged: again\n")
	if obj, err = e.reconcile("site"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("stale artifact %s kept after two changes: %v", dir, err)
	}
	ents, _ = os.ReadDir(filepath.Join(e.c.StorageRoot(), "default", "site"))
	if len(ents) != 2 {
		t.Fatalf("storage holds %d entries, want 2", len(ents))
	}

	// Deleted: storage removed.
	if err := e.dyn.Resource(fluxobj.GitRepositories).Namespace("default").Delete(context.Background(), "site", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reconcile("site"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.c.StorageRoot(), "default", "site")); !os.IsNotExist(err) {
		t.Fatalf("storage of a deleted object kept: %v", err)
	}
}

func TestRequestedAtIsRecorded(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "cm.yaml"), "kind: ConfigMap\n")
	g := gitRepo("site", "file://"+src)
	g.Annotations = map[string]string{fluxobj.RequestedAtAnnotation: "2026-01-01T00:00:00Z"}
	e := newEnv(t, g)
	obj, err := e.reconcile("site")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Status.LastHandledReconcileAt != "2026-01-01T00:00:00Z" {
		t.Fatalf("lastHandledReconcileAt %q", obj.Status.LastHandledReconcileAt)
	}
}

func TestUnsupportedFieldsAreNamedAndNothingIsFetched(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "cm.yaml"), "kind: ConfigMap\n")
	g := gitRepo("site", "file://"+src)
	g.Spec.Verification = &flux.GitRepositoryVerification{Mode: "HEAD", SecretRef: flux.LocalObjectReference{Name: "k"}}
	g.Spec.Include = []flux.GitRepositoryInclude{{GitRepositoryRef: flux.LocalObjectReference{Name: "other"}}}
	g.Spec.Provider = "azure"
	e := newEnv(t, g)
	obj, err := e.reconcile("site")
	if err != nil {
		t.Fatal(err)
	}
	ns := condition(t, obj, fluxobj.NotSupportedCondition)
	if ns.Status != metav1.ConditionTrue || ns.Message != "fields not supported by Skiff: spec.include, spec.provider (azure), spec.verify" {
		t.Errorf("NotSupported = %+v", ns)
	}
	if r := condition(t, obj, fluxobj.ReadyCondition); r.Status != metav1.ConditionFalse || r.Reason != fluxobj.NotSupportedReason {
		t.Errorf("Ready = %+v", r)
	}
	if s := condition(t, obj, fluxobj.StalledCondition); s.Status != metav1.ConditionTrue {
		t.Errorf("Stalled = %+v", s)
	}
	if obj.Status.Artifact != nil {
		t.Errorf("fetched despite unsupported fields: %+v", obj.Status.Artifact)
	}
}

func TestMissingSecretIsAnAuthenticationFailure(t *testing.T) {
	g := gitRepo("remote", "https://example.invalid/repo.git")
	g.Spec.SecretRef = &flux.LocalObjectReference{Name: "creds"}
	e := newEnv(t, g)
	obj, err := e.reconcile("remote")
	if err == nil {
		t.Fatal("want an error (retried with back-off)")
	}
	for _, typ := range []string{fluxobj.ReadyCondition, fluxobj.FetchFailedCondition} {
		c := condition(t, obj, typ)
		want := metav1.ConditionFalse
		if typ == fluxobj.FetchFailedCondition {
			want = metav1.ConditionTrue
		}
		if c.Status != want || c.Reason != fluxobj.AuthenticationFailedReason || !strings.Contains(c.Message, "failed to get secret 'default/creds'") {
			t.Errorf("%s = %+v", typ, c)
		}
	}
	if c := condition(t, obj, fluxobj.ReconcilingCondition); c.Reason != fluxobj.ProgressingWithRetryReason {
		t.Errorf("Reconciling = %+v", c)
	}
}

func TestSuspendedIsLeftAlone(t *testing.T) {
	g := gitRepo("site", "file:///does/not/exist")
	g.Spec.Suspend = true
	e := newEnv(t, g)
	obj, err := e.reconcile("site")
	if err != nil || len(obj.Status.Conditions) != 0 || obj.Status.Artifact != nil {
		t.Fatalf("suspended object touched: %+v %v", obj.Status, err)
	}
}

func TestResolveRefusesPathsOutsideStorage(t *testing.T) {
	for _, p := range []string{"../x/y", "a/b", "a/../b/c", "/etc/passwd/x", "a/b/c/d", "a//c", `a\b/c/d`} {
		if _, err := Resolve("/root", p); err == nil {
			t.Errorf("Resolve(%q) accepted", p)
		}
	}
	if got, err := Resolve("/root", "ns/name/abc"); err != nil || got != "/root/ns/name/abc" {
		t.Errorf("Resolve(ns/name/abc) = %q %v", got, err)
	}
}
