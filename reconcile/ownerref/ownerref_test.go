package ownerref

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

var rsGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}

func TestClaimAdoptsReleasesAndIgnores(t *testing.T) {
	owner := &metav1.ObjectMeta{Name: "rs", UID: "owner"}
	other := metav1.OwnerReference{UID: "other", Controller: ptrTrue()}
	mine := *NewControllerRef(owner, rsGVK)
	pods := []metav1.Object{
		&metav1.ObjectMeta{Name: "mine-match", UID: "1", Labels: map[string]string{"app": "web"}, OwnerReferences: []metav1.OwnerReference{mine}},
		&metav1.ObjectMeta{Name: "mine-nomatch", UID: "2", Labels: map[string]string{"app": "db"}, OwnerReferences: []metav1.OwnerReference{mine}},
		&metav1.ObjectMeta{Name: "orphan-match", UID: "3", Labels: map[string]string{"app": "web"}},
		&metav1.ObjectMeta{Name: "orphan-nomatch", UID: "4", Labels: map[string]string{"app": "db"}},
		&metav1.ObjectMeta{Name: "others", UID: "5", Labels: map[string]string{"app": "web"}, OwnerReferences: []metav1.OwnerReference{other}},
	}
	var adopted, released []string
	checks := 0
	c := &Claimer{
		Owner: owner, Selector: labels.SelectorFromSet(labels.Set{"app": "web"}),
		CanAdopt: func(context.Context) error { checks++; return nil },
		Adopt:    func(_ context.Context, o metav1.Object) error { adopted = append(adopted, o.GetName()); return nil },
		Release:  func(_ context.Context, o metav1.Object) error { released = append(released, o.GetName()); return nil },
	}
	got, err := c.Claim(context.Background(), pods)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].GetName() != "mine-match" || got[1].GetName() != "orphan-match" {
		t.Fatalf("claimed %v", names(got))
	}
	if len(adopted) != 1 || adopted[0] != "orphan-match" || len(released) != 1 || released[0] != "mine-nomatch" || checks != 1 {
		t.Fatalf("adopted %v released %v checks %d", adopted, released, checks)
	}
}

func TestPatchesApply(t *testing.T) {
	owner := &metav1.ObjectMeta{Name: "rs", UID: "owner"}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "pod-uid",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Foo", Name: "f", UID: "foo"}}}}
	cur, _ := json.Marshal(pod)
	out, err := strategicpatch.StrategicMergePatch(cur, AdoptPatch(owner, rsGVK, pod.UID), &corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	var adopted corev1.Pod
	_ = json.Unmarshal(out, &adopted)
	if ref := metav1.GetControllerOf(&adopted); ref == nil || ref.UID != "owner" || len(adopted.OwnerReferences) != 2 {
		t.Fatalf("after adopt: %+v", adopted.OwnerReferences)
	}
	out, err = strategicpatch.StrategicMergePatch(out, ReleasePatch("owner", pod.UID), &corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	var released corev1.Pod
	_ = json.Unmarshal(out, &released)
	if len(released.OwnerReferences) != 1 || released.OwnerReferences[0].UID != "foo" {
		t.Fatalf("after release: %+v", released.OwnerReferences)
	}
}

func ptrTrue() *bool { t := true; return &t }

func names(objs []metav1.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	return out
}
