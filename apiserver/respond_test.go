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

// protoEnvelopeOf writes the bytes Kubernetes's protobuf serializer
// writes: the magic, then runtime.Unknown as its generated Marshal encodes
// it, around an encoded message or a message it marshals itself.
func TestProtoEnvelopeOfMatchesUnknownMarshal(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default", ResourceVersion: "7"},
		Data: map[string]string{"payload": strings.Repeat("x", 1024)}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "1"}}}}}
	for _, c := range []struct {
		gvk schema.GroupVersionKind
		msg interface {
			sizedMarshaler
			Marshal() ([]byte, error)
		}
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMapList"}, rawMessageMarshaler{0x0a, 0x03, 'a', 'b', 'c'}},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DeploymentList"}, rawMessageMarshaler(bytes.Repeat([]byte{7}, 300))},
		{schema.GroupVersionKind{Version: "v1", Kind: "PodList"}, rawMessageMarshaler{}},
		{corev1.SchemeGroupVersion.WithKind("ConfigMap"), cm},
		{corev1.SchemeGroupVersion.WithKind("Pod"), pod},
		{corev1.SchemeGroupVersion.WithKind("ConfigMap"), &corev1.ConfigMap{}},
	} {
		msg, err := c.msg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		unk := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: c.gvk.GroupVersion().String(), Kind: c.gvk.Kind}, Raw: msg}
		b, err := unk.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]byte{}, protoMagic...), b...)
		got, err := protoEnvelopeOf(c.gvk, c.msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%v: got %x, want %x", c.gvk, got, want)
		}
	}
}

// rawMessageMarshaler is a rawMessage that can also say what it holds.
type rawMessageMarshaler rawMessage

func (m rawMessageMarshaler) Size() int { return rawMessage(m).Size() }
func (m rawMessageMarshaler) MarshalToSizedBuffer(b []byte) (int, error) {
	return rawMessage(m).MarshalToSizedBuffer(b)
}
func (m rawMessageMarshaler) Marshal() ([]byte, error) { return append([]byte{}, m...), nil }
