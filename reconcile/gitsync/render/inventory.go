package render

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ResourceInventory is a Kustomization's status.inventory, in Flux's JSON
// shape, so that it can be copied into the status as is.
type ResourceInventory struct {
	Entries []ResourceRef `json:"entries"`
}

// ResourceRef is one inventory entry: ID is "<namespace>_<name>_<group>_<kind>"
// (namespace and group empty for cluster-scoped and core objects, a ':' in
// the name written "__"), V is the API version without the group ("v1",
// "v1beta1"), exactly as kustomize-controller records them.
type ResourceRef struct {
	ID      string `json:"id"`
	Version string `json:"v"`
}

// ObjMetadata identifies an object across API versions.
type ObjMetadata struct {
	Namespace string
	Name      string
	Group     string
	Kind      string
}

// MetadataOf returns the identity of an object.
func MetadataOf(u *unstructured.Unstructured) ObjMetadata {
	gvk := u.GroupVersionKind()
	return ObjMetadata{Namespace: u.GetNamespace(), Name: u.GetName(), Group: gvk.Group, Kind: gvk.Kind}
}

// ID is the inventory entry ID of the object, as cli-utils' ObjMetadata
// String writes it (RBAC names may hold ':', which the ID reserves).
func (m ObjMetadata) ID() string {
	return m.Namespace + "_" + strings.ReplaceAll(m.Name, ":", "__") + "_" + m.Group + "_" + m.Kind
}

// ParseID reverses ID: namespace up to the first '_', kind after the last,
// group before that, the rest is the name.
func ParseID(id string) (ObjMetadata, error) {
	i := strings.Index(id, "_")
	if i < 0 {
		return ObjMetadata{}, fmt.Errorf("inventory id %q: want <namespace>_<name>_<group>_<kind>", id)
	}
	ns, rest := id[:i], id[i+1:]
	j := strings.LastIndex(rest, "_")
	if j < 0 {
		return ObjMetadata{}, fmt.Errorf("inventory id %q: want <namespace>_<name>_<group>_<kind>", id)
	}
	kind, rest := rest[j+1:], rest[:j]
	k := strings.LastIndex(rest, "_")
	if k < 0 {
		return ObjMetadata{}, fmt.Errorf("inventory id %q: want <namespace>_<name>_<group>_<kind>", id)
	}
	group, name := rest[k+1:], strings.ReplaceAll(rest[:k], "__", ":")
	if strings.Contains(name, "_") || name == "" || kind == "" {
		return ObjMetadata{}, fmt.Errorf("inventory id %q: want <namespace>_<name>_<group>_<kind>", id)
	}
	return ObjMetadata{Namespace: ns, Name: name, Group: group, Kind: kind}, nil
}

// Inventory records objects in apply order (SortForApply), one entry per
// object identity.
func Inventory(objs []*unstructured.Unstructured) *ResourceInventory {
	inv := &ResourceInventory{Entries: []ResourceRef{}}
	seen := map[string]bool{}
	for _, o := range SortForApply(objs) {
		id := MetadataOf(o).ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		inv.Entries = append(inv.Entries, ResourceRef{ID: id, Version: o.GroupVersionKind().Version})
	}
	return inv
}

// Diff returns the objects of old that are not in new, the ones to prune,
// as skeletons (apiVersion, kind, namespace, name) in the order Flux deletes
// them: the reverse of its kind order, so webhooks and workloads go before
// the ServiceAccounts, Namespaces and CRDs they depend on.
// A nil inventory is empty.
func Diff(old, new *ResourceInventory) ([]*unstructured.Unstructured, error) {
	keep := map[ObjMetadata]bool{}
	if new != nil {
		for _, e := range new.Entries {
			m, err := ParseID(e.ID)
			if err != nil {
				return nil, err
			}
			keep[m] = true
		}
	}
	var gone []*unstructured.Unstructured
	if old != nil {
		for _, e := range old.Entries {
			m, err := ParseID(e.ID)
			if err != nil {
				return nil, err
			}
			if keep[m] {
				continue
			}
			keep[m] = true // an ID listed twice is pruned once
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(schema.GroupVersionKind{Group: m.Group, Version: e.Version, Kind: m.Kind})
			u.SetNamespace(m.Namespace)
			u.SetName(m.Name)
			gone = append(gone, u)
		}
	}
	// Flux's DeleteAll reverses its kind order over the whole set (no
	// stages), so the same is done here.
	sortApply(gone)
	for i, j := 0, len(gone)-1; i < j; i, j = i+1, j-1 {
		gone[i], gone[j] = gone[j], gone[i]
	}
	return gone, nil
}
