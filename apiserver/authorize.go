package apiserver

import (
	"slices"
	"sort"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/skiff-dev/skiff/manifests"
)

// Skiff has no RBAC. There are two credentials (run.go): the admin's, in
// group system:masters, which may do everything, as that group may on
// any cluster; and the nodes', in group system:nodes, which may do
// everything but open a stream (exec, attach, port-forward) into a pod —
// as with kube-apiserver's Node authorizer, a node agent does not get a
// shell in the cluster's pods. authorize is that whole policy; the
// stream handlers enforce it and the self reviews (kubectl auth can-i)
// report it, so the two cannot disagree.

// access is what a request does, as kube-apiserver's authorizer sees it.
type access struct {
	// Resource requests.
	verb, group, resource, subresource, namespace, name string
	// A non-resource request (/healthz, /version…) has a path instead.
	nonResource bool
	path        string
}

// authorize reports whether u may do a, and why (kubectl auth can-i
// prints a denial's reason after its "no").
func authorize(u User, a access) (allowed bool, reason string) {
	if slices.Contains(u.Groups, "system:masters") {
		return true, "skiff: the admin credential (group system:masters) may do everything"
	}
	if slices.Contains(u.Groups, "system:nodes") {
		if !a.nonResource && opensPodStream(a) {
			return false, "skiff: a node agent may not open a stream (exec, attach, port-forward) into a pod"
		}
		return true, "skiff: the nodes' credential may do everything but open a stream into a pod"
	}
	return false, "skiff: no rule allows this user anything"
}

// opensPodStream reports whether a names a pod stream, wildcards
// included: a node may not do "*" on "pods/*".
func opensPodStream(a access) bool {
	if a.group != "" && a.group != "*" {
		return false
	}
	if a.resource != "pods" && a.resource != "*" {
		return false
	}
	return a.subresource == "*" || slices.Contains(streamSubresources, a.subresource)
}

// rulesFor lists, as RBAC rules, what u may do: what kubectl auth can-i
// --list prints. Rules only add, so the nodes' "all but pod streams" is
// written out resource by resource from the registry.
func rulesFor(u User, reg *manifests.Registry) ([]authorizationv1.ResourceRule, []authorizationv1.NonResourceRule) {
	everything := []authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}
	switch {
	case slices.Contains(u.Groups, "system:masters"):
		return []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}, everything
	case slices.Contains(u.Groups, "system:nodes"):
		byGroup := map[string][]string{}
		for _, t := range reg.Types() {
			g := t.GroupVersionKind.Group
			byGroup[g] = append(byGroup[g], t.Resource)
			for _, sub := range t.Subresources {
				a := access{group: g, resource: t.Resource, subresource: sub.Name}
				if !opensPodStream(a) {
					byGroup[g] = append(byGroup[g], t.Resource+"/"+sub.Name)
				}
			}
		}
		groups := make([]string, 0, len(byGroup))
		for g := range byGroup {
			groups = append(groups, g)
		}
		sort.Strings(groups)
		var rules []authorizationv1.ResourceRule
		for _, g := range groups {
			resources := byGroup[g]
			sort.Strings(resources)
			rules = append(rules, authorizationv1.ResourceRule{Verbs: []string{"*"}, APIGroups: []string{g}, Resources: slices.Compact(resources)})
		}
		return rules, everything
	}
	return nil, nil
}
