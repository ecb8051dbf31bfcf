package fluxtest

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
)

// NewClient returns a fake dynamic client holding objs (typed flux
// objects, with their TypeMeta set by this function).
func NewClient(t testing.TB, objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	var us []runtime.Object
	for _, o := range objs {
		var gvk schema.GroupVersionKind
		switch o.(type) {
		case *flux.GitRepository:
			gvk = flux.GitRepositoryKind
		case *flux.Kustomization:
			gvk = flux.KustomizationKind
		default:
			t.Fatalf("fluxtest: unsupported object %T", o)
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvk)
		us = append(us, u)
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		fluxapi.GitRepositories: "GitRepositoryList",
		fluxapi.Kustomizations:  "KustomizationList",
	}, us...)
}
