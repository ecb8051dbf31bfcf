package diff

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
)

// cluster is what the diff asks of the API server.
type cluster interface {
	// mapping resolves a kind to its resource and scope.
	mapping(gvk schema.GroupVersionKind) (gvr schema.GroupVersionResource, namespaced bool, err error)
	// get returns the live object, nil when there is none.
	get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error)
	// dryRunApply is a server-side apply with dryRun=All, as the
	// controller's field manager, forced.
	dryRunApply(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error)
}

// apiCluster is cluster over client-go.
type apiCluster struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func (c apiCluster) mapping(gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if r, ok := c.mapper.(meta.ResettableRESTMapper); ok && meta.IsNoMatchError(err) {
		// Discovery is cached on disk, as kubectl caches it: a kind
		// added since is found after one refresh.
		r.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return schema.GroupVersionResource{}, false, err
	}
	return m.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

func (c apiCluster) client(gvr schema.GroupVersionResource, ns string) dynamic.ResourceInterface {
	if ns == "" {
		return c.dyn.Resource(gvr)
	}
	return c.dyn.Resource(gvr).Namespace(ns)
}

func (c apiCluster) get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	u, err := c.client(gvr, ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}

func (c apiCluster) dryRunApply(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return c.client(gvr, obj.GetNamespace()).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{
		FieldManager: fluxobj.KustomizeFieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
}

// lastApplied is kubectl's client-side apply record: it is not part of
// an object's desired state.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// normalize drops what the server writes on its own (bookkeeping that
// changes on every write, status) so that only the fields a revision
// sets can differ.
func normalize(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(c.Object, "status")
	if ann := c.GetAnnotations(); ann != nil {
		delete(ann, lastApplied)
		if len(ann) == 0 {
			unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
		} else {
			c.SetAnnotations(ann)
		}
	}
	return c
}

// toYAML renders an object for the diff (keys sorted).
func toYAML(u *unstructured.Unstructured) (string, error) {
	if u == nil {
		return "", nil
	}
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", u.GetName(), err)
	}
	return string(b), nil
}

// maskSecrets hides the values of a Secret's data as kubectl diff does:
// "***" when a value is the same on both sides, "*** (before)" and
// "*** (after)" when it changed, so the diff shows which keys change
// and never what they hold.
func maskSecrets(live, merged *unstructured.Unstructured) {
	isSecret := func(u *unstructured.Unstructured) bool {
		return u != nil && u.GetKind() == "Secret" && u.GroupVersionKind().Group == ""
	}
	if !isSecret(live) && !isSecret(merged) {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		var before, after map[string]any
		if live != nil {
			before, _, _ = unstructured.NestedMap(live.Object, field)
		}
		if merged != nil {
			after, _, _ = unstructured.NestedMap(merged.Object, field)
		}
		for k, v := range before {
			if w, ok := after[k]; ok && w == v {
				before[k], after[k] = "***", "***"
			} else {
				before[k] = "*** (before)"
			}
		}
		for k := range after {
			if after[k] != "***" {
				after[k] = "*** (after)"
			}
		}
		if before != nil {
			_ = unstructured.SetNestedMap(live.Object, before, field)
		}
		if after != nil {
			_ = unstructured.SetNestedMap(merged.Object, after, field)
		}
	}
}

// fileName names an object in the diff headers the way kubectl diff names
// its temporary files: group.version.Kind.namespace.name.
func fileName(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	parts := []string{}
	if gvk.Group != "" {
		parts = append(parts, gvk.Group)
	}
	parts = append(parts, gvk.Version, gvk.Kind)
	if ns := u.GetNamespace(); ns != "" {
		parts = append(parts, ns)
	}
	parts = append(parts, u.GetName())
	return strings.Join(parts, ".")
}

// ref names an object as the controller's events do.
func ref(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return u.GetKind() + "/" + ns + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetName()
}

// apiMessage is the API server's reason and message for a status error.
func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		if st.Reason != "" {
			return fmt.Sprintf("%s: %s", st.Reason, st.Message)
		}
		return st.Message
	}
	return err.Error()
}
