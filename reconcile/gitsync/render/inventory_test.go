package render

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestInventoryEntries(t *testing.T) {
	inv := Inventory([]*unstructured.Unstructured{
		obj("apps/v1", "Deployment", "shop", "web"),
		obj("v1", "Namespace", "", "shop"),
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "system:web:reader"),
		obj("v1", "Service", "shop", "web"),
		obj("v1", "Service", "shop", "web"), // listed twice, recorded once
	})
	got, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"entries":[` +
		`{"id":"_shop__Namespace","v":"v1"},` +
		`{"id":"_system__web__reader_rbac.authorization.k8s.io_ClusterRole","v":"v1"},` +
		`{"id":"shop_web__Service","v":"v1"},` +
		`{"id":"shop_web_apps_Deployment","v":"v1"}]}`
	if string(got) != want {
		t.Errorf("inventory\n got %s\nwant %s", got, want)
	}
	// An empty inventory is "entries: []", as Flux writes it, not null.
	if b, _ := json.Marshal(Inventory(nil)); string(b) != `{"entries":[]}` {
		t.Errorf("empty inventory = %s", b)
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want ObjMetadata
	}{
		{"shop_web_apps_Deployment", ObjMetadata{"shop", "web", "apps", "Deployment"}},
		{"_shop__Namespace", ObjMetadata{"", "shop", "", "Namespace"}},
		{"_system__web__reader_rbac.authorization.k8s.io_ClusterRole", ObjMetadata{"", "system:web:reader", "rbac.authorization.k8s.io", "ClusterRole"}},
	} {
		got, err := ParseID(tc.id)
		if err != nil || got != tc.want {
			t.Errorf("ParseID(%q) = %+v, %v; want %+v", tc.id, got, err, tc.want)
		}
		if got.ID() != tc.id {
			t.Errorf("round trip %q → %q", tc.id, got.ID())
		}
	}
	for _, bad := range []string{"", "noseparator", "ns_name", "ns_a_b_c_Kind", "ns__group_Kind"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestDiffPrunesInReverseApplyOrder(t *testing.T) {
	old := Inventory([]*unstructured.Unstructured{
		obj("v1", "Namespace", "", "old-ns"),
		obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"),
		obj("example.com/v1beta1", "Widget", "old-ns", "w"),
		obj("apps/v1", "Deployment", "shop", "web"),
		obj("v1", "ConfigMap", "old-ns", "settings"),
		obj("v1", "Service", "shop", "web"),
		obj("storage.k8s.io/v1", "StorageClass", "", "fast"),
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"),
	})
	new := Inventory([]*unstructured.Unstructured{
		obj("apps/v1", "Deployment", "shop", "web"),
		obj("v1", "Service", "shop", "web"),
		obj("v1", "ConfigMap", "shop", "added"),
	})
	gone, err := Diff(old, new)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range gone {
		got = append(got, u.GetAPIVersion()+" "+u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName())
	}
	want := []string{
		"example.com/v1beta1 Widget old-ns/w",
		"v1 ConfigMap old-ns/settings",
		// Flux deletes in reverse kind order without stages: the
		// ClusterRole (a definition when applying) goes before the class.
		"rbac.authorization.k8s.io/v1 ClusterRole /reader",
		"storage.k8s.io/v1 StorageClass /fast",
		"v1 Namespace /old-ns",
		"apiextensions.k8s.io/v1 CustomResourceDefinition /widgets.example.com",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("prune\n got %q\nwant %q", got, want)
	}

	if gone, err := Diff(new, new); err != nil || len(gone) != 0 {
		t.Errorf("Diff of an inventory with itself = %v, %v", gone, err)
	}
	if gone, err := Diff(nil, new); err != nil || len(gone) != 0 {
		t.Errorf("Diff from nil = %v, %v", gone, err)
	}
	if gone, _ := Diff(new, nil); len(gone) != 3 {
		t.Errorf("Diff to nil prunes %d, want all 3", len(gone))
	}
	if _, err := Diff(&ResourceInventory{Entries: []ResourceRef{{ID: "broken", Version: "v1"}}}, nil); err == nil {
		t.Error("Diff accepted a malformed ID")
	}
}
