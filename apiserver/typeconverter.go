package apiserver

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/schemaconv"
	"k8s.io/kube-openapi/pkg/validation/spec"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// typeConverter is the field manager's TypeConverter. It is
// k8s.io/apimachinery's (managedfields.NewTypeConverter) except for one
// thing: a typed Go object is not walked once more to be validated against
// its schema before the field manager compares it.
//
// Why: every create, update and patch that names a field manager converts
// the live and the new object, and for a typed object that validation walk
// was 40% of the field manager's CPU and the largest single cost of a
// create after etcd and the transport (bench controlplane/creates). It can
// only fail where the Go type and its OpenAPI schema disagree, and the
// field manager's comparison walks the same values against the same schema
// right after and reports the same errors (an undeclared field, a value of
// the wrong kind); duplicate keys in an associative list are allowed by
// every caller anyway (typed.AllowDuplicates). Unstructured objects —
// server-side apply's patches, which come from users — are validated as
// before.
type typeConverter struct {
	parser map[schema.GroupVersionKind]*typed.ParseableType

	// models and upstream serve a kind the definitions do not describe:
	// apimachinery's converter answers with the error type its version
	// converter recognises (and drops such entries on), which cannot be
	// made outside its internal package. Built on first need, which a
	// served type never has.
	models       map[string]*spec.Schema
	upstreamOnce sync.Once
	upstream     managedfields.TypeConverter
	upstreamErr  error
}

var _ managedfields.TypeConverter = (*typeConverter)(nil)

// newTypeConverter indexes the OpenAPI definitions by the kinds their
// x-kubernetes-group-version-kind extension names, as apimachinery does.
func newTypeConverter(models map[string]*spec.Schema) (*typeConverter, error) {
	s, err := schemaconv.ToSchemaFromOpenAPI(models, false)
	if err != nil {
		return nil, fmt.Errorf("convert the OpenAPI definitions to a structured-merge-diff schema: %w", err)
	}
	parser := &typed.Parser{Schema: smdschema.Schema{Types: s.Types}}
	c := &typeConverter{parser: map[schema.GroupVersionKind]*typed.ParseableType{}, models: models}
	for name, model := range models {
		kinds := definitionKinds(model.Extensions)
		if len(kinds) == 0 {
			continue
		}
		t := parser.Type(name)
		for _, gvk := range kinds {
			c.parser[gvk] = &t
		}
	}
	return c, nil
}

// definitionKinds reads an OpenAPI definition's
// x-kubernetes-group-version-kind list.
func definitionKinds(ext spec.Extensions) []schema.GroupVersionKind {
	list, _ := ext["x-kubernetes-group-version-kind"].([]interface{})
	var out []schema.GroupVersionKind
	for _, item := range list {
		var group, version, kind string
		switch m := item.(type) {
		case map[string]interface{}:
			group, _ = m["group"].(string)
			version, _ = m["version"].(string)
			kind, _ = m["kind"].(string)
		case map[interface{}]interface{}:
			group, _ = m["group"].(string)
			version, _ = m["version"].(string)
			kind, _ = m["kind"].(string)
		}
		if kind != "" && version != "" {
			out = append(out, schema.GroupVersionKind{Group: group, Version: version, Kind: kind})
		}
	}
	return out
}

func (c *typeConverter) ObjectToTyped(obj apiruntime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	t := c.parser[obj.GetObjectKind().GroupVersionKind()]
	if t == nil {
		c.upstreamOnce.Do(func() { c.upstream, c.upstreamErr = managedfields.NewTypeConverter(c.models, false) })
		if c.upstreamErr != nil {
			return nil, c.upstreamErr
		}
		return c.upstream.ObjectToTyped(obj, opts...)
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return t.FromUnstructured(u.UnstructuredContent(), opts...)
	}
	v, err := value.NewValueReflect(obj)
	if err != nil {
		return nil, fmt.Errorf("error creating struct value reflector: %v", err)
	}
	return typed.AsTypedUnvalidated(v, t.Schema, t.TypeRef), nil
}

func (c *typeConverter) TypedToObject(v *typed.TypedValue) (apiruntime.Object, error) {
	if m, ok := v.AsValue().Unstructured().(map[string]interface{}); ok {
		return &unstructured.Unstructured{Object: m}, nil
	}
	return nil, fmt.Errorf("failed to convert value to unstructured for type %T", v.AsValue().Unstructured())
}
