package openapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// refOf returns the definition a property points at, through a v3 allOf.
func refOf(s spec.Schema) string {
	if len(s.AllOf) == 1 {
		s = s.AllOf[0]
	}
	ref := s.Ref.String()
	return ref[strings.LastIndex(ref, "/")+1:]
}

func TestKindsCarryGroupVersionKind(t *testing.T) {
	d, reg := testDocuments(t)
	defs := d.Definitions()
	gvksOf := func(name string) []schema.GroupVersionKind {
		var out []schema.GroupVersionKind
		list, _ := defs[name].Extensions[extGVK].([]interface{})
		for _, item := range list {
			m := item.(map[string]interface{})
			out = append(out, schema.GroupVersionKind{Group: m["group"].(string), Version: m["version"].(string), Kind: m["kind"].(string)})
		}
		return out
	}
	has := func(name string, gvk schema.GroupVersionKind) {
		t.Helper()
		for _, g := range gvksOf(name) {
			if g == gvk {
				return
			}
		}
		t.Errorf("%s: %s lacks %s (has %v)", name, extGVK, gvk, gvksOf(name))
	}
	kinds, subKinds := servedKinds(reg)
	for _, gvk := range append(kinds, subKinds...) {
		obj, err := reg.Scheme().New(gvk)
		if err != nil {
			t.Fatal(err)
		}
		name := definitionName(reflect.TypeOf(obj).Elem())
		if got := gvksOf(name); len(got) != 1 || got[0] != gvk {
			t.Errorf("%s: %v, want exactly %s", name, got, gvk)
		}
	}
	for _, typ := range reg.Types() {
		if !typ.Stored() {
			continue // a self review has no list and is never deleted
		}
		has(definitionName(reflect.TypeOf(typ.NewList()).Elem()), typ.GroupVersionKind.GroupVersion().WithKind(typ.GroupVersionKind.Kind+"List"))
		has("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", typ.GroupVersionKind.GroupVersion().WithKind("DeleteOptions"))
	}
	has("io.k8s.apimachinery.pkg.apis.meta.v1.Status", schema.GroupVersionKind{Version: "v1", Kind: "Status"})
	// core/v1 Event and events.k8s.io/v1 Event are two definitions.
	has("io.k8s.api.core.v1.Event", schema.GroupVersionKind{Version: "v1", Kind: "Event"})
	has("io.k8s.api.events.v1.Event", schema.GroupVersionKind{Group: "events.k8s.io", Version: "v1", Kind: "Event"})
	if n := gvksOf("io.k8s.api.core.v1.PodSpec"); n != nil {
		t.Errorf("PodSpec is not a kind but carries %v", n)
	}
}

func TestSpecialTypes(t *testing.T) {
	d, _ := testDocuments(t)
	v3 := d.Definitions()
	l, err := layOut(shared.reg)
	if err != nil {
		t.Fatal(err)
	}
	v2 := l.v2.defs

	if s := v3["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]; s.Extensions[extIntOrString] != true || s.Format != "int-or-string" ||
		len(s.OneOf) != 2 || s.OneOf[0].Type[0] != "integer" || s.OneOf[1].Type[0] != "string" || len(s.Type) != 0 {
		t.Errorf("v3 IntOrString %+v", s)
	}
	if s := v2["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]; s.Type[0] != "string" || s.Format != "int-or-string" || len(s.OneOf) != 0 {
		t.Errorf("v2 IntOrString %+v", s)
	}
	if s := v3["io.k8s.apimachinery.pkg.api.resource.Quantity"]; len(s.OneOf) != 2 || s.OneOf[0].Type[0] != "string" || s.OneOf[1].Type[0] != "number" {
		t.Errorf("v3 Quantity %+v", s)
	}
	if s := v2["io.k8s.apimachinery.pkg.api.resource.Quantity"]; s.Type[0] != "string" || s.Description == "" {
		t.Errorf("v2 Quantity %+v", s)
	}
	for _, name := range []string{"io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"} {
		for _, defs := range []map[string]*spec.Schema{l.v2.defs, l.v3.defs} {
			if s := defs[name]; s.Type[0] != "string" || s.Format != "date-time" || s.Description == "" {
				t.Errorf("%s %+v", name, s)
			}
		}
	}
	for _, name := range []string{"io.k8s.apimachinery.pkg.runtime.RawExtension", "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"} {
		if s := v3[name]; s.Type[0] != "object" || len(s.Properties) != 0 || s.Description == "" {
			t.Errorf("%s %+v", name, s)
		}
	}

	secret := v3["io.k8s.api.core.v1.Secret"]
	if data := secret.Properties["data"]; data.Type[0] != "object" || data.AdditionalProperties.Schema.Type[0] != "string" || data.AdditionalProperties.Schema.Format != "byte" {
		t.Errorf("Secret.data %+v", data)
	}
	if sd := secret.Properties["stringData"]; sd.AdditionalProperties.Schema.Format != "" {
		t.Errorf("Secret.stringData %+v", sd)
	}
	rs := v3["io.k8s.api.core.v1.ResourceRequirements"].Properties["limits"]
	if rs.Type[0] != "object" || refOf(*rs.AdditionalProperties.Schema) != "io.k8s.apimachinery.pkg.api.resource.Quantity" {
		t.Errorf("ResourceRequirements.limits %+v", rs)
	}
	meta := v3["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
	if ts := meta.Properties["creationTimestamp"]; refOf(ts) != "io.k8s.apimachinery.pkg.apis.meta.v1.Time" || len(ts.AllOf) != 1 || ts.Description == "" {
		t.Errorf("ObjectMeta.creationTimestamp %+v", ts)
	}
	if ts := v2["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"].Properties["creationTimestamp"]; ts.Ref.String() != "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time" || ts.Description == "" {
		t.Errorf("v2 ObjectMeta.creationTimestamp %+v", ts)
	}
	if gen := meta.Properties["generation"]; gen.Type[0] != "integer" || gen.Format != "int64" {
		t.Errorf("ObjectMeta.generation %+v", gen)
	}
	// TypeMeta is inlined, not referenced.
	dep := v3["io.k8s.api.apps.v1.Deployment"]
	if dep.Properties["apiVersion"].Type[0] != "string" || dep.Properties["kind"].Type[0] != "string" || len(dep.Required) != 0 {
		t.Errorf("Deployment TypeMeta fields %+v required %v", dep.Properties["kind"], dep.Required)
	}
	if got := v3["io.k8s.api.core.v1.Container"].Required; strings.Join(got, ",") != "name" {
		t.Errorf("Container required %v", got)
	}
	// Fields of embedded structs are promoted: Volume has VolumeSource's.
	if _, ok := v3["io.k8s.api.core.v1.Volume"].Properties["emptyDir"]; !ok {
		t.Error("Volume lacks the fields of its embedded VolumeSource")
	}
	if _, ok := v3["io.k8s.api.core.v1.EphemeralContainer"].Properties["image"]; !ok {
		t.Error("EphemeralContainer lacks the fields of EphemeralContainerCommon")
	}
}

// Every field of every generated definition follows its Go struct field:
// name, description from SwaggerDoc, patch tags, required unless omitempty.
func TestDefinitionsFollowGoStructs(t *testing.T) {
	_, reg := testDocuments(t)
	l, err := layOut(reg)
	if err != nil {
		t.Fatal(err)
	}
	checked, patched := 0, 0
	for typ, name := range l.v3.names {
		def := l.v3.defs[name]
		if len(def.Properties) == 0 {
			continue
		}
		fields := map[string]reflect.StructField{}
		owners := map[string]reflect.Type{}
		var collect func(reflect.Type)
		collect = func(st reflect.Type) {
			for i := 0; i < st.NumField(); i++ {
				f := st.Field(i)
				jsonName, _, skip := jsonField(f)
				if skip {
					continue
				}
				if jsonName == "" {
					collect(derefType(f.Type))
					continue
				}
				fields[jsonName], owners[jsonName] = f, st
			}
		}
		collect(typ)
		if len(fields) != len(def.Properties) {
			t.Errorf("%s: %d properties for %d JSON fields", name, len(def.Properties), len(fields))
		}
		required := map[string]bool{}
		for _, r := range def.Required {
			required[r] = true
		}
		for jsonName, f := range fields {
			prop, ok := def.Properties[jsonName]
			if !ok {
				t.Errorf("%s: no property %s", name, jsonName)
				continue
			}
			checked++
			if want := swaggerDoc(owners[jsonName])[jsonName]; prop.Description != want {
				t.Errorf("%s.%s: description %q, want %q", name, jsonName, prop.Description, want)
			}
			wantStrategy, wantKey := f.Tag.Get("patchStrategy"), f.Tag.Get("patchMergeKey")
			gotStrategy, _ := prop.Extensions.GetString(extPatchStrategy)
			gotKey, _ := prop.Extensions.GetString(extPatchMergeKey)
			if gotStrategy != wantStrategy || gotKey != wantKey {
				t.Errorf("%s.%s: patch %q/%q, want %q/%q", name, jsonName, gotStrategy, gotKey, wantStrategy, wantKey)
			}
			if wantStrategy != "" {
				patched++
			}
			_, omit, _ := jsonField(f)
			if required[jsonName] == omit {
				t.Errorf("%s.%s: required %v with tag %q", name, jsonName, required[jsonName], f.Tag.Get("json"))
			}
		}
	}
	if checked < 1000 || patched < 30 {
		t.Errorf("checked only %d fields, %d with patch strategies", checked, patched)
	}
}

// jsonField reads tags as encoding/json does.
func TestJSONField(t *testing.T) {
	type Embedded struct{ A string }
	type hidden struct{ B string }
	type sample struct {
		Embedded `json:",inline"`
		*hidden
		Skipped   string `json:"-"`
		Dash      string `json:"-,"`
		Untagged  string
		OnlyOpts  string `json:",omitempty"`
		Zero      int    `json:"zero,omitzero"`
		Named     Embedded
		unexposed string
	}
	want := map[string]struct {
		name       string
		omit, skip bool
	}{
		"Embedded":  {"", false, false},
		"hidden":    {"", false, false},
		"Skipped":   {"", false, true},
		"Dash":      {"-", false, false},
		"Untagged":  {"Untagged", false, false},
		"OnlyOpts":  {"OnlyOpts", true, false},
		"Zero":      {"zero", true, false},
		"Named":     {"Named", false, false},
		"unexposed": {"", false, true},
	}
	typ := reflect.TypeFor[sample]()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, omit, skip := jsonField(f)
		if w := want[f.Name]; name != w.name || omit != w.omit || skip != w.skip {
			t.Errorf("%s: (%q, %v, %v), want %+v", f.Name, name, omit, skip, w)
		}
	}
}

// The JSON writer spells definitions exactly as kube-openapi's marshaller
// would (compared as JSON values).
func TestJSONWriterMatchesKubeOpenAPI(t *testing.T) {
	_, reg := testDocuments(t)
	l, err := layOut(reg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, set := range []*schemaSet{l.v2, l.v3} {
		for name, s := range set.defs {
			var buf bytes.Buffer
			if err := writeSchema(&buf, s); err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, buf.Bytes(), want) {
				t.Errorf("%s:\n%s\nwant\n%s", name, buf.Bytes(), want)
			}
			n++
		}
	}
	var buf bytes.Buffer
	writeString(&buf, "quote \" backslash \\ newline \n tab \t nul \x00 bell \a <html> & \u2028 é ✓ \xff")
	var back string
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back != "quote \" backslash \\ newline \n tab \t nul \x00 bell \a <html> & \u2028 é ✓ \ufffd" {
		t.Errorf("writeString: %s → %q (%v)", buf.Bytes(), back, err)
	}
	t.Logf("%d definitions compared", n)
}

// The protobuf forms equal what gnostic's ParseDocument makes of the JSON,
// which is how upstream (kube-openapi's handlers) makes them.
func TestProtobufMatchesGnosticParse(t *testing.T) {
	d, _ := testDocuments(t)
	want, err := openapi_v2.ParseDocument(d.v2.json)
	if err != nil {
		t.Fatal(err)
	}
	var got openapi_v2.Document
	if err := proto.Unmarshal(d.v2.proto, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, want) {
		t.Error("v2 protobuf differs from ParseDocument of the v2 JSON")
	}
	for key, e := range d.v3 {
		want, err := openapi_v3.ParseDocument(e.json)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		var got openapi_v3.Document
		if err := proto.Unmarshal(e.proto, &got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&got, want) {
			t.Errorf("%s: protobuf differs from ParseDocument of its JSON", key)
		}
	}
}

// yamlNode builds the tree go.yaml.in/yaml/v3 builds from the same JSON.
func TestYAMLNodeMatchesYAMLParser(t *testing.T) {
	src := `{"s":"plain","e":"q\"b\\sn\nt\tu\u00e9\u2028 😀","i":-12,"z":0,"f":1.5,"x":2e10,"t":true,` +
		`"F":false,"n":null,"a":[1,"2",[],{}],"o":{"200":{"k":[{"x-y":"v"}]}}, "sp" : [ 1 , 2 ] }`
	got, err := yamlNode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	var cmp func(path string, a, b *yaml.Node)
	cmp = func(path string, a, b *yaml.Node) {
		if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || len(a.Content) != len(b.Content) {
			t.Errorf("%s: got kind %v tag %s value %q (%d children), yaml has %v %s %q (%d)",
				path, a.Kind, a.Tag, a.Value, len(a.Content), b.Kind, b.Tag, b.Value, len(b.Content))
			return
		}
		for i := range a.Content {
			cmp(path+"/"+b.Content[i].Value, a.Content[i], b.Content[i])
		}
	}
	cmp("", got, doc.Content[0])

	// JSON allows an escaped solidus and surrogate pairs, YAML does not.
	if n, err := yamlNode([]byte(`"a\/b\ud83d\ude00"`)); err != nil || n.Value != "a/b😀" {
		t.Errorf(`"a\/b\ud83d\ude00": %v, %v`, n, err)
	}
	for _, bad := range []string{`{"a":}`, `{"a":1`, `[1 2]`, `{"a":1} x`, `"open`, `{1:2}`} {
		if _, err := yamlNode([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// Upstream publishes a kind's status and spec through refs, which
// explain's typeGuess shows by name.
func TestFieldsReferToDefinitions(t *testing.T) {
	d, _ := testDocuments(t)
	defs := d.Definitions()
	for _, tc := range []struct {
		def, field, want string
	}{
		{"io.k8s.api.apps.v1.Deployment", "spec", "io.k8s.api.apps.v1.DeploymentSpec"},
		{"io.k8s.api.apps.v1.Deployment", "metadata", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
		{"io.k8s.api.apps.v1.DeploymentList", "metadata", "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"},
		{"io.k8s.api.core.v1.PodTemplateSpec", "spec", "io.k8s.api.core.v1.PodSpec"},
		{"io.k8s.api.core.v1.ServicePort", "targetPort", "io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
	} {
		if got := refOf(defs[tc.def].Properties[tc.field]); got != tc.want {
			t.Errorf("%s.%s refers to %q, want %q", tc.def, tc.field, got, tc.want)
		}
		if _, ok := defs[tc.want]; !ok {
			t.Errorf("%s is not defined", tc.want)
		}
	}
	items := defs["io.k8s.api.apps.v1.DeploymentList"].Properties["items"]
	if items.Type[0] != "array" || refOf(*items.Items.Schema) != "io.k8s.api.apps.v1.Deployment" {
		t.Errorf("DeploymentList.items %+v", items)
	}
	if desc := defs["io.k8s.api.apps.v1.Deployment"].Description; desc != (appsv1.Deployment{}).SwaggerDoc()[""] {
		t.Errorf("Deployment description %q", desc)
	}
	if got := defs["io.k8s.api.core.v1.PodSpec"].Properties["containers"].Extensions; got[extListType] != "map" ||
		!reflect.DeepEqual(got[extListMapKeys], []interface{}{"name"}) || got[extPatchMergeKey] != "name" {
		t.Errorf("PodSpec.containers extensions %v", got)
	}
	if got := defs["io.k8s.api.core.v1.Container"].Properties["ports"].Extensions[extListMapKeys]; !reflect.DeepEqual(got, []interface{}{"containerPort", "protocol"}) {
		t.Errorf("Container.ports keys %v", got)
	}
	if got := defs["io.k8s.api.core.v1.PodSpec"].Properties["nodeSelector"].Extensions[extMapType]; got != "atomic" {
		t.Errorf("PodSpec.nodeSelector map type %v", got)
	}
	if got := defs["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"].Extensions[extMapType]; got != "atomic" {
		t.Errorf("LabelSelector map type %v", got)
	}
}
