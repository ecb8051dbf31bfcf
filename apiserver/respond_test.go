package apiserver

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// protoEnvelopeOf, which marshals the message in place, writes the same
// bytes as protoEnvelope of the marshalled message.
func TestProtoEnvelopeOfMatchesProtoEnvelope(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default", ResourceVersion: "7"},
		Data: map[string]string{"payload": strings.Repeat("x", 1024)}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "1"}}}}}
	for _, c := range []struct {
		gvk schema.GroupVersionKind
		obj interface {
			sizedMarshaler
			Marshal() ([]byte, error)
		}
	}{
		{corev1.SchemeGroupVersion.WithKind("ConfigMap"), cm},
		{corev1.SchemeGroupVersion.WithKind("Pod"), pod},
		{corev1.SchemeGroupVersion.WithKind("ConfigMap"), &corev1.ConfigMap{}},
	} {
		msg, err := c.obj.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := protoEnvelopeOf(c.gvk, c.obj)
		if err != nil {
			t.Fatal(err)
		}
		if want := protoEnvelope(c.gvk, msg); !bytes.Equal(got, want) {
			t.Errorf("%v: got %x, want %x", c.gvk, got, want)
		}
	}
}
