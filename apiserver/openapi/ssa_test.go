package openapi

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/kube-openapi/pkg/validation/spec"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

func typeConverter(t *testing.T, d *Documents) managedfields.TypeConverter {
	t.Helper()
	defs := d.Definitions()
	ptrs := make(map[string]*spec.Schema, len(defs))
	for name := range defs {
		s := defs[name]
		ptrs[name] = &s
	}
	tc, err := managedfields.NewTypeConverter(ptrs, false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	return tc
}

// newObject returns an empty object of a kind with its apiVersion and kind
// set, as the API server hands objects to the field manager.
func newObject(t *testing.T, scheme *runtime.Scheme, gvk schema.GroupVersionKind) runtime.Object {
	t.Helper()
	obj, err := scheme.New(gvk)
	if err != nil {
		t.Fatal(err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj
}

// Server-side apply builds its type converter from Definitions().
func TestDefinitionsFeedTheSSATypeConverter(t *testing.T) {
	d, reg := testDocuments(t)
	tc := typeConverter(t, d)

	dep := &appsv1.Deployment{}
	dep.APIVersion, dep.Kind = "apps/v1", "Deployment"
	dep.Name, dep.Namespace = "dns", "kube-system"
	dep.Labels = map[string]string{"app": "dns"}
	dep.Spec.Template.Spec.Containers = []corev1.Container{{
		Name: "dns", Image: "coredns:1.11",
		// The same port over two protocols: only the upstream list keys
		// (containerPort, protocol) tell these two apart.
		Ports: []corev1.ContainerPort{
			{ContainerPort: 53, Protocol: corev1.ProtocolUDP},
			{ContainerPort: 53, Protocol: corev1.ProtocolTCP},
		},
		Env: []corev1.EnvVar{{Name: "A", Value: "1"}},
	}}
	dep.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
	tv, err := tc.ObjectToTyped(dep)
	if err != nil {
		t.Fatalf("ObjectToTyped(Deployment): %v", err)
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		t.Fatal(err)
	}
	fields := set.String()
	for _, want := range []string{
		`.spec.template.spec.containers[name="dns"].ports[containerPort=53,protocol="UDP"].protocol`,
		`.spec.template.spec.containers[name="dns"].env[name="A"].value`,
		`.metadata.labels.app`,
		`.spec.template.spec.tolerations`,
	} {
		if !strings.Contains(fields, want) {
			t.Errorf("field set lacks %s:\n%s", want, fields)
		}
	}

	// Every served kind, and the kinds of subresources, converts.
	kinds, subKinds := servedKinds(reg)
	for _, gvk := range append(kinds, subKinds...) {
		if _, err := tc.ObjectToTyped(newObject(t, reg.Scheme(), gvk)); err != nil {
			t.Errorf("ObjectToTyped(%s): %v", gvk, err)
		}
	}
}

// The list and map semantics server-side apply derives from Definitions()
// equal those client-go compiles in (generated from upstream's published
// schema), for every field of every served kind: the check that keeps
// markers.go complete and current.
func TestListSemanticsMatchClientGo(t *testing.T) {
	d, reg := testDocuments(t)
	ours := typeConverter(t, d)
	theirs := applyconfigurations.NewTypeConverter(reg.Scheme())
	kinds, subKinds := servedKinds(reg)
	c := &schemaComparison{seen: map[string]bool{}}
	for _, gvk := range append(kinds, subKinds...) {
		obj := newObject(t, reg.Scheme(), gvk)
		a, err := ours.ObjectToTyped(obj)
		if err != nil {
			t.Fatal(err)
		}
		b, err := theirs.ObjectToTyped(obj)
		if err != nil {
			// client-go has no apply configuration for core/v1 Binding.
			t.Logf("client-go cannot type %s: %v", gvk, err)
			continue
		}
		c.compare(gvk.Kind, a, b)
	}
	for _, p := range c.problems {
		t.Error(p)
	}
	if c.lists < 100 {
		t.Errorf("compared only %d lists; the walk did not reach far", c.lists)
	}
	t.Logf("compared %d lists and %d structs", c.lists, len(c.seen))
}

type schemaComparison struct {
	seen     map[string]bool
	problems []string
	lists    int
}

func (c *schemaComparison) compare(path string, a, b *typed.TypedValue) {
	c.walk(path, a.Schema(), a.TypeRef(), b.Schema(), b.TypeRef())
}

func (c *schemaComparison) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *schemaComparison) walk(path string, sa *smdschema.Schema, ta smdschema.TypeRef, sb *smdschema.Schema, tb smdschema.TypeRef) {
	if ta.NamedType != nil && tb.NamedType != nil && ta.ElementRelationship == nil && tb.ElementRelationship == nil {
		key := *ta.NamedType + "|" + *tb.NamedType
		if c.seen[key] {
			return
		}
		c.seen[key] = true
	}
	a, okA := sa.Resolve(ta)
	b, okB := sb.Resolve(tb)
	if !okA || !okB {
		c.problem("%s: unresolved type (ours %v, client-go %v)", path, okA, okB)
		return
	}
	switch {
	case b.List != nil:
		if a.List == nil {
			c.problem("%s: not a list in ours", path)
			return
		}
		c.lists++
		if a.List.ElementRelationship != b.List.ElementRelationship || strings.Join(a.List.Keys, ",") != strings.Join(b.List.Keys, ",") {
			c.problem("%s: list %s %v, client-go %s %v", path, a.List.ElementRelationship, a.List.Keys, b.List.ElementRelationship, b.List.Keys)
		}
		c.walk(path+"[]", sa, a.List.ElementType, sb, b.List.ElementType)
	case b.Map != nil && len(b.Map.Fields) > 0:
		if a.Map == nil {
			c.problem("%s: not a struct in ours", path)
			return
		}
		if relationship(a.Map.ElementRelationship) != relationship(b.Map.ElementRelationship) {
			c.problem("%s: struct %q, client-go %q", path, a.Map.ElementRelationship, b.Map.ElementRelationship)
		}
		ourFields := map[string]smdschema.TypeRef{}
		for _, f := range a.Map.Fields {
			ourFields[f.Name] = f.Type
		}
		for _, f := range b.Map.Fields {
			ft, ok := ourFields[f.Name]
			if !ok {
				c.problem("%s.%s: missing in ours", path, f.Name)
				continue
			}
			delete(ourFields, f.Name)
			c.walk(path+"."+f.Name, sa, ft, sb, f.Type)
		}
		for name := range ourFields {
			c.problem("%s.%s: not in client-go's schema", path, name)
		}
	case b.Map != nil:
		if a.Map == nil {
			// client-go spells free-form objects (RawExtension) as an
			// untyped atom; ours is the same once deduced.
			return
		}
		if relationship(a.Map.ElementRelationship) != relationship(b.Map.ElementRelationship) {
			c.problem("%s: map %q, client-go %q", path, a.Map.ElementRelationship, b.Map.ElementRelationship)
		}
		if b.Map.ElementType.NamedType != nil || b.Map.ElementType.Inlined != (smdschema.Atom{}) {
			c.walk(path+"{}", sa, a.Map.ElementType, sb, b.Map.ElementType)
		}
	case b.Scalar != nil:
		if a.Scalar == nil || *a.Scalar != *b.Scalar {
			c.problem("%s: scalar %v, client-go %s", path, a.Scalar, *b.Scalar)
		}
	}
}

// relationship treats an unset map relationship as the default, separable.
func relationship(r smdschema.ElementRelationship) smdschema.ElementRelationship {
	if r == "" {
		return smdschema.Separable
	}
	return r
}
