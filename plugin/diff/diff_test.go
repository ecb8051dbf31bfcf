package diff

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
)

// fakeCluster plays the API server: a few kinds, live objects, and a
// dry-run apply that merges the applied object over the live one and adds
// the fields a server sets.
type fakeCluster struct {
	live map[string]*unstructured.Unstructured
	// failDryRun fails the dry run of objects of this name.
	failDryRun string
}

var kinds = map[string]struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}{
	"ConfigMap": {schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true},
	"Secret":    {schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, true},
	"Namespace": {schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, false},
}

func key(gvr schema.GroupVersionResource, ns, name string) string {
	return gvr.Resource + "/" + ns + "/" + name
}

func (f *fakeCluster) mapping(gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool, error) {
	k, ok := kinds[gvk.Kind]
	if !ok {
		return schema.GroupVersionResource{}, false, &meta.NoKindMatchError{GroupKind: gvk.GroupKind()}
	}
	return k.gvr, k.namespaced, nil
}

func (f *fakeCluster) get(_ context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	if u, ok := f.live[key(gvr, ns, name)]; ok {
		return u.DeepCopy(), nil
	}
	return nil, nil
}

func (f *fakeCluster) dryRunApply(_ context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if obj.GetName() == f.failDryRun {
		return nil, apierrors.NewInvalid(obj.GroupVersionKind().GroupKind(), obj.GetName(), nil)
	}
	out := obj.DeepCopy()
	if live, ok := f.live[key(gvr, obj.GetNamespace(), obj.GetName())]; ok {
		out.SetUID(live.GetUID())
		out.SetResourceVersion(live.GetResourceVersion())
		out.SetCreationTimestamp(live.GetCreationTimestamp())
		out.SetManagedFields(live.GetManagedFields())
		if st, ok := live.Object["status"]; ok {
			out.Object["status"] = st
		}
		// A field another manager owns survives the apply.
		if v, ok := live.GetAnnotations()["owned-by-someone-else"]; ok {
			ann := out.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann["owned-by-someone-else"] = v
			out.SetAnnotations(ann)
		}
	} else {
		out.SetUID("new-uid")
		out.SetCreationTimestamp(metav1.Now())
	}
	out.SetResourceVersion("999")
	out.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: fluxobj.KustomizeFieldManager, Operation: metav1.ManagedFieldsOperationApply}})
	return out, nil
}

// liveOf makes the live state of a rendered object as the server keeps it.
func liveOf(t *testing.T, yamlObj string, ks *flux.Kustomization, extra func(*unstructured.Unstructured)) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(yamlToJSON(t, yamlObj)); err != nil {
		t.Fatal(err)
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range fluxobj.OwnerLabels(ks) {
		labels[k] = v
	}
	u.SetLabels(labels)
	u.SetUID("uid-1")
	u.SetResourceVersion("42")
	u.SetGeneration(3)
	u.SetCreationTimestamp(metav1.Now())
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate}})
	u.SetAnnotations(map[string]string{lastApplied: `{"old":"config"}`})
	if extra != nil {
		extra(u)
	}
	return u
}

const cmBlue = `apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  color: blue
  size: large
`

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func kustomization() *flux.Kustomization {
	return &flux.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "default"},
		Spec: flux.KustomizationSpec{Path: "./", Prune: true, TargetNamespace: "default",
			SourceRef: flux.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "shop"}}}
}

func runCompare(t *testing.T, c *fakeCluster, ks *flux.Kustomization, files map[string]string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmp := &comparison{out: &out, cluster: c, context: 3}
	err := cmp.compare(context.Background(), ks, &tree{root: writeTree(t, files), path: ks.Spec.Path, what: "revision test"})
	return out.String(), err
}

func exitStatus(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Status
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestDiffUnchangedPrintsNothing(t *testing.T) {
	ks := kustomization()
	live := liveOf(t, strings.Replace(cmBlue, "  name: shop-config\n", "  name: shop-config\n  namespace: default\n", 1), ks, func(u *unstructured.Unstructured) {
		u.Object["status"] = map[string]any{"whatever": "the server says"}
	})
	c := &fakeCluster{live: map[string]*unstructured.Unstructured{key(kinds["ConfigMap"].gvr, "default", "shop-config"): live}}
	out, err := runCompare(t, c, ks, map[string]string{"cm.yaml": cmBlue})
	if err != nil || out != "" {
		t.Errorf("unchanged object: err %v, output:\n%s", err, out)
	}
}

func TestDiffShowsOnlyTheChangedField(t *testing.T) {
	ks := kustomization()
	live := liveOf(t, strings.Replace(cmBlue, "  name: shop-config\n", "  name: shop-config\n  namespace: default\n", 1), ks, nil)
	c := &fakeCluster{live: map[string]*unstructured.Unstructured{key(kinds["ConfigMap"].gvr, "default", "shop-config"): live}}
	out, err := runCompare(t, c, ks, map[string]string{"cm.yaml": strings.Replace(cmBlue, "blue", "green", 1)})
	if exitStatus(err) != StatusDiffers || err.Error() != "" {
		t.Fatalf("err = %v (status %d), want a silent status 1", err, exitStatus(err))
	}
	want := `diff -u -N live/v1.ConfigMap.default.shop-config merged/v1.ConfigMap.default.shop-config
--- live/v1.ConfigMap.default.shop-config
+++ merged/v1.ConfigMap.default.shop-config
@@ -1,6 +1,6 @@
 apiVersion: v1
 data:
-  color: blue
+  color: green
   size: large
 kind: ConfigMap
 metadata:
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestDiffNewAndPruned(t *testing.T) {
	ks := kustomization()
	ks.Status.Inventory = &flux.ResourceInventory{Entries: []flux.ResourceRef{
		{ID: "default_old__ConfigMap", Version: "v1"}, {ID: "default_kept__ConfigMap", Version: "v1"},
		{ID: "default_foreign__ConfigMap", Version: "v1"}, {ID: "default_gone__ConfigMap", Version: "v1"},
	}}
	cm := kinds["ConfigMap"].gvr
	old := liveOf(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\n  namespace: default\ndata:\n  a: b\n", ks, nil)
	kept := liveOf(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  namespace: default\n", ks, func(u *unstructured.Unstructured) {
		u.SetAnnotations(map[string]string{fluxobj.KustomizePruneAnnotation: fluxobj.KustomizePruneDisabled})
	})
	foreign := liveOf(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: foreign\n  namespace: default\n", ks, func(u *unstructured.Unstructured) {
		u.SetLabels(map[string]string{fluxobj.KustomizeNameLabel: "other", fluxobj.KustomizeNSLabel: "default"})
	})
	c := &fakeCluster{live: map[string]*unstructured.Unstructured{
		key(cm, "default", "old"): old, key(cm, "default", "kept"): kept, key(cm, "default", "foreign"): foreign}}
	out, err := runCompare(t, c, ks, map[string]string{"cm.yaml": cmBlue})
	if exitStatus(err) != StatusDiffers {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		"# ConfigMap/default/shop-config would be created\n--- /dev/null\n+++ merged/v1.ConfigMap.default.shop-config\n@@ -0,0 +1,11 @@\n+apiVersion: v1\n",
		"+  color: blue\n",
		"# ConfigMap/default/old would be pruned\n--- live/v1.ConfigMap.default.old\n+++ /dev/null\n@@ -1,10 +0,0 @@\n",
		"-  a: b\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"kept", "foreign", "gone", "uid", "resourceVersion", "creationTimestamp", "managedFields"} {
		if strings.Contains(out, not) {
			t.Errorf("output shows %q:\n%s", not, out)
		}
	}

	// Without spec.prune nothing is pruned.
	ks.Spec.Prune = false
	out, _ = runCompare(t, c, ks, map[string]string{"cm.yaml": cmBlue})
	if strings.Contains(out, "pruned") {
		t.Errorf("prune disabled, output:\n%s", out)
	}
}

func TestDiffKeepsFieldsOfOtherManagersAndDropsLastApplied(t *testing.T) {
	ks := kustomization()
	live := liveOf(t, strings.Replace(cmBlue, "  name: shop-config\n", "  name: shop-config\n  namespace: default\n", 1), ks, func(u *unstructured.Unstructured) {
		u.SetAnnotations(map[string]string{lastApplied: "{}", "owned-by-someone-else": "yes"})
	})
	c := &fakeCluster{live: map[string]*unstructured.Unstructured{key(kinds["ConfigMap"].gvr, "default", "shop-config"): live}}
	if out, err := runCompare(t, c, ks, map[string]string{"cm.yaml": cmBlue}); err != nil || out != "" {
		t.Errorf("err %v, output:\n%s", err, out)
	}
}

func TestDiffMasksSecrets(t *testing.T) {
	ks := kustomization()
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: default\ndata:\n  password: %s\n  user: YWRtaW4=\n"
	live := liveOf(t, strings.Replace(secret, "%s", "b2xk", 1), ks, nil)
	c := &fakeCluster{live: map[string]*unstructured.Unstructured{key(kinds["Secret"].gvr, "default", "creds"): live}}
	out, err := runCompare(t, c, ks, map[string]string{"s.yaml": strings.Replace(secret, "%s", "bmV3", 1)})
	if exitStatus(err) != StatusDiffers {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(out, "b2xk") || strings.Contains(out, "bmV3") || strings.Contains(out, "YWRtaW4=") {
		t.Errorf("secret values shown:\n%s", out)
	}
	if !strings.Contains(out, "-  password: '*** (before)'\n+  password: '*** (after)'\n   user: '***'\n") {
		t.Errorf("masked diff:\n%s", out)
	}
}

func TestDiffErrorsNameFileAndLine(t *testing.T) {
	ks := kustomization()
	_, err := runCompare(t, &fakeCluster{}, ks, map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  color: [unclosed\n"})
	if exitStatus(err) != StatusFailed || !strings.Contains(err.Error(), "deploy/cm.yaml:6") {
		t.Errorf("broken YAML: status %d, err %v", exitStatus(err), err)
	}
	_, err = runCompare(t, &fakeCluster{failDryRun: "shop-config"}, ks, map[string]string{"a.yaml": "# first\n" + cmBlue})
	if exitStatus(err) != StatusFailed || !strings.Contains(err.Error(), "ConfigMap/default/shop-config (a.yaml:2)") || !strings.Contains(err.Error(), "dry-run failed") {
		t.Errorf("refused dry run: status %d, err %v", exitStatus(err), err)
	}
	_, err = runCompare(t, &fakeCluster{}, ks, map[string]string{"w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"})
	if exitStatus(err) != StatusFailed || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("unknown kind: status %d, err %v", exitStatus(err), err)
	}
}

func TestDiffNamespaceOfTheRevision(t *testing.T) {
	ks := kustomization()
	ks.Spec.TargetNamespace = ""
	c := &fakeCluster{}
	// The dry run of an object in a namespace that does not exist yet
	// fails with NotFound on a real server.
	nf := &nsNotFound{fakeCluster: c}
	var out bytes.Buffer
	cmp := &comparison{out: &out, cluster: nf, context: 3}
	err := cmp.compare(context.Background(), ks, &tree{root: writeTree(t, map[string]string{
		"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
		"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: shop\n"}), path: "./"})
	if exitStatus(err) != StatusDiffers {
		t.Fatalf("err = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "# ConfigMap/shop/c (its namespace is created by this revision") || !strings.Contains(out.String(), "# Namespace/shop would be created") {
		t.Errorf("output:\n%s", out.String())
	}
}

type nsNotFound struct{ *fakeCluster }

func (n *nsNotFound) dryRunApply(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if obj.GetNamespace() == "shop" {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "shop")
	}
	return n.fakeCluster.dryRunApply(ctx, gvr, obj)
}
