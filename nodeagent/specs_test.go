package nodeagent

import (
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestExpand(t *testing.T) {
	m := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"$(A)-$(B)":   "1-two",
		"$(MISSING)":  "$(MISSING)",
		"$$(A)":       "$(A)",
		"cost: $5":    "cost: $5",
		"$(A":         "$(A",
		"plain":       "plain",
		"x$(A)$(A)y$": "x11y$",
	} {
		if got := expand(in, m); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

type memSource struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (m memSource) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if c, ok := m.cms[ns+"/"+name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
}

func (m memSource) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := m.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
}

// testAgent is an Agent with only what the spec builders use.
func testAgent(src memSource) *Agent {
	return &Agent{source: src, opts: Options{NodeName: "n1", NodeIP: "192.0.2.7", Pods: 110,
		CPU: ptr.To(resource.MustParse("4")), Memory: ptr.To(resource.MustParse("8Gi"))}}
}

func TestContainerEnv(t *testing.T) {
	src := memSource{
		cms:     map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"MODE": "fast", "LEVEL": "3"}}},
		secrets: map[string]*corev1.Secret{"ns/creds": {Data: map[string][]byte{"token": []byte("s3cr3t")}}},
	}
	a := testAgent(src)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1"}}
	c := &corev1.Container{
		Name:    "c",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		Env: []corev1.EnvVar{
			{Name: "GREETING", Value: "hello $(CFG_MODE)"},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k", Optional: ptr.To(true)}}},
			{Name: "CFG_LEVEL", Value: "overridden"},
		},
	}
	env, err := a.containerEnv(pod, c, "10.42.0.9")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, kv := range env {
		got[kv.name] = kv.value
		order = append(order, kv.name)
	}
	want := map[string]string{"CFG_LEVEL": "overridden", "CFG_MODE": "fast", "GREETING": "hello fast", "TOKEN": "s3cr3t",
		"POD": "p", "APP": "web", "IP": "10.42.0.9", "MEM": "8192"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["OPT"]; ok {
		t.Error("an optional key of a missing configMap was set")
	}
	if !slices.Equal(order[:2], []string{"CFG_LEVEL", "CFG_MODE"}) {
		t.Errorf("envFrom keys not first and sorted: %v", order)
	}

	c.Env = append(c.Env, corev1.EnvVar{Name: "BAD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}})
	_, err = a.containerEnv(pod, c, "")
	var ce *configError
	if !errors.As(err, &ce) || ce.msg != `secret "nope" not found` {
		t.Fatalf("missing secret: %v", err)
	}
}

func TestSecurityAndResources(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](3000), FSGroup: ptr.To[int64](2000)}}}
	c := &corev1.Container{
		SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](1001), ReadOnlyRootFilesystem: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
	}
	s := securityOf(pod, c)
	if s.User != "1001:3000" || !s.ReadOnlyRootFS || !s.NoNewPrivileges || !slices.Equal(s.GroupAdd, []string{"2000"}) ||
		!slices.Equal(s.CapAdd, []string{"NET_ADMIN"}) || !slices.Equal(s.CapDrop, []string{"ALL"}) {
		t.Errorf("security %+v", s)
	}
	r := resourcesOf(c)
	if r.NanoCPUs != 1_500_000_000 || r.CPUShares != 256 || r.MemoryBytes != 64<<20 {
		t.Errorf("resources %+v", r)
	}
}

func TestCaHashOfToken(t *testing.T) {
	good := "K10" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "::node:secret"
	if h, err := caHashOfToken(good); err != nil || len(h) != 64 {
		t.Fatalf("%q %v", h, err)
	}
	if ClusterID("0123456789abcdefff") != "0123456789ab" {
		t.Fatal("ClusterID")
	}
	for _, bad := range []string{"", "abc", "K10short::node:x"} {
		if _, err := caHashOfToken(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
