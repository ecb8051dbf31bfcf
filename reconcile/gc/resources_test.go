package gc

import (
	"errors"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestParseResources(t *testing.T) {
	rs := parseResources(testResources())
	var watched []string
	for gvr := range rs.watched {
		watched = append(watched, gvr.String())
	}
	slices.Sort(watched)
	// Not watched: subresources, events, and bindings (create only).
	want := []string{
		"/v1, Resource=configmaps", "/v1, Resource=nodes", "/v1, Resource=pods",
		"apps/v1, Resource=deployments", "apps/v1, Resource=replicasets",
	}
	if !slices.Equal(watched, want) {
		t.Errorf("watched %v, want %v", watched, want)
	}

	cases := []struct {
		apiVersion, kind string
		gvr              string
		namespaced       bool
		unknown          bool
	}{
		{apiVersion: "apps/v1", kind: "ReplicaSet", gvr: "apps/v1, Resource=replicasets", namespaced: true},
		// Another version of a served group maps to the served one.
		{apiVersion: "apps/v1beta2", kind: "Deployment", gvr: "apps/v1, Resource=deployments", namespaced: true},
		{apiVersion: "v1", kind: "Node", gvr: "/v1, Resource=nodes"},
		// Kinds that are not watched can still be read as owners.
		{apiVersion: "v1", kind: "Binding", gvr: "/v1, Resource=bindings", namespaced: true},
		{apiVersion: "example.com/v1", kind: "Widget", unknown: true},
		{apiVersion: "v1", kind: "Widget", unknown: true},
		{apiVersion: "a/b/c", kind: "Pod", unknown: true},
	}
	for _, c := range cases {
		info, err := rs.forKind(c.apiVersion, c.kind)
		var uk *unknownKindError
		if c.unknown {
			if !errors.As(err, &uk) {
				t.Errorf("forKind(%s, %s) = %v, %v; want unknownKindError", c.apiVersion, c.kind, info.gvr, err)
			}
			continue
		}
		if err != nil || info.gvr.String() != c.gvr || info.namespaced != c.namespaced {
			t.Errorf("forKind(%s, %s) = %s namespaced=%t, %v; want %s namespaced=%t", c.apiVersion, c.kind, info.gvr, info.namespaced, err, c.gvr, c.namespaced)
		}
	}
}

// A group that fails discovery keeps its watches and kinds; a group
// that no longer appears in a successful answer loses them.
func TestResourcesMerge(t *testing.T) {
	old := parseResources(testResources())
	onlyCore := parseResources(testResources()[:1])
	failed := map[schema.GroupVersion]error{{Group: "apps", Version: "v1"}: errors.New("timeout")}
	merged := onlyCore.merge(old, failed)
	if _, ok := merged.watched[schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}]; !ok {
		t.Error("a failed group's resources were dropped")
	}
	if _, err := merged.forKind("apps/v1", "Deployment"); err != nil {
		t.Errorf("a failed group's kinds were dropped: %v", err)
	}
	if _, ok := onlyCore.watched[schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}]; ok {
		t.Error("a group absent from discovery is still watched")
	}
	if got := parseResources([]*metav1.APIResourceList{nil, {GroupVersion: "bad/x/y"}}); len(got.watched) != 0 {
		t.Errorf("malformed lists gave %v", got.watched)
	}
}
