package kustomization

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// renderInputs is everything that decides what a Kustomization renders:
// its spec (the generation; the UID tells a Kustomization deleted and
// created again, whose generation starts at 1 again) and the artifact
// (its storage path, revision and digest; an artifact directory is never
// rewritten in place). Nothing else is read by render.Render: remote
// bases, plugins and substitutions (spec.postBuild) are refused.
type renderInputs struct {
	uid          types.UID
	generation   int64
	artifactPath string
	revision     string
	digest       string
}

// appliedRevision is what the last successful reconcile of one
// Kustomization rendered, resolved and applied. A resync with the same
// inputs reuses it instead of rendering and dry-running every object
// again: kustomize takes seconds for a few hundred objects, and a dry run
// is two requests per object.
type appliedRevision struct {
	inputs renderInputs
	// objects in render order (what render.Stages and render.Inventory
	// take); items[i].obj is objects[i], with the ownership labels set
	// and the resource resolved.
	objects []*unstructured.Unstructured
	items   []*item
}

// appliedCache holds each Kustomization's appliedRevision, by key. It is
// only memory: after a restart the first reconcile renders and dry-runs
// everything, as before.
type appliedCache struct {
	mu sync.Mutex
	m  map[string]*appliedRevision
}

// lookup returns the revision last applied for key if it was rendered
// from the same inputs, else nil.
func (c *appliedCache) lookup(key string, in renderInputs) *appliedRevision {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.m[key]; r != nil && r.inputs == in {
		return r
	}
	return nil
}

func (c *appliedCache) store(key string, r *appliedRevision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*appliedRevision{}
	}
	c.m[key] = r
}

// forget drops key's entry: after any failure the next attempt renders
// and dry-runs everything again.
func (c *appliedCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// liveVersions lists the objects of one resource in one namespace (""
// for cluster-scoped resources) that match a label selector, returning
// each one's resourceVersion by name (a deleting object is left out).
type liveVersions func(ctx context.Context, gvr schema.GroupVersionResource, namespace, selector string) (map[string]string, error)

// metadataLister is liveVersions through the API's PartialObjectMetadata
// lists, decoded into just the names and versions: the controller and
// the API server run in one process, and decoding 500 full objects into
// unstructured maps costs several times what the rest of a no-op
// resync does.
func metadataLister(rc rest.Interface) liveVersions {
	return func(ctx context.Context, gvr schema.GroupVersionResource, namespace, selector string) (map[string]string, error) {
		p := []string{"/api", gvr.Version}
		if gvr.Group != "" {
			p = []string{"/apis", gvr.Group, gvr.Version}
		}
		if namespace != "" {
			p = append(p, "namespaces", namespace)
		}
		raw, err := rc.Get().AbsPath(append(p, gvr.Resource)...).Param("labelSelector", selector).
			SetHeader("Accept", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io").DoRaw(ctx)
		if err != nil {
			return nil, err
		}
		var list struct {
			Items []struct {
				Metadata struct {
					Name              string       `json:"name"`
					ResourceVersion   string       `json:"resourceVersion"`
					DeletionTimestamp *metav1.Time `json:"deletionTimestamp"`
				} `json:"metadata"`
			} `json:"items"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("list %s: %w", gvr, err)
		}
		out := make(map[string]string, len(list.Items))
		for _, it := range list.Items {
			if it.Metadata.DeletionTimestamp == nil {
				out[it.Metadata.Name] = it.Metadata.ResourceVersion
			}
		}
		return out, nil
	}
}

// checkDrift judges the items of a revision applied before against the
// live objects, in one metadata LIST per resource and namespace (selected
// by the ownership labels, served from the API server's watch cache)
// instead of a GET and a dry run per object:
//
//   - an object not written since it was last seen to hold what its item
//     applies (the same resourceVersion) is Unchanged;
//   - one written since (by a controller updating its status, or by a
//     user) is read in full, and is Unchanged if it still holds every
//     field and value the revision applies (ownedFieldsMatch). Fields the
//     revision does not set are not looked at: a user's `kubectl label`
//     of another label is left alone, a `kubectl scale` of replicas the
//     revision sets is drift;
//   - every other item (missing, relabelled, deleting, drifted, or its
//     LIST failed) is left unjudged, for the dry run to decide.
//
// It returns the resourceVersions seen, by item, for the health check.
func (a *applier) checkDrift(ctx context.Context, items []*item, owner map[string]string) map[*item]string {
	type scope struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	groups := map[scope][]*item{}
	var order []scope
	for _, it := range items {
		s := scope{gvr: it.gvr}
		if it.namespaced {
			s.ns = it.obj.GetNamespace()
		}
		if _, ok := groups[s]; !ok {
			order = append(order, s)
		}
		groups[s] = append(groups[s], it)
	}
	sel := labels.SelectorFromSet(owner).String()
	seen := map[*item]string{}
	for _, s := range order {
		versions, err := a.versions(ctx, s.gvr, s.ns, sel)
		if err != nil {
			continue // the dry run reports it
		}
		for _, it := range groups[s] {
			rv, ok := versions[it.obj.GetName()]
			if !ok {
				continue
			}
			if rv == it.liveRV {
				it.action = Unchanged
				seen[it] = rv
				continue
			}
			live, err := a.client(it).Get(ctx, it.obj.GetName(), metav1.GetOptions{})
			if err != nil || live.GetDeletionTimestamp() != nil {
				continue
			}
			if ownedFieldsMatch(it.obj.Object, live.Object) {
				it.action, it.liveRV = Unchanged, live.GetResourceVersion()
				seen[it] = it.liveRV
			}
		}
	}
	return seen
}

// ownedFieldsMatch reports whether live holds every field of want with
// the same value: maps may have more keys, lists must have the same
// length and match element by element, numbers compare by value. An
// empty map or a null in want matches an absent field. It errs towards
// "no": a value the server normalised (a quantity "0.5" stored as
// "500m") or a list another manager added to reads as drift, and the dry
// run then finds it unchanged and records the resourceVersion, so the
// next resync takes the cheap path.
func ownedFieldsMatch(want, live any) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return live == nil && len(w) == 0
		}
		for k, wv := range w {
			lv, ok := l[k]
			if !ok {
				if wv == nil {
					continue
				}
				if m, isMap := wv.(map[string]any); isMap && len(m) == 0 {
					continue
				}
				return false
			}
			if !ownedFieldsMatch(wv, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return false
		}
		for i := range w {
			if !ownedFieldsMatch(w[i], l[i]) {
				return false
			}
		}
		return true
	case nil:
		return live == nil
	case int64, float64, int, int32:
		wf, ok1 := number(w)
		lf, ok2 := number(live)
		return ok1 && ok2 && wf == lf
	default:
		return want == live
	}
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	}
	return 0, false
}
