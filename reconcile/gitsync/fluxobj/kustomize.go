package fluxobj

import (
	"errors"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/render"
)

// What a Kustomization's apply looks like from outside: the field manager
// of its server-side applies and the labels naming the owner on every
// object, as Flux's kustomize-controller writes them. The controller
// applies with them and `kubectl skiff diff` dry-runs with them, so that
// a diff of an unchanged revision is empty.
const (
	KustomizeFieldManager = "kustomize-controller"
	KustomizeNameLabel    = "kustomize.toolkit.fluxcd.io/name"
	KustomizeNSLabel      = "kustomize.toolkit.fluxcd.io/namespace"
	// KustomizePruneAnnotation set to KustomizePruneDisabled keeps an
	// object when it leaves the revision.
	KustomizePruneAnnotation = "kustomize.toolkit.fluxcd.io/prune"
	KustomizePruneDisabled   = "disabled"
)

// RenderOptions is what render.Render needs to build a Kustomization's
// spec from the source tree at root.
func RenderOptions(root string, spec *flux.KustomizationSpec) render.Options {
	o := render.Options{
		Root: root, Path: spec.Path, TargetNamespace: spec.TargetNamespace,
		NamePrefix: spec.NamePrefix, NameSuffix: spec.NameSuffix, Components: spec.Components,
	}
	if m := spec.CommonMetadata; m != nil {
		o.CommonMetadata = &render.CommonMetadata{Labels: m.Labels, Annotations: m.Annotations}
	}
	for _, p := range spec.Patches {
		rp := render.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			rp.Target = &render.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name,
				Namespace: t.Namespace, LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
		}
		o.Patches = append(o.Patches, rp)
	}
	for _, i := range spec.Images {
		o.Images = append(o.Images, render.Image{Name: i.Name, NewName: i.NewName, NewTag: i.NewTag, Digest: i.Digest})
	}
	return o
}

// OwnerLabels are the labels naming the Kustomization that applies an
// object.
func OwnerLabels(ks *flux.Kustomization) map[string]string {
	return map[string]string{KustomizeNameLabel: ks.Name, KustomizeNSLabel: ks.Namespace}
}

// RenderInventory converts status.inventory to render's form.
func RenderInventory(inv *flux.ResourceInventory) *render.ResourceInventory {
	if inv == nil {
		return nil
	}
	out := &render.ResourceInventory{}
	for _, e := range inv.Entries {
		out.Entries = append(out.Entries, render.ResourceRef{ID: e.ID, Version: e.Version})
	}
	return out
}

// IsImmutableFieldError reports an Invalid error caused by a field that
// cannot be changed (spec.force recreates such objects). The API says so
// only in the cause's message ("field is immutable"); Flux reads it the
// same way.
func IsImmutableFieldError(err error) bool {
	if !apierrors.IsInvalid(err) {
		return false
	}
	var se apierrors.APIStatus
	if !errors.As(err, &se) || se.Status().Details == nil {
		return false
	}
	for _, c := range se.Status().Details.Causes {
		if strings.Contains(c.Message, "immutable") {
			return true
		}
	}
	return false
}
