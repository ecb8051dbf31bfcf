package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/skiff-dev/skiff/apiserver/openapi"
	"github.com/skiff-dev/skiff/manifests"
)

// Field ownership (metadata.managedFields) is tracked as kube-apiserver
// does: every create, update and patch that names a field manager (or
// whose User-Agent gives one) records an Update entry through
// k8s.io/apimachinery's field manager, and server-side apply (apply.go)
// records Apply entries and merges with structured-merge-diff. The type
// information comes from the served OpenAPI definitions, turned into a
// TypeConverter once per server.

// fieldOwner is what a write request says about field ownership: who
// writes, and whether the write is an apply (whose managed fields the
// apply itself computed).
type fieldOwner struct {
	manager string
	apply   bool
}

type fieldOwnerKey struct{}

// withFieldOwner marks ctx as a client write whose changes are tracked in
// managedFields. Writes without it (the server's own bootstrap, the
// binding and scale subresources) keep the stored managedFields.
func withFieldOwner(ctx context.Context, owner fieldOwner) context.Context {
	return context.WithValue(ctx, fieldOwnerKey{}, owner)
}

func fieldOwnerFrom(ctx context.Context) (fieldOwner, bool) {
	o, ok := ctx.Value(fieldOwnerKey{}).(fieldOwner)
	return o, ok
}

// managerOrUserAgent is the manager an Update entry is recorded under:
// the fieldManager query parameter, else the User-Agent up to its first
// "/" (kube-apiserver's prefixFromUserAgent), printable characters only,
// cut to the 128-character limit of a manager name.
func managerOrUserAgent(manager, userAgent string) string {
	if manager != "" {
		return manager
	}
	prefix, _, _ := strings.Cut(userAgent, "/")
	var b bytes.Buffer
	for _, r := range prefix {
		if !unicode.IsPrint(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > maxFieldManagerLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// maxFieldManagerLength is metav1 validation's FieldManagerMaxLength.
const maxFieldManagerLength = 128

// trackedSubresources are the parts of an object whose writes are
// tracked: the object itself and its status.
func trackedSubresource(subresource string) bool {
	return subresource == "" || subresource == "status"
}

// trackCreate records the request's field manager as the owner of what a
// new object sets. It returns the managedFields to store (the strategy
// clears them, so the caller puts them back) and whether the write is
// tracked at all.
func (s *Server) trackCreate(ctx context.Context, res *resource, obj apiruntime.Object) ([]metav1.ManagedFieldsEntry, bool) {
	owner, ok := fieldOwnerFrom(ctx)
	if !ok {
		return nil, false
	}
	if !owner.apply {
		fm, err := s.fieldTracker().manager(res, "")
		if err != nil {
			s.log.Error("field manager unavailable; managedFields not tracked", "kind", res.t.GroupVersionKind.String(), "err", err)
			return nil, false
		}
		live := res.t.New()
		live.GetObjectKind().SetGroupVersionKind(res.t.GroupVersionKind)
		obj = fm.UpdateNoErrors(live, obj, owner.manager)
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, false
	}
	return m.GetManagedFields(), true
}

// trackUpdate is trackCreate for a change of old into next through a
// subresource ("" for the object itself).
func (s *Server) trackUpdate(ctx context.Context, res *resource, subresource string, old, next apiruntime.Object) ([]metav1.ManagedFieldsEntry, bool) {
	owner, ok := fieldOwnerFrom(ctx)
	if !ok || !trackedSubresource(subresource) {
		return nil, false
	}
	if !owner.apply {
		fm, err := s.fieldTracker().manager(res, subresource)
		if err != nil {
			s.log.Error("field manager unavailable; managedFields not tracked", "kind", res.t.GroupVersionKind.String(), "err", err)
			return nil, false
		}
		next = fm.UpdateNoErrors(old, next, owner.manager)
	}
	m, err := meta.Accessor(next)
	if err != nil {
		return nil, false
	}
	return m.GetManagedFields(), true
}

// setManagedFields puts tracked managedFields back after the strategy.
func setManagedFields(obj apiruntime.Object, mf []metav1.ManagedFieldsEntry) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(mf)
	}
}

// fieldTracker holds one server's TypeConverter and field managers. The
// TypeConverter is built from the OpenAPI definitions on first use (about
// 10 ms: structured-merge-diff resolves types lazily) and shared by every
// type; a field manager is built per served type and subresource.
type fieldTracker struct {
	scheme   *apiruntime.Scheme
	registry *manifests.Registry
	docs     definitionSource

	once sync.Once
	tc   managedfields.TypeConverter
	err  error

	managers sync.Map // fieldManagerKey → *managedfields.FieldManager
}

// definitionSource is what the OpenAPI documents offer the field manager.
type definitionSource interface {
	Definitions() map[string]spec.Schema
}

type fieldManagerKey struct {
	gvk         schema.GroupVersionKind
	subresource string
}

// newFieldTracker makes the server's field tracker; its TypeConverter is
// built on first use, from the served OpenAPI documents when there are.
func newFieldTracker(s *Server) *fieldTracker {
	t := &fieldTracker{scheme: s.scheme, registry: s.registry}
	if d, ok := s.cfg.OpenAPI.(definitionSource); ok {
		t.docs = d
	}
	return t
}

func (s *Server) fieldTracker() *fieldTracker { return s.fields }

// typeConverter builds the TypeConverter once, from the served OpenAPI
// documents when the server has them, else from documents generated for
// the registry.
func (t *fieldTracker) typeConverter() (managedfields.TypeConverter, error) {
	t.once.Do(func() {
		docs := t.docs
		if docs == nil {
			d, err := openapi.New(t.registry, openapi.Info{Title: "Kubernetes"})
			if err != nil {
				t.err = fmt.Errorf("build OpenAPI definitions for field tracking: %w", err)
				return
			}
			docs = d
		}
		defs := docs.Definitions()
		ptrs := make(map[string]*spec.Schema, len(defs))
		for name := range defs {
			sc := defs[name]
			ptrs[name] = &sc
		}
		tc, err := newTypeConverter(ptrs)
		if err != nil {
			t.err = fmt.Errorf("build the server-side apply type converter: %w", err)
			return
		}
		t.tc = tc
	})
	return t.tc, t.err
}

// manager returns the field manager of a served type and subresource.
func (t *fieldTracker) manager(res *resource, subresource string) (*managedfields.FieldManager, error) {
	gvk := res.t.GroupVersionKind
	key := fieldManagerKey{gvk: gvk, subresource: subresource}
	if v, ok := t.managers.Load(key); ok {
		return v.(*managedfields.FieldManager), nil
	}
	tc, err := t.typeConverter()
	if err != nil {
		return nil, err
	}
	fm, err := t.newFieldManager(tc, res, subresource)
	if err != nil {
		return nil, err
	}
	v, _ := t.managers.LoadOrStore(key, fm)
	return v.(*managedfields.FieldManager), nil
}

// newFieldManager builds the field manager of a served type and
// subresource on a TypeConverter.
func (t *fieldTracker) newFieldManager(tc managedfields.TypeConverter, res *resource, subresource string) (*managedfields.FieldManager, error) {
	gvk := res.t.GroupVersionKind
	// Skiff keeps no internal versions: the served version is the hub.
	// The unsafe convertor skips the deep copies a same-version
	// conversion would make; the field manager does not modify the
	// objects it converts.
	fm, err := managedfields.NewDefaultFieldManager(tc, kindConvertor{scheme: t.scheme, ObjectConvertor: apiruntime.UnsafeObjectConvertor(t.scheme)},
		defaulterFunc(res.t.Default), t.scheme, gvk, gvk.GroupVersion(), subresource, resetFields(res, subresource))
	if err != nil {
		return nil, fmt.Errorf("field manager for %s: %w", gvk, err)
	}
	return fm, nil
}

// resetFields are the fields a write through a subresource cannot change
// (the strategy resets them), so no manager of that subresource owns
// them: the status of a type with a status subresource for the main
// resource, the spec (and what prepareForUpdate keeps) for status.
func resetFields(res *resource, subresource string) map[fieldpath.APIVersion]fieldpath.Filter {
	if !res.t.HasStatus() {
		return nil
	}
	var paths []fieldpath.Path
	switch subresource {
	case "":
		paths = append(paths, fieldpath.MakePathOrDie("status"))
	case "status":
		paths = append(paths, fieldpath.MakePathOrDie("spec"))
		switch res.t.GroupVersionKind.Kind {
		case "Pod":
			paths = append(paths, fieldpath.MakePathOrDie("metadata", "ownerReferences"))
		case "Deployment":
			paths = append(paths, fieldpath.MakePathOrDie("metadata", "labels"))
		}
	default:
		return nil
	}
	return map[fieldpath.APIVersion]fieldpath.Filter{
		fieldpath.APIVersion(res.t.GroupVersionKind.GroupVersion().String()): fieldpath.NewExcludeSetFilter(fieldpath.NewSet(paths...)),
	}
}

// defaulterFunc adapts a type's defaulting to runtime.ObjectDefaulter,
// which the field manager calls on the result of an apply.
type defaulterFunc func(apiruntime.Object)

func (f defaulterFunc) Default(obj apiruntime.Object) { f(obj) }

// requestFieldOwner is the owner a create, update or non-apply patch is
// recorded under.
func requestFieldOwner(r *http.Request) fieldOwner {
	return fieldOwner{manager: managerOrUserAgent(r.URL.Query().Get("fieldManager"), r.UserAgent())}
}

// kindConvertor converts between the versions of one kind that Skiff
// serves apart but stores as one (events.k8s.io/v1 and core/v1 Event).
// kube-apiserver does that through an internal version; the scheme's
// ConvertToVersion, which looks kinds up by Go type, cannot, and the
// field manager would otherwise drop the managers of the other version.
type kindConvertor struct {
	apiruntime.ObjectConvertor
	scheme *apiruntime.Scheme
}

func (c kindConvertor) ConvertToVersion(in apiruntime.Object, gv apiruntime.GroupVersioner) (apiruntime.Object, error) {
	out, err := c.ObjectConvertor.ConvertToVersion(in, gv)
	if err == nil || !apiruntime.IsNotRegisteredError(err) {
		return out, err
	}
	from := in.GetObjectKind().GroupVersionKind()
	target, ok := gv.(schema.GroupVersion)
	if !ok {
		return nil, err
	}
	to := target.WithKind(from.Kind)
	if !c.scheme.Recognizes(to) || !c.scheme.Recognizes(from) {
		return nil, err
	}
	src := in
	if u, ok := in.(apiruntime.Unstructured); ok {
		typed, nerr := c.scheme.New(from)
		if nerr != nil {
			return nil, err
		}
		if cerr := apiruntime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), typed); cerr != nil {
			return nil, fmt.Errorf("convert %s from unstructured: %w", from, cerr)
		}
		src = typed
	}
	dst, nerr := c.scheme.New(to)
	if nerr != nil {
		return nil, err
	}
	if cerr := c.scheme.Convert(src, dst, nil); cerr != nil {
		return nil, fmt.Errorf("convert %s to %s: %w", from, to, cerr)
	}
	dst.GetObjectKind().SetGroupVersionKind(to)
	return dst, nil
}
