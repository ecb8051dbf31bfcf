package apiserver

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/apiserver/storage"
	"github.com/skiff-dev/skiff/apiserver/tables"
	"github.com/skiff-dev/skiff/manifests"
)

// resource is the REST implementation of one served type: the generic
// verbs, parameterised by the type's registry entry and strategy.
type resource struct {
	s *Server
	// t is the served type; stored is the type kept in etcd (the same,
	// except for events.k8s.io/v1 Events, kept as core/v1 Events).
	t      *manifests.Type
	stored *manifests.Type
	cache  *storage.Cache
	prefix string
	// ttl, when positive, makes etcd expire objects after so many seconds
	// (Events: one hour, as kube-apiserver's --event-ttl).
	ttl int64

	fields      fieldSet
	printer     tables.Printer
	hasGenerate bool
	// protobuf is whether the served type has a protobuf encoding: the
	// built-in ones do; Skiff's own Go types for custom resources (Flux's)
	// do not, and are answered in JSON, as kube-apiserver answers custom
	// resources.
	protobuf bool
}

// hasProtobuf reports whether objects of kind gvk marshal to protobuf.
func hasProtobuf(scheme *runtime.Scheme, gvk schema.GroupVersionKind) bool {
	obj, err := scheme.New(gvk)
	if err != nil {
		return false
	}
	_, ok := obj.(interface{ Marshal() ([]byte, error) })
	return ok
}

// format is f, with protobuf replaced by JSON where the type has none
// (clients that ask for protobuf list JSON after it).
func (res *resource) format(f outputFormat) outputFormat {
	if f.mediaType == mediaProtobuf && !res.protobuf {
		f.mediaType = mediaJSON
	}
	return f
}

func (res *resource) gr() schema.GroupResource { return res.t.GroupResource() }

func (res *resource) converted() bool { return res.t != res.stored }

func (res *resource) key(namespace, name string) string {
	g := res.stored.GroupVersionKind.Group
	r := res.stored.Resource
	if res.converted() {
		r = res.t.StorageResource
	}
	return storage.Key(g, r, namespace, name)
}

// decodeStored decodes stored JSON into a new object of the stored type.
func (res *resource) decodeStored(raw []byte) (runtime.Object, error) {
	obj := res.stored.New()
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// encodeStored encodes an object of the stored type for etcd: with its
// apiVersion and kind, without a resourceVersion.
func (res *resource) encodeStored(obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	defer m.SetResourceVersion(rv)
	gvk := res.stored.GroupVersionKind
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return json.Marshal(obj)
}

// toExternal converts a stored object to the served type. The result may
// share memory with the input only when no conversion is needed.
func (res *resource) toExternal(obj runtime.Object) (runtime.Object, error) {
	if !res.converted() {
		return obj, nil
	}
	out := res.t.New()
	if err := res.s.scheme.Convert(obj, out, nil); err != nil {
		return nil, fmt.Errorf("convert to %s: %w", res.t.GroupVersionKind, err)
	}
	out.GetObjectKind().SetGroupVersionKind(res.t.GroupVersionKind)
	return out, nil
}

// toStored converts an object of the served type to the stored type.
func (res *resource) toStored(obj runtime.Object) (runtime.Object, error) {
	if !res.converted() {
		return obj, nil
	}
	out := res.stored.New()
	if err := res.s.scheme.Convert(obj, out, nil); err != nil {
		return nil, fmt.Errorf("convert to %s: %w", res.stored.GroupVersionKind, err)
	}
	out.GetObjectKind().SetGroupVersionKind(res.stored.GroupVersionKind)
	return out, nil
}

// objectJSON returns the served JSON of a stored entry.
func (res *resource) objectJSON(e *storage.Entry) ([]byte, error) {
	if !res.converted() {
		return e.JSON(), nil
	}
	obj, err := res.external(e)
	if err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// objectProto returns the served protobuf message of a stored entry.
func (res *resource) objectProto(e *storage.Entry) ([]byte, error) {
	if !res.converted() {
		return e.Proto()
	}
	obj, err := res.external(e)
	if err != nil {
		return nil, err
	}
	m, ok := obj.(interface{ Marshal() ([]byte, error) })
	if !ok {
		return nil, fmt.Errorf("%T has no protobuf encoding", obj)
	}
	return m.Marshal()
}

// objectProtoEnvelope is an entry's object in the served version as a
// whole protobuf document (magic and envelope), encoded in one buffer. A
// single object's answer does not go through the entry's cached message
// (objectProto, which lists use): that would keep a second copy of the
// object with the entry, and the entry of a write is thrown away after
// the answer anyway.
func (res *resource) objectProtoEnvelope(e *storage.Entry) ([]byte, error) {
	obj, err := res.external(e)
	if err != nil {
		return nil, err
	}
	m, ok := obj.(sizedMarshaler)
	if !ok {
		return nil, fmt.Errorf("%T has no protobuf encoding", obj)
	}
	return protoEnvelopeOf(res.t.GroupVersionKind, m)
}

// entryFor wraps an object just written at rev. When no conversion is
// involved the entry keeps the object, so answering needs no decode.
func (res *resource) entryFor(key string, rev int64, raw []byte, stored runtime.Object) *storage.Entry {
	if res.converted() || stored == nil {
		return res.cache.Entry(key, rev, raw)
	}
	if m, err := meta.Accessor(stored); err == nil {
		m.SetResourceVersion(revString(rev))
	}
	return res.cache.EntryWithObject(key, rev, raw, stored)
}

// external returns the entry as a served-type object. The result must not
// be modified when no conversion took place (it is the cache's copy).
func (res *resource) external(e *storage.Entry) (runtime.Object, error) {
	obj, err := e.Object()
	if err != nil {
		return nil, err
	}
	return res.toExternal(obj)
}

// mutableExternal returns a private, modifiable copy of the entry's object
// in the served type.
func (res *resource) mutableExternal(e *storage.Entry) (runtime.Object, error) {
	obj, err := e.Object()
	if err != nil {
		return nil, err
	}
	if res.converted() {
		return res.toExternal(obj)
	}
	return obj.DeepCopyObject(), nil
}

// fieldSet describes the field selectors a type supports.
type fieldSet struct {
	// extract returns the type-specific selectable fields of a stored object.
	extract func(obj runtime.Object) fields.Set
	// names are the supported field labels besides metadata.name/namespace.
	names map[string]bool
}
