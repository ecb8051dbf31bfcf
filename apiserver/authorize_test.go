package apiserver

import (
	"slices"
	"strings"
	"testing"

	"github.com/skiff-dev/skiff/manifests"
)

var (
	adminUser = User{Name: "skiff-admin", Groups: []string{"system:masters", "system:authenticated"}}
	nodeUser  = User{Name: "system:node-bootstrap", Groups: []string{"system:nodes", "system:authenticated"}}
)

func TestAuthorize(t *testing.T) {
	for _, tc := range []struct {
		u    User
		a    access
		want bool
	}{
		{adminUser, access{verb: "create", resource: "pods", subresource: "exec"}, true},
		{adminUser, access{verb: "*", group: "*", resource: "*"}, true},
		{nodeUser, access{verb: "get", resource: "pods"}, true},
		{nodeUser, access{verb: "update", resource: "nodes", subresource: "status"}, true},
		{nodeUser, access{verb: "get", resource: "pods", subresource: "log"}, true},
		{nodeUser, access{verb: "delete", group: "apps", resource: "deployments"}, true},
		{nodeUser, access{verb: "get", nonResource: true, path: "/healthz"}, true},
		{nodeUser, access{verb: "create", resource: "pods", subresource: "exec"}, false},
		{nodeUser, access{verb: "get", resource: "pods", subresource: "attach"}, false},
		{nodeUser, access{verb: "create", resource: "pods", subresource: "portforward"}, false},
		{nodeUser, access{verb: "*", group: "*", resource: "*", subresource: "*"}, false},
		{nodeUser, access{verb: "create", group: "apps", resource: "pods", subresource: "exec"}, true}, // not core pods
		{User{Name: "nobody"}, access{verb: "get", resource: "pods"}, false},
	} {
		if got, reason := authorize(tc.u, tc.a); got != tc.want || reason == "" {
			t.Errorf("authorize(%s, %+v) = %v %q, want %v with a reason", tc.u.Name, tc.a, got, reason, tc.want)
		}
	}
}

// The rules kubectl auth can-i --list shows for the nodes name every
// served resource and subresource that authorize allows them, and no
// other.
func TestNodeRulesMatchAuthorize(t *testing.T) {
	reg, err := manifests.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	rules, nonResource := rulesFor(nodeUser, reg)
	if len(nonResource) != 1 || nonResource[0].NonResourceURLs[0] != "*" {
		t.Errorf("non-resource rules %+v, want everything", nonResource)
	}
	listed := map[access]bool{}
	for _, r := range rules {
		if !slices.Equal(r.Verbs, []string{"*"}) || len(r.APIGroups) != 1 {
			t.Errorf("rule %+v: want all verbs on one group", r)
		}
		for _, res := range r.Resources {
			resource, subresource, _ := strings.Cut(res, "/")
			listed[access{group: r.APIGroups[0], resource: resource, subresource: subresource}] = true
		}
	}
	for _, typ := range reg.Types() {
		g := typ.GroupVersionKind.Group
		all := []access{{group: g, resource: typ.Resource}}
		for _, sub := range typ.Subresources {
			all = append(all, access{group: g, resource: typ.Resource, subresource: sub.Name})
		}
		for _, a := range all {
			allowed, _ := authorize(nodeUser, access{verb: "create", group: a.group, resource: a.resource, subresource: a.subresource})
			if allowed != listed[a] {
				t.Errorf("%s/%s %s: authorize says %v, the rules list it: %v", a.group, a.resource, a.subresource, allowed, listed[a])
			}
		}
	}
	if admin, _ := rulesFor(adminUser, reg); len(admin) != 1 || admin[0].Resources[0] != "*" {
		t.Errorf("admin rules %+v, want one rule for everything", admin)
	}
}
