package apiserver

import (
	"bytes"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// protoEnvelope writes the bytes Kubernetes's protobuf serializer writes:
// the magic, then runtime.Unknown as its generated Marshal encodes it.
func TestProtoEnvelopeMatchesUnknownMarshal(t *testing.T) {
	for _, c := range []struct {
		gvk schema.GroupVersionKind
		msg []byte
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, []byte{0x0a, 0x03, 'a', 'b', 'c'}},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, bytes.Repeat([]byte{7}, 300)},
		{schema.GroupVersionKind{Version: "v1", Kind: "Status"}, nil},
	} {
		unk := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: c.gvk.GroupVersion().String(), Kind: c.gvk.Kind}, Raw: c.msg}
		b, err := unk.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]byte{}, protoMagic...), b...)
		if got := protoEnvelope(c.gvk, c.msg); !bytes.Equal(got, want) {
			t.Errorf("%v: got %x, want %x", c.gvk, got, want)
		}
	}
}
