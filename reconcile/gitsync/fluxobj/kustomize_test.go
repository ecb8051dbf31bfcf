package fluxobj

import (
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/render"
)

func TestRenderOptionsCarryTheSpec(t *testing.T) {
	spec := &flux.KustomizationSpec{
		Path: "./deploy", TargetNamespace: "shop", NamePrefix: "p-", NameSuffix: "-s", Components: []string{"../c"},
		CommonMetadata: &flux.CommonMetadata{Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"x": "y"}},
		Patches:        []flux.Patch{{Patch: "p1"}, {Patch: "p2", Target: &flux.Selector{Kind: "Deployment", Name: "web", LabelSelector: "a=b"}}},
		Images:         []flux.Image{{Name: "nginx", NewTag: "1.27"}},
	}
	got := RenderOptions("/src", spec)
	want := render.Options{Root: "/src", Path: "./deploy", TargetNamespace: "shop", NamePrefix: "p-", NameSuffix: "-s", Components: []string{"../c"},
		CommonMetadata: &render.CommonMetadata{Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"x": "y"}},
		Patches:        []render.Patch{{Patch: "p1"}, {Patch: "p2", Target: &render.Selector{Kind: "Deployment", Name: "web", LabelSelector: "a=b"}}},
		Images:         []render.Image{{Name: "nginx", NewTag: "1.27"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	ks := &flux.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "apps"}}
	if l := OwnerLabels(ks); l[KustomizeNameLabel] != "shop" || l[KustomizeNSLabel] != "apps" || len(l) != 2 {
		t.Errorf("owner labels %v", l)
	}
}

func TestIsImmutableFieldError(t *testing.T) {
	gk := schema.GroupKind{Kind: "Job"}
	imm := apierrors.NewInvalid(gk, "j", field.ErrorList{field.Invalid(field.NewPath("spec", "template"), "x", "field is immutable")})
	other := apierrors.NewInvalid(gk, "j", field.ErrorList{field.Required(field.NewPath("spec"), "")})
	if !IsImmutableFieldError(imm) || IsImmutableFieldError(other) || IsImmutableFieldError(apierrors.NewNotFound(schema.GroupResource{}, "j")) {
		t.Error("immutable field errors misjudged")
	}
}
