package validation_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/manifests"
)

// fixture is one object read from testdata, with the registry entry that
// defaults and validates it.
type fixture struct {
	file string
	obj  runtime.Object
	typ  *manifests.Type
}

func (f fixture) name() string {
	m, _ := meta.Accessor(f.obj)
	return f.typ.GroupVersionKind.Kind + "/" + m.GetName()
}

func registry(t *testing.T) *manifests.Registry {
	t.Helper()
	r, err := manifests.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// loadFixtures decodes every document of the YAML files matching pattern,
// as the API server would decode a request body (no defaulting).
func loadFixtures(t *testing.T, pattern string) []fixture {
	t.Helper()
	reg := registry(t)
	decoder := serializer.NewCodecFactory(reg.Scheme()).UniversalDeserializer()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures match %s: %v", pattern, err)
	}
	sort.Strings(files)
	var out []fixture
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, gvk, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			typ, ok := reg.ByKind(*gvk)
			if !ok {
				t.Fatalf("%s document %d: %s is not served", file, i, gvk)
			}
			out = append(out, fixture{file: filepath.Base(file), obj: obj, typ: typ})
		}
	}
	return out
}

// load returns a defaulted copy of the fixture kind/name from file.
func load(t *testing.T, file, kindName string) (runtime.Object, *manifests.Type) {
	t.Helper()
	for _, f := range loadFixtures(t, filepath.Join("testdata", "valid", file)) {
		if f.name() == kindName {
			f.typ.Default(f.obj)
			return f.obj, f.typ
		}
	}
	t.Fatalf("no %s in %s", kindName, file)
	return nil, nil
}

// stored marks obj as read back from storage, which an update needs.
func stored(obj runtime.Object) {
	m, _ := meta.Accessor(obj)
	m.SetUID("4f1d2c3b-0000-4000-8000-0123456789ab")
	m.SetResourceVersion("42")
	m.SetCreationTimestamp(metav1.Unix(1714557600, 0))
}

func describe(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n\t")
		b.WriteString(e.Error())
	}
	return b.String()
}

// TestValidManifestsPass is the false-positive guard: manifests that a
// Kubernetes v1.33 cluster accepts (from its docs, kubectl output and
// typical charts) must pass after defaulting, on create, as stored objects
// re-validated, and as a no-op update.
func TestValidManifestsPass(t *testing.T) {
	for _, f := range loadFixtures(t, filepath.Join("testdata", "valid", "*.yaml")) {
		t.Run(f.file+"/"+f.name(), func(t *testing.T) {
			obj := f.obj.DeepCopyObject()
			f.typ.Default(obj)
			if errs := f.typ.Validate(obj); len(errs) != 0 {
				t.Fatalf("create refused:%s", describe(errs))
			}
			stored(obj)
			f.typ.Default(obj)
			if errs := f.typ.Validate(obj); len(errs) != 0 {
				t.Fatalf("stored object refused:%s", describe(errs))
			}
			if errs := f.typ.ValidateUpdate(obj.DeepCopyObject(), obj); len(errs) != 0 {
				t.Fatalf("no-op update refused:%s", describe(errs))
			}
		})
	}
}
