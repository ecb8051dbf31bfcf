package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func names(objs []*unstructured.Unstructured) string {
	var s []string
	for _, o := range objs {
		s = append(s, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(s, " ")
}

func TestSortForApply(t *testing.T) {
	in := []*unstructured.Unstructured{
		obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "hook"),
		obj("apps/v1", "Deployment", "shop", "web"),
		obj("example.com/v1", "Widget", "shop", "w"),
		obj("v1", "Service", "shop", "web"),
		obj("networking.k8s.io/v1", "IngressClass", "", "nginx"),
		obj("v1", "ConfigMap", "shop", "b"),
		obj("v1", "ConfigMap", "shop", "a"),
		obj("v1", "ConfigMap", "alpha", "z"),
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"),
		obj("storage.k8s.io/v1", "StorageClass", "", "fast"),
		obj("v1", "Namespace", "", "shop"),
		obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"),
		obj("rbac.authorization.k8s.io/v1", "RoleBinding", "shop", "rb"),
		obj("batch/v1", "Job", "shop", "migrate"),
		obj("v1", "ServiceAccount", "shop", "sa"),
	}
	orig := names(in)
	got := names(SortForApply(in))
	want := "CustomResourceDefinition/widgets.example.com Namespace/shop ClusterRole/reader " + // definitions
		"StorageClass/fast IngressClass/nginx " + // classes, in Flux's kind order
		"ServiceAccount/sa RoleBinding/rb ConfigMap/z ConfigMap/a ConfigMap/b Service/web Deployment/web " +
		"Job/migrate Widget/w " + // unlisted kinds by group then kind: batch < example.com
		"ValidatingWebhookConfiguration/hook"
	if got != want {
		t.Errorf("order\n got %s\nwant %s", got, want)
	}
	if names(in) != orig {
		t.Error("SortForApply modified its input")
	}

	st := Stages(in)
	if names(st[StageDefinitions]) != "CustomResourceDefinition/widgets.example.com Namespace/shop ClusterRole/reader" ||
		names(st[StageClasses]) != "StorageClass/fast IngressClass/nginx" || len(st[StageResources]) != 10 {
		t.Errorf("stages: %q | %q | %d", names(st[0]), names(st[1]), len(st[2]))
	}
	// Flux matches definitions on apiVersion too: a Namespace kind from
	// another group is an ordinary resource.
	if s := StageOf(obj("example.com/v1", "Namespace", "", "x")); s != StageResources {
		t.Errorf("example.com Namespace in stage %v", s)
	}
}
