package ownerref

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
)

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

func replicaSetLister(t *testing.T, objs ...runtime.Object) appslisters.ReplicaSetLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		if err := idx.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return appslisters.NewReplicaSetLister(idx)
}

func rs(ns, name string, uid types.UID, sel *metav1.LabelSelector) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: uid}, Spec: appsv1.ReplicaSetSpec{Selector: sel}}
}

func TestResolveController(t *testing.T) {
	lister := replicaSetLister(t, rs("a", "web", "uid-web", nil))
	for _, tc := range []struct {
		name string
		ref  *metav1.OwnerReference
		// resolved by ResolveController, by ResolveControllerOfVersion
		byKind, byVersion bool
	}{
		{name: "the very owner", ref: &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "uid-web"}, byKind: true, byVersion: true},
		{name: "the owner by an older apiVersion", ref: &metav1.OwnerReference{APIVersion: "extensions/v1beta1", Kind: "ReplicaSet", Name: "web", UID: "uid-web"}, byKind: true},
		{name: "a namesake created since", ref: &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "uid-old"}},
		{name: "another kind", ref: &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", UID: "uid-web"}},
		{name: "not in the cache", ref: &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "api", UID: "uid-web"}},
		{name: "no reference", ref: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ResolveController(lister.ReplicaSets("a"), tc.ref, rsKind)
			if (got != nil) != tc.byKind || (got != nil && got.Name != "web") {
				t.Errorf("ResolveController = %v", got)
			}
			got = ResolveControllerOfVersion(lister.ReplicaSets("a"), tc.ref, rsKind)
			if (got != nil) != tc.byVersion || (got != nil && got.Name != "web") {
				t.Errorf("ResolveControllerOfVersion = %v", got)
			}
			// Another namespace's lister holds no owner of that name.
			if got := ResolveController(lister.ReplicaSets("b"), tc.ref, rsKind); got != nil {
				t.Errorf("resolved across namespaces: %v", got)
			}
		})
	}
}

func TestSelecting(t *testing.T) {
	web := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	lister := replicaSetLister(t,
		rs("a", "web", "1", web),
		rs("a", "web-tier", "2", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists}}}),
		rs("a", "empty", "3", &metav1.LabelSelector{}),
		rs("a", "nil", "4", nil),
		rs("a", "invalid", "5", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}),
		rs("b", "web", "6", web),
	)
	selectorOf := func(r *appsv1.ReplicaSet) *metav1.LabelSelector { return r.Spec.Selector }
	names := func(rss []*appsv1.ReplicaSet) []string {
		var out []string
		for _, r := range rss {
			out = append(out, r.Namespace+"/"+r.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"matches every selector that selects the labels, in the namespace only", map[string]string{"app": "web", "tier": "front"}, []string{"a/web", "a/web-tier"}},
		{"one match", map[string]string{"app": "web"}, []string{"a/web"}},
		{"no match", map[string]string{"app": "db"}, nil},
		{"no labels: no owner, not even an empty selector", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := names(Selecting(lister.ReplicaSets("a"), tc.labels, selectorOf))
			if len(got) != len(tc.want) {
				t.Fatalf("Selecting = %v, want %v", got, tc.want)
			}
			have := map[string]bool{}
			for _, n := range got {
				have[n] = true
			}
			for _, w := range tc.want {
				if !have[w] {
					t.Fatalf("Selecting = %v, want %v", got, tc.want)
				}
			}
		})
	}
}
