package defaults_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/skiff-dev/skiff/manifests"
)

// TestDefaultingIsIdempotent runs every kind's defaults over the realistic
// manifests of the validation tests: a second pass, before and after the
// object is stored (has a UID), must change nothing. The API server
// defaults on every write, so a non-idempotent default would flap.
func TestDefaultingIsIdempotent(t *testing.T) {
	reg, err := manifests.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	decoder := serializer.NewCodecFactory(reg.Scheme()).UniversalDeserializer()
	files, _ := filepath.Glob(filepath.Join("..", "validation", "testdata", "valid", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	kinds := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(data, []byte("\n---\n")) {
			obj, gvk, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			typ, ok := reg.ByKind(*gvk)
			if !ok {
				t.Fatalf("%s: %s not served", file, gvk)
			}
			kinds[gvk.String()] = true
			m, _ := meta.Accessor(obj)
			t.Run(gvk.Kind+"/"+m.GetName(), func(t *testing.T) {
				typ.Default(obj)
				once := obj.DeepCopyObject()
				typ.Default(obj)
				if !apiequality.Semantic.DeepEqual(once, obj) {
					t.Fatalf("second pass changed the object:\n%+v\n%+v", once, obj)
				}
				m.SetUID("0b5f4a0e-7d3c-4e2a-9f1b-6c5d4e3f2a10")
				m.SetResourceVersion("7")
				typ.Default(obj)
				once = obj.DeepCopyObject()
				typ.Default(obj)
				if !apiequality.Semantic.DeepEqual(once, obj) {
					t.Fatalf("second pass over the stored object changed it:\n%+v\n%+v", once, obj)
				}
			})
		}
	}
	// Every served kind is covered by a fixture.
	for _, typ := range reg.Types() {
		if !typ.Stored() {
			continue // the self reviews are not defaulted
		}
		if !kinds[typ.GroupVersionKind.String()] {
			t.Errorf("no fixture of %s", typ.GroupVersionKind)
		}
	}
}
