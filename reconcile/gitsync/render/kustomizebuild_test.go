package render

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

// TestRenderMatchesKustomizeBuild is the acceptance 4: a
// kustomization with namePrefix, commonLabels, configMapGenerator and a
// strategic-merge patch renders as `kustomize build` would. The expected
// output was written by the real kustomize CLI (see
// testdata/kustomizebuild/README.md), so a renderer that drifts from
// kustomize fails here even if it agrees with itself.
//
// Render keeps kustomize's FIFO order (resource order; apply orders
// objects by its own rules), while the CLI sorts by kind ("legacy"
// order). The test asks kustomize itself to sort the rendered objects,
// then compares the whole stream byte for byte, each object serialised
// by Render's output path (unstructured through sigs.k8s.io/yaml), so
// the content, the key order and the scalar types must all match.
func TestRenderMatchesKustomizeBuild(t *testing.T) {
	want, err := os.ReadFile("testdata/kustomizebuild/expected.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := render(t, Options{Root: "testdata/kustomizebuild", Path: "app"})
	// Render adds nothing of its own with no spec fields set: the source
	// annotation it uses for file:line is taken out again (checked here
	// so that a leak shows as such, not as a diff).
	for _, o := range r.Objects {
		if _, ok := o.GetAnnotations()[sourceAnnotation]; ok {
			t.Fatalf("%s/%s carries %s", o.GetKind(), o.GetName(), sourceAnnotation)
		}
	}
	docs := map[string][]byte{}
	var stream bytes.Buffer
	for _, o := range r.Objects {
		y, err := sigsyaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs[objKey(o.GetKind(), o.GetNamespace(), o.GetName())] = y
		stream.WriteString("---\n")
		stream.Write(y)
	}
	var got bytes.Buffer
	for i, key := range legacyOrder(t, stream.Bytes()) {
		if i > 0 {
			got.WriteString("---\n")
		}
		got.Write(docs[key])
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("Render differs from `kustomize build`:\n--- render\n%s\n--- kustomize build (testdata/kustomizebuild/expected.yaml)\n%s", got.Bytes(), want)
	}
	// The features the acceptance names must be in the expectation, or
	// the comparison would prove less than it claims.
	for _, s := range []string{
		"name: shop-web-config-",    // configMapGenerator's hashed name, with namePrefix
		"team: checkout",            // commonLabels
		"value: production",         // the strategic-merge patch merged the container by name
		"value: blue",               // … keeping the base's other env entries
		"name: shop-web-config-f57", // … and its ConfigMap reference rewritten to the generated name
	} {
		if !bytes.Contains(want, []byte(s)) {
			t.Errorf("expected.yaml lacks %q", s)
		}
	}
	if bytes.Contains(want, []byte("log-shipper")) {
		t.Error("expected.yaml still has the container the patch deletes")
	}
}

func objKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// legacyOrder returns the objects of a YAML stream in the order `kustomize
// build` prints them, as computed by kustomize: a kustomization listing the
// stream as its only resource, built with the legacy reorder. Nothing is
// transformed on the way (no prefix, labels or generators).
func legacyOrder(t *testing.T, stream []byte) []string {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	if err := fs.WriteFile("/sort/all.yaml", stream); err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFile("/sort/kustomization.yaml", []byte("resources:\n- all.yaml\n")); err != nil {
		t.Fatal(err)
	}
	buildMu.Lock() // krusty's shared OpenAPI state, as in build
	defer buildMu.Unlock()
	m, err := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsRootOnly,
		PluginConfig:     kustypes.DisabledPluginConfig(),
		Reorder:          krusty.ReorderOptionLegacy,
	}).Run(fs, "/sort")
	if err != nil {
		t.Fatalf("sort with kustomize: %v", err)
	}
	var keys []string
	for _, res := range m.Resources() {
		keys = append(keys, objKey(res.GetKind(), res.GetNamespace(), res.GetName()))
	}
	if n := strings.Count(string(stream), "---\n"); len(keys) != n {
		t.Fatalf("kustomize sorted %d objects of %d", len(keys), n)
	}
	return keys
}
