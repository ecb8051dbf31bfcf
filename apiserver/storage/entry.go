package storage

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Codec turns stored bytes into objects for one resource.
type Codec struct {
	// Decode returns a new object from stored JSON.
	Decode func(raw []byte) (runtime.Object, error)
	// Fields returns the field-selector values of an object (metadata.name
	// and metadata.namespace are added by the cache).
	Fields func(obj runtime.Object) fields.Set
}

// Entry is one revision of one object. It is immutable once published:
// callers must not modify the object Object returns (DeepCopy first).
type Entry struct {
	Key string
	// Rev is the object's resourceVersion: its etcd mod revision, or for
	// the last state carried by a DELETED event, the deletion revision.
	Rev int64
	// Raw is the stored JSON, without resourceVersion.
	Raw []byte

	res *resource

	decodeOnce sync.Once
	obj        runtime.Object
	lbls       labels.Set
	flds       fields.Set
	decodeErr  error

	jsonOnce sync.Once
	json     []byte

	protoOnce sync.Once
	proto     []byte
	protoErr  error
}

func newEntry(res *resource, key string, rev int64, raw []byte) *Entry {
	return &Entry{Key: key, Rev: rev, Raw: raw, res: res}
}

// JSON returns the object's JSON with metadata.resourceVersion set.
func (e *Entry) JSON() []byte {
	e.jsonOnce.Do(func() {
		if e.Rev == 0 {
			// Not stored (a dry run): no resourceVersion to show.
			e.json = e.Raw
			return
		}
		e.json = withResourceVersion(e.Raw, e.Rev)
	})
	return e.json
}

// Proto returns the object's protobuf encoding (the bare message, with
// no runtime.Unknown envelope), built at most once.
func (e *Entry) Proto() ([]byte, error) {
	e.protoOnce.Do(func() {
		obj, err := e.Object()
		if err != nil {
			e.protoErr = err
			return
		}
		m, ok := obj.(interface{ Marshal() ([]byte, error) })
		if !ok {
			e.protoErr = fmt.Errorf("%T has no protobuf encoding", obj)
			return
		}
		e.proto, e.protoErr = m.Marshal()
	})
	return e.proto, e.protoErr
}

// Object returns the decoded object with its resourceVersion set. The
// object is shared: do not modify it.
func (e *Entry) Object() (runtime.Object, error) {
	e.decode()
	return e.obj, e.decodeErr
}

func (e *Entry) decode() {
	e.decodeOnce.Do(func() {
		obj, err := e.res.codec.Decode(e.Raw)
		if err != nil {
			e.decodeErr = fmt.Errorf("decode %s: %w", e.Key, err)
			return
		}
		if m, err := meta.Accessor(obj); err != nil {
			e.decodeErr = fmt.Errorf("decode %s: %w", e.Key, err)
			return
		} else if e.Rev != 0 {
			m.SetResourceVersion(strconv.FormatInt(e.Rev, 10))
		}
		e.setObject(obj)
	})
}

func (e *Entry) setObject(obj runtime.Object) {
	m, err := meta.Accessor(obj)
	if err != nil {
		e.decodeErr = fmt.Errorf("%s: %w", e.Key, err)
		return
	}
	e.obj = obj
	e.lbls = labels.Set(m.GetLabels())
	f := fields.Set{}
	if e.res.codec.Fields != nil {
		f = e.res.codec.Fields(obj)
	}
	f["metadata.name"] = m.GetName()
	if e.res.namespaced {
		f["metadata.namespace"] = m.GetNamespace()
	}
	e.flds = f
}

// namespaceAndName splits the key after the resource prefix.
func (e *Entry) namespaceAndName() (string, string) {
	rest := strings.TrimPrefix(e.Key, e.res.prefix)
	if !e.res.namespaced {
		return "", rest
	}
	ns, name, _ := strings.Cut(rest, "/")
	return ns, name
}

// Event is one change to one object, in revision order.
type Event struct {
	Type watch.EventType
	// Object is the new state (for Deleted: the last state, at the
	// deletion revision).
	Object *Entry
	// Prev is the state before the change (nil for Added).
	Prev *Entry
	// Err is set on watch.Error events (e.g. an expired revision).
	Err error
	// InitialEventsEnd marks the BOOKMARK that ends the initial events of
	// a watch-list request.
	InitialEventsEnd bool
}

// Rev is the revision at which the event happened.
func (ev Event) Rev() int64 {
	if ev.Object == nil {
		return 0
	}
	return ev.Object.Rev
}

// Predicate selects objects by namespace, labels and fields.
type Predicate struct {
	// Namespace limits to one namespace; empty means all.
	Namespace string
	Label     labels.Selector
	Field     fields.Selector
}

// Everything reports whether the predicate selects every object in scope.
func (p Predicate) everything() bool {
	return (p.Label == nil || p.Label.Empty()) && (p.Field == nil || p.Field.Empty())
}

// Matches reports whether the entry satisfies the predicate. Selectors on
// metadata.name and metadata.namespace alone are answered from the key
// without decoding the object.
func (p Predicate) Matches(e *Entry) (bool, error) {
	if p.Namespace != "" {
		if ns, _ := e.namespaceAndName(); ns != p.Namespace {
			return false, nil
		}
	}
	if p.everything() {
		return true, nil
	}
	if (p.Label == nil || p.Label.Empty()) && keyOnlyFields(p.Field) {
		ns, name := e.namespaceAndName()
		set := fields.Set{"metadata.name": name}
		if e.res.namespaced {
			set["metadata.namespace"] = ns
		}
		return p.Field.Matches(set), nil
	}
	e.decode()
	if e.decodeErr != nil {
		return false, e.decodeErr
	}
	if p.Label != nil && !p.Label.Matches(e.lbls) {
		return false, nil
	}
	if p.Field != nil && !p.Field.Matches(e.flds) {
		return false, nil
	}
	return true, nil
}

func keyOnlyFields(sel fields.Selector) bool {
	if sel == nil {
		return true
	}
	for _, r := range sel.Requirements() {
		if r.Field != "metadata.name" && r.Field != "metadata.namespace" {
			return false
		}
	}
	return true
}
