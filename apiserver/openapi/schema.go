package openapi

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Extension names kubectl, strategicpatch and the SSA type converter read.
const (
	extGVK           = "x-kubernetes-group-version-kind"
	extPatchStrategy = "x-kubernetes-patch-strategy"
	extPatchMergeKey = "x-kubernetes-patch-merge-key"
	extListType      = "x-kubernetes-list-type"
	extListMapKeys   = "x-kubernetes-list-map-keys"
	extMapType       = "x-kubernetes-map-type"
	extIntOrString   = "x-kubernetes-int-or-string"
	extAction        = "x-kubernetes-action"
)

// Ref prefixes of the two OpenAPI versions.
const (
	refPrefixV2 = "#/definitions/"
	refPrefixV3 = "#/components/schemas/"
)

// schemaSet turns Go types into named OpenAPI schema definitions, the way
// kube-openapi's openapi-gen does for the upstream API server, but at
// run time by reflection. One set spells one OpenAPI version: v2 puts a
// description next to a $ref, v3 wraps the $ref in a one-element allOf
// (a $ref's siblings are ignored in OpenAPI 3.0), and the few types with
// a custom wire form (IntOrString, Quantity) are spelled per version.
type schemaSet struct {
	v3     bool
	scheme *runtime.Scheme
	defs   map[string]*spec.Schema
	// deps lists, per definition, the definitions it refers to directly;
	// a group-version document carries the closure from its kinds.
	deps  map[string][]string
	names map[reflect.Type]string
}

func newSchemaSet(v3 bool, scheme *runtime.Scheme) *schemaSet {
	return &schemaSet{
		v3:     v3,
		scheme: scheme,
		defs:   map[string]*spec.Schema{},
		deps:   map[string][]string{},
		names:  map[reflect.Type]string{},
	}
}

func (s *schemaSet) refPrefix() string {
	if s.v3 {
		return refPrefixV3
	}
	return refPrefixV2
}

// ref returns a schema that points at a definition.
func (s *schemaSet) ref(name string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(s.refPrefix() + name)}}
}

// modelNamed is implemented by k8s.io/api and apimachinery types
// (zz_generated.model_name.go): the name upstream publishes them under.
type modelNamed interface {
	OpenAPIModelName() string
}

// definitionName names a Go type like upstream does: by its declared
// model name, else the package path with its host reversed, then the type
// name ("k8s.io/api/apps/v1".Deployment → "io.k8s.api.apps.v1.Deployment").
func definitionName(t reflect.Type) string {
	if n, ok := reflect.New(t).Interface().(modelNamed); ok {
		return n.OpenAPIModelName()
	}
	parts := strings.Split(t.PkgPath(), "/")
	host := strings.Split(parts[0], ".")
	for i, j := 0, len(host)-1; i < j; i, j = i+1, j-1 {
		host[i], host[j] = host[j], host[i]
	}
	parts[0] = strings.Join(host, ".")
	return strings.Join(parts, ".") + "." + t.Name()
}

// Interfaces through which apimachinery's hand-written types declare their
// wire form (Time, MicroTime, Duration, Quantity, IntOrString).
type openAPITyped interface {
	OpenAPISchemaType() []string
	OpenAPISchemaFormat() string
}

type openAPIV3OneOf interface {
	OpenAPIV3OneOfTypes() []string
}

type swaggerDocumented interface {
	SwaggerDoc() map[string]string
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	runtimeObject = reflect.TypeFor[runtime.Object]()
)

// define returns the definition name of a struct type, generating the
// definition (and those it refers to) the first time.
func (s *schemaSet) define(t reflect.Type) string {
	if name, ok := s.names[t]; ok {
		return name
	}
	name := definitionName(t)
	s.names[t] = name
	def := &spec.Schema{}
	// Registered before the fields are walked so that recursive types end.
	s.defs[name] = def
	deps := map[string]struct{}{}

	switch typed, ok := reflect.New(t).Interface().(openAPITyped); {
	case ok:
		*def = s.customSchema(t, typed)
	case reflect.PointerTo(t).Implements(jsonMarshaler):
		// A struct with its own JSON form and no declared schema
		// (runtime.RawExtension, metav1.FieldsV1) holds arbitrary JSON
		// objects; upstream publishes these as a bare object.
		def.Type = spec.StringOrArray{"object"}
		def.Description = describeSpecial(t)
	default:
		def.Type = spec.StringOrArray{"object"}
		def.Description = typeDoc(t)
		s.addFields(def, t, deps)
	}
	if structTypeAtomic[name] {
		def.AddExtension(extMapType, "atomic")
	}
	if gvks := s.kinds(t); len(gvks) > 0 {
		def.AddExtension(extGVK, gvkExtension(gvks))
	}
	s.deps[name] = sortedKeys(deps)
	return name
}

// customSchema spells a type that declares its wire form. OpenAPI v3 gets
// the oneOf alternatives upstream publishes; IntOrString also carries
// x-kubernetes-int-or-string, the structural-schema spelling of the same
// thing that CRD authors and schema tools understand.
func (s *schemaSet) customSchema(t reflect.Type, typed openAPITyped) spec.Schema {
	out := spec.Schema{}
	out.Description = describeSpecial(t)
	out.Format = typed.OpenAPISchemaFormat()
	oneOf, hasOneOf := typed.(openAPIV3OneOf)
	if s.v3 && hasOneOf {
		types := oneOf.OpenAPIV3OneOfTypes()
		for _, typ := range types {
			out.OneOf = append(out.OneOf, spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}}})
		}
		if len(types) == 2 && types[0] == "integer" && types[1] == "string" {
			out.AddExtension(extIntOrString, true)
		}
		return out
	}
	out.Type = spec.StringOrArray(typed.OpenAPISchemaType())
	return out
}

// kinds lists the group/version/kinds the scheme knows a type by, sorted
// like upstream. meta/v1 DeleteOptions and WatchEvent are registered in
// every group, so they carry one entry per group-version, as upstream's do.
func (s *schemaSet) kinds(t reflect.Type) []schema.GroupVersionKind {
	if !reflect.PointerTo(t).Implements(runtimeObject) {
		return nil
	}
	obj := reflect.New(t).Interface().(runtime.Object)
	gvks, _, err := s.scheme.ObjectKinds(obj)
	if err != nil {
		return nil
	}
	var out []schema.GroupVersionKind
	for _, gvk := range gvks {
		if gvk.Version != runtime.APIVersionInternal {
			out = append(out, gvk)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Kind < b.Kind
	})
	return out
}

// gvkExtension spells GVKs as generic JSON values: the SSA type converter
// type-asserts []interface{} of map[string]interface{}.
func gvkExtension(gvks []schema.GroupVersionKind) []interface{} {
	out := make([]interface{}, 0, len(gvks))
	for _, gvk := range gvks {
		out = append(out, map[string]interface{}{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind})
	}
	return out
}

// addFields adds the JSON fields of a struct to def, flattening embedded
// structs as encoding/json does (`json:",inline"` in k8s.io/api).
func (s *schemaSet) addFields(def *spec.Schema, t reflect.Type, deps map[string]struct{}) {
	docs := swaggerDoc(t)
	owner := definitionName(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, omit, skip := jsonField(f)
		switch {
		case skip:
			continue
		case name == "":
			s.addFields(def, derefType(f.Type), deps)
			continue
		}
		prop := s.fieldSchema(f, owner, name, docs[name], deps)
		if def.Properties == nil {
			def.Properties = map[string]spec.Schema{}
		}
		def.Properties[name] = prop
		if !omit {
			def.Required = append(def.Required, name)
		}
	}
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonField reads a struct field the way encoding/json does. name is
// empty for an embedded struct whose fields are promoted; omit reports
// omitempty or omitzero; skip reports a field encoding/json never writes.
func jsonField(f reflect.StructField) (name string, omit, skip bool) {
	tag, _ := f.Tag.Lookup("json")
	if tag == "-" {
		return "", false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	for _, opt := range strings.Split(opts, ",") {
		if opt == "omitempty" || opt == "omitzero" {
			omit = true
		}
	}
	if f.Anonymous && name == "" && derefType(f.Type).Kind() == reflect.Struct {
		return "", omit, false
	}
	if !f.IsExported() {
		return "", false, true
	}
	if name == "" {
		name = f.Name
	}
	return name, omit, false
}

// fieldSchema is the schema of one struct field, with its description,
// its strategic-merge-patch tags and the list/map semantics upstream marks
// with +listType/+mapType comments (kept in markers.go).
func (s *schemaSet) fieldSchema(f reflect.StructField, owner, jsonName, doc string, deps map[string]struct{}) spec.Schema {
	out := s.typeSchema(f.Type, deps)
	ext := spec.Extensions{}
	if v := f.Tag.Get("patchStrategy"); v != "" {
		ext[extPatchStrategy] = v
	}
	if v := f.Tag.Get("patchMergeKey"); v != "" {
		ext[extPatchMergeKey] = v
	}
	if m, ok := fieldMarkers[owner+"."+jsonName]; ok {
		if m.listType != "" {
			ext[extListType] = m.listType
		}
		if len(m.mapKeys) > 0 {
			keys := make([]interface{}, len(m.mapKeys))
			for i, k := range m.mapKeys {
				keys[i] = k
			}
			ext[extListMapKeys] = keys
		}
		if m.mapType != "" {
			ext[extMapType] = m.mapType
		}
	}
	def, hasDefault := fieldDefaults[owner+"."+jsonName]
	if doc == "" && len(ext) == 0 && !hasDefault {
		return out
	}
	if out.Ref.String() != "" && s.v3 {
		out = spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{out}}}
	}
	out.Description = doc
	if hasDefault {
		out.Default = def
	}
	for k, v := range ext {
		out.AddExtension(k, v)
	}
	return out
}

// typeSchema is the schema of a Go type used as a field, element or value.
// Struct types become $refs to definitions; everything else is inlined,
// with the type/format pairs openapi-gen uses.
func (s *schemaSet) typeSchema(t reflect.Type, deps map[string]struct{}) spec.Schema {
	t = derefType(t)
	simple := func(typ, format string) spec.Schema {
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}, Format: format}}
	}
	switch t.Kind() {
	case reflect.Struct:
		name := s.define(t)
		deps[name] = struct{}{}
		return s.ref(name)
	case reflect.String:
		return simple("string", "")
	case reflect.Bool:
		return simple("boolean", "")
	case reflect.Int8, reflect.Uint8:
		return simple("integer", "byte")
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint16:
		return simple("integer", "int32")
	case reflect.Int64, reflect.Uint32, reflect.Uint64:
		return simple("integer", "int64")
	case reflect.Float32:
		return simple("number", "float")
	case reflect.Float64:
		return simple("number", "double")
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			// []byte travels base64-encoded.
			return simple("string", "byte")
		}
		item := s.typeSchema(t.Elem(), deps)
		out := simple("array", "")
		out.Items = &spec.SchemaOrArray{Schema: &item}
		return out
	case reflect.Map:
		value := s.typeSchema(t.Elem(), deps)
		out := simple("object", "")
		out.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: &value}
		return out
	default:
		// interface{} and anything else: any JSON value, as openapi-gen
		// spells interface{}.
		return simple("object", "")
	}
}

func swaggerDoc(t reflect.Type) map[string]string {
	if d, ok := reflect.Zero(t).Interface().(swaggerDocumented); ok {
		return d.SwaggerDoc()
	}
	if d, ok := reflect.New(t).Interface().(swaggerDocumented); ok {
		return d.SwaggerDoc()
	}
	return nil
}

func typeDoc(t reflect.Type) string {
	if doc := swaggerDoc(t)[""]; doc != "" {
		return doc
	}
	return describeSpecial(t)
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
