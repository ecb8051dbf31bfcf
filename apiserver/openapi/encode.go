package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/google/gnostic-models/compiler"
	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Encoding. The documents are JSON; their protobuf forms are gnostic's
// models of that JSON (what openapi_v2.ParseDocument and
// openapi_v3.ParseDocument return), proto.Marshal'ed. Two things make this
// cheap enough to do at start-up:
//
//   - A definition such as io.k8s.api.core.v1.PodSpec appears in several
//     documents. Each definition is marshalled to JSON and turned into its
//     gnostic model once per OpenAPI version, and documents are assembled
//     from those pieces.
//   - gnostic reads JSON through a YAML parser, which is most of
//     ParseDocument's cost. yamlNode builds the same yaml.Node tree straight
//     from the JSON, and the tree goes to gnostic's own NewDocument /
//     NewSchema, the functions ParseDocument calls after parsing.
//
// Tests check that the result equals ParseDocument + proto.Marshal of the
// whole document.

// encodedDefs is every definition of one schemaSet in both encodings.
type encodedDefs struct {
	json map[string][]byte
	v2   map[string]*openapi_v2.Schema
	v3   map[string]*openapi_v3.SchemaOrReference
}

func encodeDefinitions(set *schemaSet) (*encodedDefs, error) {
	out := &encodedDefs{json: make(map[string][]byte, len(set.defs))}
	if set.v3 {
		out.v3 = make(map[string]*openapi_v3.SchemaOrReference, len(set.defs))
	} else {
		out.v2 = make(map[string]*openapi_v2.Schema, len(set.defs))
	}
	for name, s := range set.defs {
		var buf bytes.Buffer
		if err := writeSchema(&buf, s); err != nil {
			return nil, fmt.Errorf("encode %s: %w", name, err)
		}
		b := buf.Bytes()
		out.json[name] = b
		node, err := yamlNode(b)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", name, err)
		}
		ctx := compiler.NewContext("$root", node, nil)
		if set.v3 {
			out.v3[name], err = openapi_v3.NewSchemaOrReference(node, ctx)
		} else {
			out.v2[name], err = openapi_v2.NewSchema(node, ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("protobuf form of %s: %w", name, err)
		}
	}
	return out, nil
}

// member is one member of a JSON object, its value already encoded.
type member struct {
	key   string
	value []byte
}

// writeObject writes a JSON object of encoded members, in the order given.
func writeObject(buf *bytes.Buffer, members []member) {
	buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, m.key)
		buf.WriteByte(':')
		buf.Write(m.value)
	}
	buf.WriteByte('}')
}

func (e *encodedDefs) members(names []string) []member {
	out := make([]member, len(names))
	for i, n := range names {
		out[i] = member{n, e.json[n]}
	}
	return out
}

func marshalAll(values ...any) ([][]byte, error) {
	out := make([][]byte, len(values))
	for i, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func securitySchemeV3() spec3.SecuritySchemes {
	return spec3.SecuritySchemes{"BearerToken": &spec3.SecurityScheme{SecuritySchemeProps: spec3.SecuritySchemeProps{
		Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication",
	}}}
}

func securitySchemeV2() spec.SecurityDefinitions {
	return spec.SecurityDefinitions{"BearerToken": &spec.SecurityScheme{SecuritySchemeProps: spec.SecuritySchemeProps{
		Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication",
	}}}
}

// encodeV3 assembles one group-version document (keys in sorted order, as
// kube-openapi writes them) from the routes and the definitions they reach.
func encodeV3(set *schemaSet, defs *encodedDefs, routes []route, info *spec.Info) (encoded, error) {
	names := sortedNames(set.closure(referenced(routes)))
	parts, err := marshalAll(securitySchemeV3(), info)
	if err != nil {
		return encoded{}, err
	}
	security, infoJSON := parts[0], parts[1]
	var paths bytes.Buffer
	writeV3Paths(&paths, routes)

	doc := func(schemas []member) []byte {
		var buf bytes.Buffer
		var components bytes.Buffer
		writeObject(&components, []member{{"schemas", objectBytes(schemas)}, {"securitySchemes", security}})
		writeObject(&buf, []member{
			{"components", components.Bytes()},
			{"info", infoJSON},
			{"openapi", []byte(`"3.0.0"`)},
			{"paths", paths.Bytes()},
		})
		return buf.Bytes()
	}
	e := newEncoded(doc(defs.members(names)))

	// The protobuf form: the document without its schemas goes through
	// gnostic, then the schemas' models, made once, are put in place.
	skeleton := doc(nil)
	node, err := yamlNode(skeleton)
	if err != nil {
		return encoded{}, err
	}
	pb, err := openapi_v3.NewDocument(node, compiler.NewContextWithExtensions("$root", node, nil, nil))
	if err != nil {
		return encoded{}, fmt.Errorf("protobuf form: %w", err)
	}
	schemas := &openapi_v3.SchemasOrReferences{}
	for _, n := range names {
		schemas.AdditionalProperties = append(schemas.AdditionalProperties,
			&openapi_v3.NamedSchemaOrReference{Name: n, Value: defs.v3[n]})
	}
	pb.Components.Schemas = schemas
	if e.proto, err = (proto.MarshalOptions{Deterministic: true}).Marshal(pb); err != nil {
		return encoded{}, fmt.Errorf("protobuf form: %w", err)
	}
	return e, nil
}

// encodeV2 assembles the Swagger 2.0 document of the whole API.
func encodeV2(set *schemaSet, defs *encodedDefs, routes []route, info *spec.Info) (encoded, error) {
	names := sortedNames(set.defs)
	parts, err := marshalAll(info, []map[string][]string{{"BearerToken": {}}}, securitySchemeV2())
	if err != nil {
		return encoded{}, err
	}
	var paths, params bytes.Buffer
	writeV2Paths(&paths, routes)
	writeV2GlobalParams(&params, routes)
	doc := func(definitions []member) []byte {
		var buf bytes.Buffer
		writeObject(&buf, []member{
			{"definitions", objectBytes(definitions)},
			{"info", parts[0]},
			{"parameters", params.Bytes()},
			{"paths", paths.Bytes()},
			{"security", parts[1]},
			{"securityDefinitions", parts[2]},
			{"swagger", []byte(`"2.0"`)},
		})
		return buf.Bytes()
	}
	e := newEncoded(doc(defs.members(names)))

	node, err := yamlNode(doc(nil))
	if err != nil {
		return encoded{}, err
	}
	pb, err := openapi_v2.NewDocument(node, compiler.NewContextWithExtensions("$root", node, nil, nil))
	if err != nil {
		return encoded{}, fmt.Errorf("protobuf form: %w", err)
	}
	definitions := &openapi_v2.Definitions{}
	for _, n := range names {
		definitions.AdditionalProperties = append(definitions.AdditionalProperties,
			&openapi_v2.NamedSchema{Name: n, Value: defs.v2[n]})
	}
	pb.Definitions = definitions
	if e.proto, err = (proto.MarshalOptions{Deterministic: true}).Marshal(pb); err != nil {
		return encoded{}, fmt.Errorf("protobuf form: %w", err)
	}
	return e, nil
}

func objectBytes(members []member) []byte {
	var buf bytes.Buffer
	writeObject(&buf, members)
	return buf.Bytes()
}

func sortedNames(m map[string]*spec.Schema) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// yamlNode reads JSON into the yaml.Node tree go.yaml.in/yaml/v3 would
// build from it: every JSON string a "!!str" scalar (keys included), whole
// numbers "!!int", other numbers "!!float", and so on; gnostic looks only
// at kinds, tags and values. It is a small recursive-descent reader
// rather than encoding/json's tokenizer, which costs several times more.
func yamlNode(b []byte) (*yaml.Node, error) {
	r := &jsonReader{b: b}
	r.space()
	n, err := r.value()
	if err != nil {
		return nil, err
	}
	if r.space(); r.i != len(r.b) {
		return nil, r.errorf("trailing data")
	}
	return n, nil
}

type jsonReader struct {
	b []byte
	i int
	// nodes are handed out from slabs: a document has tens of thousands
	// and one allocation each would dominate the cost of reading it.
	slab []yaml.Node
}

func (r *jsonReader) node(kind yaml.Kind, tag, value string) *yaml.Node {
	if len(r.slab) == 0 {
		// About one node per 40 bytes of these documents.
		r.slab = make([]yaml.Node, min(1024, max(16, (len(r.b)-r.i)/40)))
	}
	n := &r.slab[0]
	r.slab = r.slab[1:]
	n.Kind, n.Tag, n.Value = kind, tag, value
	return n
}

func (r *jsonReader) errorf(format string, args ...any) error {
	return fmt.Errorf("read JSON at offset %d: %s", r.i, fmt.Sprintf(format, args...))
}

func (r *jsonReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jsonReader) value() (*yaml.Node, error) {
	if r.i >= len(r.b) {
		return nil, r.errorf("unexpected end")
	}
	switch c := r.b[r.i]; {
	case c == '{' || c == '[':
		return r.container(c)
	case c == '"':
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		return r.node(yaml.ScalarNode, "!!str", s), nil
	case c == '-' || c >= '0' && c <= '9':
		start, tag := r.i, "!!int"
		for r.i < len(r.b) && strings.IndexByte("+-0123456789.eE", r.b[r.i]) >= 0 {
			if strings.IndexByte(".eE", r.b[r.i]) >= 0 {
				tag = "!!float"
			}
			r.i++
		}
		return r.node(yaml.ScalarNode, tag, string(r.b[start:r.i])), nil
	}
	for _, lit := range []struct{ text, tag string }{{"true", "!!bool"}, {"false", "!!bool"}, {"null", "!!null"}} {
		if bytes.HasPrefix(r.b[r.i:], []byte(lit.text)) {
			r.i += len(lit.text)
			return r.node(yaml.ScalarNode, lit.tag, lit.text), nil
		}
	}
	return nil, r.errorf("unexpected %q", r.b[r.i])
}

func (r *jsonReader) container(open byte) (*yaml.Node, error) {
	n, end := r.node(yaml.MappingNode, "!!map", ""), byte('}')
	if open == '[' {
		n.Kind, n.Tag, end = yaml.SequenceNode, "!!seq", ']'
	}
	r.i++
	r.space()
	if r.i < len(r.b) && r.b[r.i] == end {
		r.i++
		return n, nil
	}
	for {
		if n.Kind == yaml.MappingNode {
			if r.i >= len(r.b) || r.b[r.i] != '"' {
				return nil, r.errorf("expected a key")
			}
			key, err := r.str()
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, r.node(yaml.ScalarNode, "!!str", key))
			r.space()
			if r.i >= len(r.b) || r.b[r.i] != ':' {
				return nil, r.errorf("expected ':'")
			}
			r.i++
			r.space()
		}
		child, err := r.value()
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content, child)
		r.space()
		if r.i >= len(r.b) {
			return nil, r.errorf("unexpected end")
		}
		switch r.b[r.i] {
		case ',':
			r.i++
			r.space()
		case end:
			r.i++
			return n, nil
		default:
			return nil, r.errorf("unexpected %q", r.b[r.i])
		}
	}
}

// str reads a JSON string; only strings with escapes are copied twice.
func (r *jsonReader) str() (string, error) {
	start := r.i
	r.i++
	escaped := false
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case '\\':
			escaped = true
			r.i += 2
			continue
		case '"':
			r.i++
			if !escaped {
				return string(r.b[start+1 : r.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(r.b[start:r.i], &s); err != nil {
				return "", r.errorf("%v", err)
			}
			return s, nil
		}
		r.i++
	}
	return "", r.errorf("unterminated string")
}
