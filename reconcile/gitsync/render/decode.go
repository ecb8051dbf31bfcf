package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The manifests package does not (yet) offer a multi-document decoder with
// file:line positions, so this package carries the small one it needs.
// It decodes with yaml.v3 nodes, which keep line numbers, before kustomize
// sees the bytes: kustomize's own errors name neither file nor line.

// sourceAnnotation is written into every object read from a resource file
// before the build and removed after it, so that each rendered object can
// be traced back to the file and line it came from through every
// kustomize transformation (name prefixes, namespaces, patches).
const sourceAnnotation = "render.skiff.dev/source"

// yamlLine extracts the position from yaml.v3's syntax errors, which carry
// it only in their text ("yaml: line 12: did not find expected key").
// yaml.v3 has no typed syntax error; this is the one place that reads text.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). For these yaml.v3 prints the 0-based line of the enclosing
// mapping or sequence; Skiff adds one so the line is the user's, and it
// then points at the offending line or at the start of the collection
// that holds it. Scanner errors are already 1-based.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// decodeError turns a yaml.v3 error into a FileError with the line when the
// message carries one.
func decodeError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if parserProblems[m[2]] {
			line++
		}
		return fileErr(file, line, fmt.Errorf("%w: %s", ErrInvalidManifest, m[2]))
	}
	return fileErr(file, 0, fmt.Errorf("%w: %s", ErrInvalidManifest, strings.TrimPrefix(msg, "yaml: ")))
}

// parseDocuments decodes every document of a YAML (or JSON) stream. Empty
// documents are dropped, as kustomize drops them.
func parseDocuments(file string, data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, decodeError(file, err)
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue
		}
		docs = append(docs, &doc)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// mapValue returns the value node for key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalarValue(m *yaml.Node, key string) string {
	v := mapValue(m, key)
	if v == nil || v.Kind != yaml.ScalarNode || isNull(v) {
		return ""
	}
	return v.Value
}

// checkObject applies the rules kustomize applies to a resource (kind
// required, metadata.name required except for lists) plus the apiVersion
// Flux requires after the build, reporting the object's own line.
func checkObject(file string, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fileErr(file, n.Line, fmt.Errorf("%w: expected a Kubernetes object, found a %s", ErrInvalidManifest, nodeKind(n)))
	}
	kind := scalarValue(n, "kind")
	switch {
	case scalarValue(n, "apiVersion") == "":
		return fileErr(file, n.Line, fmt.Errorf("%w: missing apiVersion", ErrInvalidManifest))
	case kind == "":
		return fileErr(file, n.Line, fmt.Errorf("%w: missing kind", ErrInvalidManifest))
	case strings.HasSuffix(kind, "List"):
		items := mapValue(n, "items")
		if items == nil || isNull(items) {
			return nil
		}
		if items.Kind != yaml.SequenceNode {
			return fileErr(file, items.Line, fmt.Errorf("%w: %s items must be a list", ErrInvalidManifest, kind))
		}
		for _, it := range items.Content {
			if err := checkObject(file, it); err != nil {
				return err
			}
		}
		return nil
	case scalarValue(mapValue(n, "metadata"), "name") == "":
		return fileErr(file, n.Line, fmt.Errorf("%w: %s is missing metadata.name", ErrInvalidManifest, kind))
	}
	return nil
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "mapping"
}

// decodeManifests decodes a resource file, checks every object in it and
// returns the file re-encoded with each object's source annotation added.
// The rewrite happens only in the in-memory copy handed to kustomize.
func decodeManifests(file string, data []byte) ([]byte, error) {
	docs, err := parseDocuments(file, data)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	for _, doc := range docs {
		obj := doc.Content[0]
		if err := checkObject(file, obj); err != nil {
			return nil, err
		}
		annotate(file, obj)
		if err := enc.Encode(doc); err != nil {
			return nil, fileErr(file, obj.Line, fmt.Errorf("re-encode: %w", err))
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fileErr(file, 0, fmt.Errorf("re-encode: %w", err))
	}
	return out.Bytes(), nil
}

// annotate records file:line on an object, and on each item of a List,
// which kustomize inlines as separate objects.
func annotate(file string, obj *yaml.Node) {
	if strings.HasSuffix(scalarValue(obj, "kind"), "List") {
		if items := mapValue(obj, "items"); items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				annotate(file, it)
			}
		}
		return
	}
	md := mapValue(obj, "metadata")
	if md == nil || md.Kind != yaml.MappingNode {
		return
	}
	ann := mapValue(md, "annotations")
	if ann == nil || isNull(ann) {
		ann = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if old := mapValue(md, "annotations"); old != nil {
			*old = *ann
			ann = old
		} else {
			md.Content = append(md.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "annotations"}, ann)
		}
	}
	if ann.Kind != yaml.MappingNode {
		return // invalid annotations; the API server will say so with the line we cannot add
	}
	value := file + ":" + strconv.Itoa(obj.Line)
	if v := mapValue(ann, sourceAnnotation); v != nil {
		*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
		return
	}
	ann.Content = append(ann.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: sourceAnnotation},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}
