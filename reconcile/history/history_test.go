package history

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func daemonSet(image string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ns", UID: "ds-uid", Annotations: map[string]string{"kubernetes.io/change-cause": "v1"}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					Containers:                    []corev1.Container{{Name: "c", Image: image, Args: []string{"<&>"}}},
				},
			},
		},
	}
}

// The data must be the bytes kubectl computes from the same object, or
// `kubectl rollout undo` never says "skipped rollback" and history shows
// a template that does not apply. kubectl's recipe: marshal, decode
// into a map, add "$patch": "replace", marshal {"spec":{"template":…}}.
func TestTemplatePatchIsKubectlsBytes(t *testing.T) {
	got, err := TemplatePatch(daemonSet("busybox:1"))
	if err != nil {
		t.Fatal(err)
	}
	// Sorted keys, integers as integers, HTML-escaped as encoding/json
	// does, and the template's zero creationTimestamp as the null that
	// kubectl 1.27–1.33 write.
	want := `{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"app":"agent"}},` +
		`"spec":{"containers":[{"args":["\u003c\u0026\u003e"],"image":"busybox:1","name":"c","resources":{}}],"terminationGracePeriodSeconds":30}}}}`
	if string(got) != want {
		t.Fatalf("patch\n got %s\nwant %s", got, want)
	}
	// A template without metadata gets it too.
	bare := daemonSet("busybox:1")
	bare.Spec.Template.Labels = nil
	got, err = TemplatePatch(bare)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"metadata":{"creationTimestamp":null}`) {
		t.Fatalf("patch of a bare template: %s", got)
	}
}

// Applying a revision restores its template on a set that moved on, and
// only the template: kubectl rollout undo sends this patch as is.
func TestApplyRestoresTemplate(t *testing.T) {
	v1 := daemonSet("busybox:1")
	data, err := TemplatePatch(v1)
	if err != nil {
		t.Fatal(err)
	}
	rev := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "agent-1"}, Data: runtime.RawExtension{Raw: data}}

	v2 := daemonSet("busybox:2")
	v2.Spec.Template.Labels["extra"] = "yes"
	v2.Spec.Template.Spec.Containers = append(v2.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "pause"})
	v2.Spec.MinReadySeconds = 7

	back, err := Apply(v2, rev)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(back.Spec.Template, v1.Spec.Template) {
		t.Fatalf("template not restored:\n got %+v\nwant %+v", back.Spec.Template, v1.Spec.Template)
	}
	if back.Spec.MinReadySeconds != 7 {
		t.Fatalf("apply changed more than the template: minReadySeconds %d", back.Spec.MinReadySeconds)
	}
	// kubectl's own application: a strategic merge patch of the object.
	cur, _ := json.Marshal(v2)
	patched, err := strategicpatch.StrategicMergePatch(cur, data, &appsv1.DaemonSet{})
	if err != nil {
		t.Fatal(err)
	}
	var viaKubectl appsv1.DaemonSet
	if err := json.Unmarshal(patched, &viaKubectl); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(viaKubectl.Spec.Template, v1.Spec.Template) {
		t.Fatalf("kubectl's application differs: %+v", viaKubectl.Spec.Template)
	}
}

var safeHash = regexp.MustCompile(`^[bcdfghjklmnpqrstvwxz2456789]+$`)

func TestHashes(t *testing.T) {
	a, b := daemonSet("busybox:1"), daemonSet("busybox:2")
	h := TemplateHash(&a.Spec.Template, nil)
	if !safeHash.MatchString(h) {
		t.Fatalf("hash %q uses characters outside the safe alphabet", h)
	}
	if h != TemplateHash(&daemonSet("busybox:1").Spec.Template, nil) {
		t.Fatal("template hash is not stable")
	}
	if h == TemplateHash(&b.Spec.Template, nil) {
		t.Fatal("different templates hash the same")
	}
	if h == TemplateHash(&a.Spec.Template, ptr.To[int32](1)) {
		t.Fatal("a collision count does not change the template hash")
	}
	if TemplateHash(&a.Spec.Template, ptr.To[int32](0)) == TemplateHash(&a.Spec.Template, ptr.To[int32](1)) {
		t.Fatal("collision counts 0 and 1 hash the same")
	}
	d := DataHash([]byte("x"), nil)
	if !safeHash.MatchString(d) || d == DataHash([]byte("x"), ptr.To[int32](1)) || d == DataHash([]byte("y"), nil) {
		t.Fatalf("data hash %q: unsafe, or blind to data or collision count", d)
	}
	if got := Name(strings.Repeat("a", 300), "h"); len(got) != 225 || !strings.HasSuffix(got, "a-h") {
		t.Fatalf("long name %d chars: %q", len(got), got[len(got)-5:])
	}
}

func rev(name string, n int64, created time.Time) *appsv1.ControllerRevision {
	return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)}, Revision: n}
}

func names(revs []*appsv1.ControllerRevision) string {
	var s []string
	for _, r := range revs {
		s = append(s, r.Name)
	}
	return strings.Join(s, ",")
}

func TestSortMaxPrunable(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	revs := []*appsv1.ControllerRevision{
		rev("e", 5, t0), rev("b", 2, t0.Add(time.Second)), rev("a", 2, t0), rev("c", 2, t0), rev("z", 1, t0),
	}
	Sort(revs)
	if got := names(revs); got != "z,a,c,b,e" {
		t.Fatalf("sorted %s, want z,a,c,b,e (number, then time, then name)", got)
	}
	if Max(revs) != 5 || Max(nil) != 0 {
		t.Fatalf("max %d", Max(revs))
	}
	inUse := func(r *appsv1.ControllerRevision) bool { return r.Name == "a" || r.Name == "e" }
	for _, tc := range []struct {
		excess int
		want   string
	}{{0, ""}, {-1, ""}, {1, "z"}, {2, "z,c"}, {5, "z,c,b"}} {
		if got := names(Prunable(revs, inUse, tc.excess)); got != tc.want {
			t.Errorf("excess %d: pruned %q, want %q", tc.excess, got, tc.want)
		}
	}
}

func TestNewRevision(t *testing.T) {
	ds := daemonSet("busybox:1")
	r := New(ds, appsv1.SchemeGroupVersion.WithKind("DaemonSet"), ds.Spec.Template.Labels, []byte(`{}`), 3)
	ref := metav1.GetControllerOf(r)
	if ref == nil || ref.UID != ds.UID || ref.Kind != "DaemonSet" || ref.APIVersion != "apps/v1" || r.Namespace != "ns" || r.Revision != 3 {
		t.Fatalf("revision %+v", r)
	}
	if r.Labels["app"] != "agent" || r.Annotations["kubernetes.io/change-cause"] != "v1" {
		t.Fatalf("labels %v annotations %v", r.Labels, r.Annotations)
	}
	r.Labels["x"] = "y"
	if _, ok := ds.Spec.Template.Labels["x"]; ok {
		t.Fatal("revision labels alias the template's")
	}
}

func newStore(t *testing.T, objs ...runtime.Object) (*Store, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	inf := informers.NewSharedInformerFactory(client, 0)
	lister := inf.Apps().V1().ControllerRevisions().Lister()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inf.Start(ctx.Done())
	inf.WaitForCacheSync(ctx.Done())
	return &Store{Client: client, Lister: lister}, client
}

func TestStoreCreateDetectsCollisions(t *testing.T) {
	ds := daemonSet("busybox:1")
	gvk := appsv1.SchemeGroupVersion.WithKind("DaemonSet")
	s, client := newStore(t)
	ctx := context.Background()
	r := New(ds, gvk, nil, []byte(`{"a":1}`), 1)
	r.Name = "agent-h"
	if _, err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	// Same data, same owner: an earlier sync's revision, returned.
	got, err := s.Create(ctx, r.DeepCopy())
	if err != nil || got.Name != "agent-h" {
		t.Fatalf("re-create: %v, %v", got, err)
	}
	// Different data under the name: a collision.
	other := r.DeepCopy()
	other.Data.Raw = []byte(`{"a":2}`)
	var collision *CollisionError
	if _, err := s.Create(ctx, other); !errors.As(err, &collision) || collision.Name != "agent-h" {
		t.Fatalf("different data: %v", err)
	}
	// Same data but another owner's revision: also not ours to use.
	stranger := r.DeepCopy()
	stranger.OwnerReferences[0].UID = "someone-else"
	if _, err := s.Create(ctx, stranger); !errors.As(err, &collision) {
		t.Fatalf("other owner: %v", err)
	}
	list, _ := client.AppsV1().ControllerRevisions("ns").List(ctx, metav1.ListOptions{})
	if len(list.Items) != 1 {
		t.Fatalf("%d revisions stored", len(list.Items))
	}
}

func TestStoreClaimRenumberDelete(t *testing.T) {
	ds := daemonSet("busybox:1")
	gvk := appsv1.SchemeGroupVersion.WithKind("DaemonSet")
	mine := New(ds, gvk, map[string]string{"app": "agent"}, []byte(`{}`), 1)
	mine.Name, mine.UID = "mine", "u1"
	orphan := New(ds, gvk, map[string]string{"app": "agent"}, []byte(`{}`), 2)
	orphan.Name, orphan.UID, orphan.OwnerReferences = "orphan", "u2", nil
	stale := New(ds, gvk, map[string]string{"app": "other"}, []byte(`{}`), 3)
	stale.Name, stale.UID = "stale", "u3"
	others := New(&metav1.ObjectMeta{Name: "x", Namespace: "ns", UID: "x"}, gvk, map[string]string{"app": "agent"}, []byte(`{}`), 4)
	others.Name, others.UID = "others", "u4"
	s, client := newStore(t, mine, orphan, stale, others)
	ctx := context.Background()

	checked := 0
	got, err := s.Claim(ctx, ds, gvk, labels.SelectorFromSet(labels.Set{"app": "agent"}), func(context.Context) error { checked++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	Sort(got)
	if names(got) != "mine,orphan" || checked != 1 {
		t.Fatalf("claimed %s (adoption checks %d)", names(got), checked)
	}
	var patches []string
	for _, a := range client.Actions() {
		if p, ok := a.(interface {
			GetName() string
			GetPatchType() types.PatchType
		}); ok && a.GetVerb() == "patch" {
			patches = append(patches, p.GetName())
		}
	}
	slices.Sort(patches)
	if strings.Join(patches, ",") != "orphan,stale" {
		t.Fatalf("patched %v, want the orphan adopted and the stale one released", patches)
	}
	adopted, _ := client.AppsV1().ControllerRevisions("ns").Get(ctx, "orphan", metav1.GetOptions{})
	if !metav1.IsControlledBy(adopted, ds) {
		t.Fatalf("orphan not adopted: %+v", adopted.OwnerReferences)
	}
	released, _ := client.AppsV1().ControllerRevisions("ns").Get(ctx, "stale", metav1.GetOptions{})
	if metav1.GetControllerOf(released) != nil {
		t.Fatalf("stale not released: %+v", released.OwnerReferences)
	}

	renumbered, err := s.Renumber(ctx, mine, 7)
	if err != nil || renumbered.Revision != 7 {
		t.Fatalf("renumber: %v %v", renumbered, err)
	}
	stored, _ := client.AppsV1().ControllerRevisions("ns").Get(ctx, "mine", metav1.GetOptions{})
	if stored.Revision != 7 || mine.Revision != 1 {
		t.Fatalf("stored revision %d, input mutated to %d", stored.Revision, mine.Revision)
	}
	if err := s.Delete(ctx, mine); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, mine); err != nil {
		t.Fatalf("deleting a deleted revision: %v", err)
	}
}
