package render

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// dump prints a result the way `kustomize build` would, each object
// preceded by its source, for golden comparison.
func dump(t *testing.T, r *Result) []byte {
	t.Helper()
	var b bytes.Buffer
	for i, o := range r.Objects {
		y, err := sigsyaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n# source: " + r.Sources[i].String() + "\n")
		b.Write(y)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering:\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

func render(t *testing.T, opts Options) *Result {
	t.Helper()
	r, err := Render(context.Background(), opts)
	if err != nil {
		t.Fatalf("Render(%+v): %v", opts, err)
	}
	return r
}

func find(t *testing.T, r *Result, kind, name string) (*unstructured.Unstructured, Source) {
	t.Helper()
	for i, o := range r.Objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o, r.Sources[i]
		}
	}
	t.Fatalf("no %s %s in %d objects", kind, name, len(r.Objects))
	return nil, Source{}
}

func TestRenderPlainFolderGeneratesLikeFlux(t *testing.T) {
	r := render(t, Options{Root: "testdata/plain", Path: "./"})
	if !r.Generated {
		t.Error("Generated = false for a folder without kustomization.yaml")
	}
	var got []string
	for _, o := range r.Objects {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	// File-name order, nested kustomization as one directory resource with
	// its own namePrefix, .json and .github skipped, ignored.yaml never read.
	want := []string{"ConfigMap/nested-config", "ClusterRole/web:reader", "Deployment/web", "Service/web", "Namespace/shop"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("objects = %v, want %v", got, want)
	}
	if _, src := find(t, r, "Service", "web"); src != (Source{File: "app/web.yaml", Line: 21}) {
		t.Errorf("Service source = %v, want app/web.yaml:21", src)
	}
	if _, src := find(t, r, "ConfigMap", "nested-config"); src != (Source{File: "app/nested/cm.yaml", Line: 1}) {
		t.Errorf("ConfigMap source = %v, want app/nested/cm.yaml:1", src)
	}
	d, _ := find(t, r, "Deployment", "web")
	_ = d.DeepCopy() // panics on non-JSON number types
	if _, ok := d.GetAnnotations()[sourceAnnotation]; ok || d.GetAnnotations() != nil {
		t.Errorf("source annotation leaked into the output: %v", d.GetAnnotations())
	}
	golden(t, "plain.yaml", dump(t, r))
}

func TestRenderSubPathAndEmptyFolder(t *testing.T) {
	r := render(t, Options{Root: "testdata/plain", Path: "app/nested"})
	if r.Generated || len(r.Objects) != 1 || r.Objects[0].GetName() != "nested-config" {
		t.Errorf("app/nested: generated=%v objects=%d", r.Generated, len(r.Objects))
	}
	// As in Flux, a folder without manifests is an error, not an empty
	// revision that would prune everything.
	if _, err := Render(context.Background(), Options{Root: "testdata/plain", Path: "empty"}); err == nil || !strings.Contains(err.Error(), "no Kubernetes manifests") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestRenderKustomizeOverlay(t *testing.T) {
	r := render(t, Options{Root: "testdata/kust", Path: "overlay"})
	golden(t, "overlay.yaml", dump(t, r))
	d, src := find(t, r, "Deployment", "staging-api")
	if src != (Source{File: "base/deployment.yaml", Line: 1}) {
		t.Errorf("source through ../base = %v", src)
	}
	if n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); n != 3 {
		t.Errorf("replicas = %d, want 3 from the overlay patch", n)
	}
	if _, src := find(t, r, "ConfigMap", "staging-api-config-"+cmHash(t, r)); src.File != "" {
		t.Errorf("generated ConfigMap has source %v", src)
	}
}

func cmHash(t *testing.T, r *Result) string {
	for _, o := range r.Objects {
		if o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), "staging-api-config-") {
			return strings.TrimPrefix(o.GetName(), "staging-api-config-")
		}
	}
	t.Fatal("no generated ConfigMap")
	return ""
}

func TestRenderSpecFields(t *testing.T) {
	r := render(t, Options{
		Root:            "testdata/kust",
		Path:            "overlay",
		TargetNamespace: "team-a",
		NamePrefix:      "flux-",
		NameSuffix:      "-v2",
		CommonMetadata: &CommonMetadata{
			Labels:      map[string]string{"owner": "platform", "env": "from-flux"},
			Annotations: map[string]string{"note": "managed"},
		},
		Images: []Image{
			{Name: "registry.local/api", NewName: "registry.local/api-fast", NewTag: "2.0"},
			{Name: "nginx", Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		Patches: []Patch{
			{ // strategic merge, selected by label
				Patch:  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          env:\n            - name: MODE\n              value: patched\n",
				Target: &Selector{Kind: "Deployment", LabelSelector: "app=api"},
			},
			{ // JSON6902, selected by kind and name
				Patch:  `[{"op": "add", "path": "/spec/sessionAffinity", "value": "ClientIP"}]`,
				Target: &Selector{Version: "v1", Kind: "Service", Name: "api"},
			},
		},
		Components: []string{"../comp"},
	})
	golden(t, "specfields.yaml", dump(t, r))

	d, _ := find(t, r, "Deployment", "flux-api-v2")
	if d.GetNamespace() != "team-a" {
		t.Errorf("Deployment namespace = %q", d.GetNamespace())
	}
	c := d.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if c["image"] != "registry.local/api-fast:2.0" {
		t.Errorf("image = %v; the spec's image replaces the file's entry of the same name", c["image"])
	}
	if env := c["env"].([]any)[0].(map[string]any); env["value"] != "patched" {
		t.Errorf("env = %v, want the label-selected patch applied", env)
	}
	// commonMetadata: metadata only, overriding, selectors untouched.
	if l := d.GetLabels(); l["owner"] != "platform" || l["env"] != "from-flux" || d.GetAnnotations()["note"] != "managed" {
		t.Errorf("labels %v annotations %v", l, d.GetAnnotations())
	}
	sel, _, _ := unstructured.NestedStringMap(d.Object, "spec", "selector", "matchLabels")
	if _, ok := sel["owner"]; ok || sel["env"] != "staging" {
		t.Errorf("selector = %v: commonMetadata must not reach selectors", sel)
	}
	s, _ := find(t, r, "Service", "flux-api-v2")
	if v, _, _ := unstructured.NestedString(s.Object, "spec", "sessionAffinity"); v != "ClientIP" {
		t.Errorf("Service sessionAffinity = %q, want the JSON6902 patch applied", v)
	}
	// targetNamespace leaves cluster-scoped objects alone.
	pv, _ := find(t, r, "PersistentVolume", "flux-data-v2")
	if pv.GetNamespace() != "" {
		t.Errorf("PersistentVolume got namespace %q", pv.GetNamespace())
	}
	if cm, src := find(t, r, "ConfigMap", "flux-extra-v2"); cm.GetNamespace() != "team-a" || src.File != "comp/extra.yaml" {
		t.Errorf("component ConfigMap: ns %q source %v", cm.GetNamespace(), src)
	}
}

func TestRenderGeneratedWithSpecFields(t *testing.T) {
	r := render(t, Options{Root: "testdata/plain", Path: "app", TargetNamespace: "shop", NamePrefix: "p-"})
	d, _ := find(t, r, "Deployment", "p-web")
	if d.GetNamespace() != "shop" {
		t.Errorf("namespace = %q", d.GetNamespace())
	}
	cr, _ := find(t, r, "ClusterRole", "p-web:reader")
	if cr.GetNamespace() != "" {
		t.Errorf("ClusterRole got namespace %q", cr.GetNamespace())
	}
}

func TestRenderDeterministic(t *testing.T) {
	opts := Options{Root: "testdata/kust", Path: "overlay", NamePrefix: "x-", Components: []string{"../comp"}}
	first := dump(t, render(t, opts))
	for i := 0; i < 5; i++ {
		if again := dump(t, render(t, opts)); !bytes.Equal(first, again) {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, again, first)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		is   error
		msg  string
	}{
		{"syntax error names file and line", Options{Root: "testdata/badsyntax", Path: "deploy"}, ErrInvalidManifest, "deploy/web.yaml:12: "},
		{"YAML without apiVersion/kind", Options{Root: "testdata/notk8s"}, ErrInvalidManifest, "values.yaml:1: invalid manifest: missing apiVersion"},
		{"path escaping root", Options{Root: "testdata/kust", Path: "../.."}, ErrOutsideRoot, "outside repository root"},
		{"absolute path", Options{Root: "testdata/kust", Path: "/etc"}, ErrOutsideRoot, "outside repository root"},
		{"component escaping root", Options{Root: "testdata/kust", Path: "overlay", Components: []string{"../../x"}}, ErrOutsideRoot, "component"},
		{"http resource", Options{Root: "testdata/remote", Path: "http"}, ErrRemote, "http/kustomization.yaml:5: "},
		{"git remote base", Options{Root: "testdata/remote", Path: "git"}, ErrRemote, "git/kustomization.yaml:4: "},
		{"exec plugin", Options{Root: "testdata/plugin"}, ErrUnsupported, "gen.yaml:1: plugin someteam.example.com/v1 SecretsFromVault"},
		{"syntax error in a kustomize resource", Options{Root: "testdata/kbad", Path: "syntax"}, ErrInvalidManifest, "syntax/cm.yaml:5: "},
		{"missing resource names the kustomization line", Options{Root: "testdata/kbad", Path: "missing"}, nil, `missing/kustomization.yaml:5: "gone.yaml": no such file`},
		{"syntax error in a patch file", Options{Root: "testdata/kbad", Path: "patch"}, ErrInvalidManifest, "patch/bad-patch.yaml:7: "},
		{"resource outside root", Options{Root: "testdata/kbad/patch"}, ErrOutsideRoot, `kustomization.yaml:4: "../missing/there.yaml": outside repository root`},
		{"patch file outside root", Options{Root: "testdata/kbad", Path: "patchout"}, ErrOutsideRoot, `patchout/kustomization.yaml: "../../kust/overlay/replicas.yaml": outside repository root`},
		{"missing path", Options{Root: "testdata/kust", Path: "nope"}, nil, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(context.Background(), tc.opts)
			if err == nil {
				t.Fatal("Render succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

func TestRenderCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Render(ctx, Options{Root: "testdata/plain"}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled render: %v", err)
	}
}

func TestRenderSyntaxErrorPosition(t *testing.T) {
	_, err := Render(context.Background(), Options{Root: "testdata/badsyntax"})
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != "deploy/web.yaml" || fe.Line != 12 {
		t.Fatalf("error %v, want a FileError at deploy/web.yaml:12", err)
	}
}

func TestRenderRefusesSymlinkOutOfRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "ok.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := Render(context.Background(), Options{Root: root})
	if !errors.Is(err, ErrOutsideRoot) || !strings.Contains(err.Error(), "link.yaml") {
		t.Fatalf("error = %v, want link.yaml refused as outside the root", err)
	}

	// A symlink that stays inside the root is followed.
	if err := os.Remove(filepath.Join(root, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../ok.yaml", filepath.Join(root, "sub", "alias.yml")); err != nil {
		t.Fatal(err)
	}
	r, err := Render(context.Background(), Options{Root: root, Path: "sub"})
	if err != nil || len(r.Objects) != 1 || r.Objects[0].GetName() != "ok" {
		t.Fatalf("inside symlink: %v, %v", r, err)
	}
	// A symlinked directory loop is an error, not a hang.
	if err := os.Symlink("..", filepath.Join(root, "sub", "loop")); err != nil {
		t.Fatal(err)
	}
	if _, err := Render(context.Background(), Options{Root: root}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("symlink loop: %v", err)
	}
}

func TestRenderDoesNotWriteToSource(t *testing.T) {
	before, _ := os.ReadDir("testdata/plain")
	render(t, Options{Root: "testdata/plain", NamePrefix: "x-"})
	after, _ := os.ReadDir("testdata/plain")
	if len(before) != len(after) {
		t.Errorf("source folder changed: %d entries before, %d after", len(before), len(after))
	}
	if _, err := os.Stat("testdata/plain/kustomization.yaml"); err == nil {
		t.Error("Render wrote a kustomization.yaml into the source")
	}
}

func TestYAMLErrorLines(t *testing.T) {
	for _, tc := range []struct {
		src  string
		line int
	}{
		{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n labels: y\n", 5},        // parser error
		{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata: {a: [1, 2}\n", 5}, // parser error, flow
		{"a: 1\n---\nb: 2\n---\nx:\n  a: b\n   c: d\n", 7},                                // scanner error, third document
		{"a: 1\n\tb: 2\n", 2}, // tab
	} {
		_, err := parseDocuments("f.yaml", []byte(tc.src))
		var fe *FileError
		if !errors.As(err, &fe) || fe.Line != tc.line {
			t.Errorf("%q: error %v, want line %d", tc.src, err, tc.line)
		}
	}
}

func TestRenderConcurrent(t *testing.T) {
	want := dump(t, render(t, Options{Root: "testdata/kust", Path: "overlay"}))
	errs := make(chan error, 4)
	outs := make(chan []byte, 4)
	for i := 0; i < 4; i++ {
		go func() {
			r, err := Render(context.Background(), Options{Root: "testdata/kust", Path: "overlay"})
			errs <- err
			if err == nil {
				outs <- dump(t, r)
			} else {
				outs <- nil
			}
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
		if got := <-outs; !bytes.Equal(got, want) {
			t.Error("concurrent render differs")
		}
	}
}
