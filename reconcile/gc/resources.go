package gc

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Discovery is the part of a discovery client the collector uses.
// client-go's DiscoveryClient implements it.
type Discovery interface {
	ServerPreferredResources() ([]*metav1.APIResourceList, error)
}

// ignoredResources are never watched, as kube-controller-manager's
// default: events are many, short-lived and never owners.
var ignoredResources = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// resourceInfo is one served resource.
type resourceInfo struct {
	gvr        schema.GroupVersionResource
	gvk        schema.GroupVersionKind
	namespaced bool
}

// resources is what discovery said: the resources to watch and how to
// reach an owner from an ownerReference's apiVersion and kind.
type resources struct {
	// watched: the preferred version of every resource that supports
	// list, watch and delete (an object the collector could never
	// delete is no use to watch).
	watched map[schema.GroupVersionResource]resourceInfo
	// byKind: every resource, by group and kind. An owner is read in
	// its group's preferred version whatever version its reference
	// names: the object and its UID are the same in every version.
	byKind map[schema.GroupKind]resourceInfo
}

func parseResources(lists []*metav1.APIResourceList) resources {
	rs := resources{watched: map[schema.GroupVersionResource]resourceInfo{}, byKind: map[schema.GroupKind]resourceInfo{}}
	for _, l := range lists {
		if l == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || r.Kind == "" {
				continue // a subresource
			}
			info := resourceInfo{gvr: gv.WithResource(r.Name), gvk: gv.WithKind(r.Kind), namespaced: r.Namespaced}
			if _, dup := rs.byKind[info.gvk.GroupKind()]; !dup {
				rs.byKind[info.gvk.GroupKind()] = info
			}
			if ignoredResources[info.gvr.GroupResource()] {
				continue
			}
			if hasVerbs(r.Verbs, "list", "watch", "delete") {
				rs.watched[info.gvr] = info
			}
		}
	}
	return rs
}

// merge keeps what old knew of groups discovery could not reach this
// time, so a transient failure neither forgets kinds nor stops watches.
func (rs resources) merge(old resources, failed map[schema.GroupVersion]error) resources {
	rs = resources{watched: maps.Clone(rs.watched), byKind: maps.Clone(rs.byKind)}
	for gvr, info := range old.watched {
		if _, bad := failed[gvr.GroupVersion()]; bad {
			rs.watched[gvr] = info
		}
	}
	for gk, info := range old.byKind {
		if _, ok := rs.byKind[gk]; !ok {
			rs.byKind[gk] = info
		}
	}
	return rs
}

func hasVerbs(have metav1.Verbs, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// unknownKindError: no served resource has an ownerReference's kind.
// The type may not be served yet (discovery will tell on its next
// refresh), so the item is retried with backoff, as upstream does.
type unknownKindError struct {
	apiVersion, kind string
}

func (e *unknownKindError) Error() string {
	return fmt.Sprintf("no served resource has kind %s in %s", e.kind, e.apiVersion)
}

// forKind finds the resource of an apiVersion and kind.
func (rs resources) forKind(apiVersion, kind string) (resourceInfo, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return resourceInfo{}, &unknownKindError{apiVersion: apiVersion, kind: kind}
	}
	info, ok := rs.byKind[schema.GroupKind{Group: gv.Group, Kind: kind}]
	if !ok {
		return resourceInfo{}, &unknownKindError{apiVersion: apiVersion, kind: kind}
	}
	return info, nil
}
