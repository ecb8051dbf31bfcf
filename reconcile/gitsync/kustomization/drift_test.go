package kustomization

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic/dynamicinformer"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
	"github.com/skiff-dev/skiff/reconcile/gitsync/render"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

func TestAppliedCacheRendersAgainWhenAnInputChanges(t *testing.T) {
	in := renderInputs{uid: "u1", generation: 3, artifactPath: "default/src/abc", revision: "main@sha1:abc", digest: "sha256:1"}
	var c appliedCache
	c.store("default/app", &appliedRevision{inputs: in})
	if c.lookup("default/app", in) == nil {
		t.Fatal("same inputs: the applied revision is not reused")
	}
	if c.lookup("default/other", in) != nil {
		t.Error("another Kustomization's key hit")
	}
	for name, mod := range map[string]func(*renderInputs){
		"new generation (spec edited)":     func(r *renderInputs) { r.generation = 4 },
		"recreated Kustomization":          func(r *renderInputs) { r.uid = "u2" },
		"new artifact revision":            func(r *renderInputs) { r.revision = "main@sha1:def" },
		"new artifact digest (same rev)":   func(r *renderInputs) { r.digest = "sha256:2" },
		"artifact stored under a new path": func(r *renderInputs) { r.artifactPath = "default/src/def" },
	} {
		changed := in
		mod(&changed)
		if c.lookup("default/app", changed) != nil {
			t.Errorf("%s: cached revision reused, want a new render", name)
		}
	}
	c.forget("default/app")
	if c.lookup("default/app", in) != nil {
		t.Error("forgotten entry still hit")
	}
}

func TestOwnedFieldsMatch(t *testing.T) {
	applied := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "default", "labels": map[string]any{"app": "web", NameLabel: "app"}},
		"spec": map[string]any{
			"replicas": int64(2),
			"template": map[string]any{"spec": map[string]any{
				"containers":      []any{map[string]any{"name": "web", "image": "nginx:1.27", "resources": map[string]any{}}},
				"securityContext": nil,
			}},
		},
	}
	live := func(mod func(m map[string]any)) map[string]any {
		m := runtime.DeepCopyJSON(applied)
		// What the server and other managers add: status, defaults,
		// another label.
		m["status"] = map[string]any{"replicas": int64(2)}
		m["metadata"].(map[string]any)["resourceVersion"] = "7"
		m["metadata"].(map[string]any)["labels"].(map[string]any)["team"] = "a"
		spec := m["spec"].(map[string]any)
		spec["revisionHistoryLimit"] = int64(10)
		pod := spec["template"].(map[string]any)["spec"].(map[string]any)
		delete(pod, "securityContext")
		c := pod["containers"].([]any)[0].(map[string]any)
		c["imagePullPolicy"] = "IfNotPresent"
		delete(c, "resources")
		if mod != nil {
			mod(m)
		}
		return m
	}
	spec := func(m map[string]any) map[string]any { return m["spec"].(map[string]any) }
	container := func(m map[string]any) map[string]any {
		return spec(m)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	}
	for _, tc := range []struct {
		name string
		mod  func(map[string]any)
		want bool
	}{
		{"only others' fields and server defaults added", nil, true},
		{"a number decoded as float64", func(m map[string]any) { spec(m)["replicas"] = float64(2) }, true},
		{"kubectl scale of replicas the revision sets", func(m map[string]any) { spec(m)["replicas"] = int64(5) }, false},
		{"kubectl edit of the image", func(m map[string]any) { container(m)["image"] = "nginx:latest" }, false},
		{"an owned label removed", func(m map[string]any) { delete(m["metadata"].(map[string]any)["labels"].(map[string]any), NameLabel) }, false},
		{"a container added to the list", func(m map[string]any) {
			pod := spec(m)["template"].(map[string]any)["spec"].(map[string]any)
			pod["containers"] = append(pod["containers"].([]any), map[string]any{"name": "sidecar"})
		}, false},
		{"a field set to another type", func(m map[string]any) { spec(m)["replicas"] = "2" }, false},
	} {
		if got := ownedFieldsMatch(applied, live(tc.mod)); got != tc.want {
			t.Errorf("%s: ownedFieldsMatch = %v, want %v", tc.name, got, tc.want)
		}
	}
}

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func configMap(name, rv, value string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "default",
			"labels": map[string]any{NameLabel: "app", NamespaceLabel: "default"}},
		"data": map[string]any{"v": value},
	}}
	if rv != "" {
		u.SetResourceVersion(rv)
	}
	return u
}

// driftEnv is a controller whose Kustomization "app" last applied four
// ConfigMaps (a, b, c, d at resourceVersion 1) from an artifact that no
// longer renders (a YAML syntax error): any render fails the reconcile, so
// a reconcile that succeeds did not render.
type driftEnv struct {
	*env
	items []*item
	// versions is what the live LIST answers, by name.
	versions map[string]string
	listErr  error
	lists    int
}

func newDriftEnv(t *testing.T, live ...*unstructured.Unstructured) *driftEnv {
	t.Helper()
	dataDir := t.TempDir()
	art := filepath.Join(dataDir, "gitsync", "artifacts", "default", "src", "abc")
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(art, "bad.yaml"), []byte("kind: ConfigMap\n  broken: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := &flux.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "src"}}
	src.SetGroupVersionKind(flux.GitRepositoryKind)
	src.Status.Artifact = &flux.Artifact{Path: "default/src/abc", Revision: "main@sha1:abc", Digest: "sha256:1"}

	var objects []*unstructured.Unstructured
	var items []*item
	for _, n := range []string{"a", "b", "c", "d"} {
		o := configMap(n, "", "x")
		objects = append(objects, o)
		items = append(items, &item{obj: o, gvr: configMaps, namespaced: true, liveRV: "1"})
	}
	k := ks("app", nil)
	k.UID = "uid-1"
	k.Finalizers = []string{Finalizer}
	k.Status = flux.KustomizationStatus{
		ObservedGeneration: 1, LastAttemptedRevision: "main@sha1:abc", LastAppliedRevision: "main@sha1:abc",
		Inventory:  fromRender(render.Inventory(objects)),
		Conditions: []metav1.Condition{{Type: fluxobj.ReadyCondition, Status: metav1.ConditionTrue, ObservedGeneration: 1, Reason: fluxobj.ReconciliationSucceeded, Message: "Applied revision: main@sha1:abc", LastTransitionTime: metav1.Now()}},
	}
	objs := []runtime.Object{src, k}
	var raw []runtime.Object
	for _, o := range objs {
		u, err := fluxobj.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, u)
	}
	for _, l := range live {
		raw = append(raw, l)
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		fluxobj.GitRepositories: "GitRepositoryList", fluxobj.Kustomizations: "KustomizationList", configMaps: "ConfigMapList"}, raw...)
	d := manager.NewDeps(fake.NewClientset(), nil, nil, nil, 0)
	d.Dynamic = dyn
	d.DynamicInformers = dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	c, err := New(d, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d.DynamicInformers.Start(ctx.Done())
	d.DynamicInformers.WaitForCacheSync(ctx.Done())
	e := &driftEnv{env: &env{t: t, c: c, dyn: dyn}, items: items, versions: map[string]string{"a": "1", "b": "1", "c": "1", "d": "1"}}
	c.applier.versions = func(_ context.Context, gvr schema.GroupVersionResource, ns, sel string) (map[string]string, error) {
		e.lists++
		if gvr != configMaps || ns != "default" || sel != NameLabel+"=app,"+NamespaceLabel+"=default" {
			t.Errorf("LIST %s in %q with %q", gvr, ns, sel)
		}
		return e.versions, e.listErr
	}
	c.applied.store("default/app", &appliedRevision{
		inputs:  renderInputs{uid: "uid-1", generation: 1, artifactPath: "default/src/abc", revision: "main@sha1:abc", digest: "sha256:1"},
		objects: objects, items: items,
	})
	return e
}

// actions are the fake client's calls other than the informers' list and
// watch and the test's own reads of the Kustomization, as "verb
// resource/name".
func (e *driftEnv) actions() []string {
	var out []string
	for _, a := range e.dyn.Actions() {
		if a.GetVerb() == "list" || a.GetVerb() == "watch" || (a.GetVerb() == "get" && a.GetResource() == fluxobj.Kustomizations) {
			continue
		}
		s := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			s += "/" + a.GetSubresource()
		}
		switch a := a.(type) {
		case clienttesting.GetAction:
			s += "/" + a.GetName()
		case clienttesting.PatchAction:
			s += "/" + a.GetName()
		}
		out = append(out, s)
	}
	return out
}

func TestNoOpResyncNeitherRendersNorWrites(t *testing.T) {
	e := newDriftEnv(t)
	e.dyn.ClearActions()
	k := e.reconcile("app")
	if r := ready(t, k); r.Status != metav1.ConditionTrue || r.Reason != fluxobj.ReconciliationSucceeded {
		t.Fatalf("Ready = %+v: the cached revision was not reused (the artifact no longer renders)", r)
	}
	if got := e.actions(); len(got) != 0 {
		t.Errorf("a no-op resync made requests beyond one LIST: %v", got)
	}
	if e.lists != 1 {
		t.Errorf("%d LISTs, want one for the one resource and namespace", e.lists)
	}
	for _, it := range e.items {
		if it.action != Unchanged {
			t.Errorf("%s judged %q", ref(it.obj), it.action)
		}
	}
}

func TestRequestedAtIsRecordedOnANoOpResync(t *testing.T) {
	e := newDriftEnv(t)
	if _, err := e.dyn.Resource(fluxobj.Kustomizations).Namespace("default").Patch(context.Background(), "app", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"now"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.dyn.ClearActions()
	k := e.reconcile("app")
	if k.Status.LastHandledReconcileAt != "now" {
		t.Errorf("lastHandledReconcileAt = %q", k.Status.LastHandledReconcileAt)
	}
	// A requested reconcile reads its source from the API server, not
	// the cache (which may lag the artifact the asker waited for); the
	// rest is the no-op resync's: one status update.
	if got := e.actions(); strings.Join(got, ",") != "get gitrepositories/src,update kustomizations/status" {
		t.Errorf("requests %v, want the source's GET and the one status update", got)
	}
}

func TestChangedInputsRenderAgain(t *testing.T) {
	for name, mod := range map[string]func(e *driftEnv){
		"new generation": func(e *driftEnv) {
			u, _ := e.dyn.Resource(fluxobj.Kustomizations).Namespace("default").Get(context.Background(), "app", metav1.GetOptions{})
			u.SetGeneration(2)
			if _, err := e.dyn.Resource(fluxobj.Kustomizations).Namespace("default").Update(context.Background(), u, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		},
		"new artifact": func(e *driftEnv) {
			u, _ := e.dyn.Resource(fluxobj.GitRepositories).Namespace("default").Get(context.Background(), "src", metav1.GetOptions{})
			_ = unstructured.SetNestedField(u.Object, "sha256:2", "status", "artifact", "digest")
			if _, err := e.dyn.Resource(fluxobj.GitRepositories).Namespace("default").Update(context.Background(), u, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				if got, _ := e.c.sources.ByNamespace("default").Get("src"); got != nil {
					if d, _, _ := unstructured.NestedString(got.(*unstructured.Unstructured).Object, "status", "artifact", "digest"); d == "sha256:2" {
						return
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Fatal("informer did not see the new artifact")
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newDriftEnv(t)
			mod(e)
			r := ready(t, e.reconcile("app"))
			if r.Status != metav1.ConditionFalse || r.Reason != fluxobj.BuildFailedReason || !strings.Contains(r.Message, "bad.yaml") {
				t.Errorf("Ready = %+v, want the render's BuildFailed", r)
			}
			if e.lists != 0 {
				t.Errorf("%d drift LISTs on a new render", e.lists)
			}
			if e.c.applied.lookup("default/app", renderInputs{uid: "uid-1", generation: 1, artifactPath: "default/src/abc", revision: "main@sha1:abc", digest: "sha256:1"}) != nil {
				t.Error("the failed reconcile kept the old cached revision")
			}
		})
	}
}

func TestDriftIsFoundAndOnlyDriftedObjectsAreChecked(t *testing.T) {
	// a: untouched. b: written since (a controller, another label) but
	// every applied field intact. c: a user changed data.v. d: deleted.
	b := configMap("b", "5", "x")
	b.SetLabels(map[string]string{NameLabel: "app", NamespaceLabel: "default", "team": "a"})
	e := newDriftEnv(t, configMap("a", "1", "x"), b, configMap("c", "6", "drifted"))
	e.versions = map[string]string{"a": "1", "b": "5", "c": "6"}
	e.dyn.ClearActions()
	k := e.reconcile("app")
	got := e.actions()
	// b and c, written since, are read in full; c and d then get the dry
	// run (GET, then a dry-run apply, which the fake client cannot do, so
	// the reconcile fails at validation, naming them).
	want := map[string]int{"get configmaps/b": 1, "get configmaps/c": 2, "get configmaps/d": 1, "patch configmaps/c": 1, "patch configmaps/d": 1}
	count := map[string]int{}
	for _, a := range got {
		if !strings.HasPrefix(a, "update kustomizations") {
			count[a]++
		}
	}
	if !equality.Semantic.DeepEqual(count, want) {
		t.Errorf("requests %v, want %v", count, want)
	}
	r := ready(t, k)
	if r.Reason != fluxobj.ReconciliationFailed || !strings.Contains(r.Message, "ConfigMap/default/c") || !strings.Contains(r.Message, "ConfigMap/default/d") || strings.Contains(r.Message, "ConfigMap/default/b") {
		t.Errorf("Ready = %+v, want c and d dry-run", r)
	}
	if e.items[0].action != Unchanged || e.items[1].action != Unchanged || e.items[1].liveRV != "5" {
		t.Errorf("a: %q, b: %q at %q; want both unchanged, b recorded at 5", e.items[0].action, e.items[1].action, e.items[1].liveRV)
	}
}

func TestFailedDriftListFallsBackToDryRun(t *testing.T) {
	e := newDriftEnv(t, configMap("a", "1", "x"), configMap("b", "1", "x"), configMap("c", "1", "x"), configMap("d", "1", "x"))
	e.listErr = errors.New("connection refused")
	e.dyn.ClearActions()
	e.reconcile("app")
	patches := 0
	for _, a := range e.actions() {
		if strings.HasPrefix(a, "patch configmaps/") {
			patches++
		}
	}
	if patches != 4 {
		t.Errorf("%d dry runs after a failed LIST, want all 4: %v", patches, e.actions())
	}
}

func TestApplyAllKeepsKindOrder(t *testing.T) {
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	var mu sync.Mutex
	var order []string
	dyn.PrependReactor("patch", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.PatchAction)
		mu.Lock()
		order = append(order, a.GetResource().Resource+"/"+p.GetName())
		mu.Unlock()
		if p.GetName() == "bad" {
			return true, nil, errors.New("refused")
		}
		u := &unstructured.Unstructured{}
		u.SetResourceVersion("9")
		return true, u, nil
	})
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	mk := func(gvr schema.GroupVersionResource, apiVersion, kind, name string) *item {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetName(name)
		u.SetNamespace("default")
		return &item{obj: u, gvr: gvr, namespaced: true}
	}
	var items []*item
	for i := 0; i < 20; i++ {
		items = append(items, mk(configMaps, "v1", "ConfigMap", fmt.Sprintf("cm%d", i)))
	}
	for i := 0; i < 5; i++ {
		items = append(items, mk(deployments, "apps/v1", "Deployment", fmt.Sprintf("d%d", i)))
	}
	a := &applier{dyn: dyn}
	if err := a.applyAll(context.Background(), items, time.Second); err != nil {
		t.Fatal(err)
	}
	if len(order) != 25 {
		t.Fatalf("%d applies, want 25", len(order))
	}
	for i, o := range order {
		if (i < 20) != strings.HasPrefix(o, "configmaps/") {
			t.Fatalf("apply %d was %s: a Deployment went before every ConfigMap was applied (%v)", i, o, order)
		}
	}
	for _, it := range items {
		if it.liveRV != "9" {
			t.Errorf("%s: liveRV %q, want the apply's resourceVersion", it.obj.GetName(), it.liveRV)
		}
	}

	// A failure stops before the next kind.
	order = nil
	items[3].obj.SetName("bad")
	err := a.applyAll(context.Background(), items, time.Second)
	var oe *ObjectError
	if !errors.As(err, &oe) || oe.Object != "ConfigMap/default/bad" {
		t.Fatalf("err = %v, want the bad ConfigMap's", err)
	}
	for _, o := range order {
		if strings.HasPrefix(o, "deployments/") {
			t.Errorf("%s applied after a ConfigMap failed", o)
		}
	}
}
