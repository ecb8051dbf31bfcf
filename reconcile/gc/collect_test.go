package gc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"
	clienttesting "k8s.io/client-go/testing"
)

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// testResources is a small cluster's discovery.
func testResources() []*metav1.APIResourceList {
	return []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: allVerbs},
			{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "patch", "update"}},
			{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: allVerbs},
			{Name: "nodes", Kind: "Node", Verbs: allVerbs},
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: allVerbs},
			{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"}},
		},
	}, {
		GroupVersion: "apps/v1",
		APIResources: []metav1.APIResource{
			{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: allVerbs},
			{Name: "replicasets", Namespaced: true, Kind: "ReplicaSet", Verbs: allVerbs},
		},
	}}
}

// object is an object's metadata as the API would serve it.
func object(r objectRef, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: r.APIVersion, Kind: r.Kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.Name, UID: r.UID, ResourceVersion: "1", OwnerReferences: owners},
	}
}

func beingDeleted(o *metav1.PartialObjectMetadata, finalizers ...string) *metav1.PartialObjectMetadata {
	o = o.DeepCopy()
	now := metav1.Now()
	o.DeletionTimestamp = &now
	o.Finalizers = finalizers
	return o
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = metav1.AddMetaToScheme(s)
	return s
}

// newTestController returns a collector whose API holds api and whose
// graph has observed seen (which may differ: the graph can lag).
func newTestController(t *testing.T, api, seen []*metav1.PartialObjectMetadata) (*Controller, *fake.FakeMetadataClient) {
	t.Helper()
	objs := make([]runtime.Object, len(api))
	for i, o := range api {
		objs[i] = o
	}
	md := fake.NewSimpleMetadataClient(newScheme(), objs...)
	c := newController(md, &fakeDiscovery{lists: testResources()}, metadatainformer.NewSharedInformerFactory(md, 0), nil, nil)
	c.res = parseResources(testResources())
	for _, o := range seen {
		info, err := c.res.forKind(o.APIVersion, o.Kind)
		if err != nil {
			t.Fatal(err)
		}
		c.onUpsert(info, o)
	}
	drain(c)
	md.ClearActions()
	return c, md
}

// drain empties the queue and returns what it held, sorted.
func drain(c *Controller) []types.UID {
	var out []types.UID
	for c.queue.Len() > 0 {
		u, _ := c.queue.Get()
		c.queue.Done(u)
		c.queue.Forget(u)
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// mutations renders the writes the client was asked for.
func mutations(md *fake.FakeMetadataClient) []string {
	var out []string
	for _, a := range md.Actions() {
		switch a := a.(type) {
		case clienttesting.DeleteActionImpl:
			o := a.GetDeleteOptions()
			s := fmt.Sprintf("delete %s %s/%s", a.Resource.Resource, a.Namespace, a.Name)
			if o.PropagationPolicy != nil {
				s += " " + string(*o.PropagationPolicy)
			}
			if pc := o.Preconditions; pc != nil && pc.UID != nil {
				s += " uid=" + string(*pc.UID)
			}
			if pc := o.Preconditions; pc != nil && pc.ResourceVersion != nil {
				s += " rv=" + *pc.ResourceVersion
			}
			out = append(out, s)
		case clienttesting.PatchActionImpl:
			pt := map[types.PatchType]string{types.StrategicMergePatchType: "smp", types.MergePatchType: "merge", types.JSONPatchType: "json"}[a.PatchType]
			out = append(out, fmt.Sprintf("patch %s %s/%s %s %s", a.Resource.Resource, a.Namespace, a.Name, pt, a.Patch))
		}
	}
	return out
}

type fakeDiscovery struct {
	mu    sync.Mutex
	lists []*metav1.APIResourceList
	err   error
}

func (f *fakeDiscovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists, f.err
}

func (f *fakeDiscovery) set(lists []*metav1.APIResourceList, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists, f.err = lists, err
}

func TestReconcile(t *testing.T) {
	dep := ref("Deployment", "a", "web", "D")
	rs := ref("ReplicaSet", "a", "web-1", "R")
	rs2 := ref("ReplicaSet", "a", "web-2", "R2")
	pod := ref("Pod", "a", "web-1-x", "P")
	pod2 := ref("Pod", "a", "web-1-y", "P2")
	fg := metav1.FinalizerDeleteDependents
	orphan := metav1.FinalizerOrphanDependents
	cases := []struct {
		name      string
		api, seen []*metav1.PartialObjectMetadata // seen defaults to api
		uid       types.UID
		want      []string
		queued    []types.UID
		err       error
	}{{
		name: "a dependent whose owner is gone is deleted in the background",
		api:  []*metav1.PartialObjectMetadata{object(pod, ownerRef(rs, true))},
		uid:  "P",
		want: []string{"delete pods a/web-1-x Background uid=P rv=1"},
	}, {
		name: "a dependent whose owner exists stays",
		api:  []*metav1.PartialObjectMetadata{object(rs), object(pod, ownerRef(rs, true))},
		uid:  "P",
	}, {
		name: "an owner recreated with another UID counts as gone",
		api:  []*metav1.PartialObjectMetadata{object(ref("ReplicaSet", "a", "web-1", "R-new")), object(pod, ownerRef(rs, true))},
		seen: []*metav1.PartialObjectMetadata{object(pod, ownerRef(rs, true))},
		uid:  "P",
		want: []string{"delete pods a/web-1-x Background uid=P rv=1"},
	}, {
		name: "the graph's view of the owner is not trusted: a live read finds it",
		api:  []*metav1.PartialObjectMetadata{object(rs), object(pod, ownerRef(rs, true))},
		seen: []*metav1.PartialObjectMetadata{object(pod, ownerRef(rs, true))},
		uid:  "P",
	}, {
		name: "a reference to a gone owner beside a live one is removed",
		api:  []*metav1.PartialObjectMetadata{object(rs2), object(pod, ownerRef(rs, true), ownerRef(rs2, false))},
		uid:  "P",
		want: []string{`patch pods a/web-1-x smp {"metadata":{"ownerReferences":[{"$patch":"delete","uid":"R"}],"uid":"P"}}`},
	}, {
		name: "a reference to a foreground-deleting owner beside a live one is removed",
		api:  []*metav1.PartialObjectMetadata{beingDeleted(object(rs), fg), object(rs2), object(pod, ownerRef(rs, true), ownerRef(rs2, false))},
		uid:  "P",
		want: []string{`patch pods a/web-1-x smp {"metadata":{"ownerReferences":[{"$patch":"delete","uid":"R"}],"uid":"P"}}`},
	}, {
		name: "a dependent with dependents of its own goes in the foreground when its owner does",
		api:  []*metav1.PartialObjectMetadata{beingDeleted(object(dep), fg), object(rs, ownerRef(dep, true)), object(pod, ownerRef(rs, true))},
		uid:  "R",
		want: []string{"delete replicasets a/web-1 Foreground uid=R rv=1"},
	}, {
		name: "a dependent without dependents of its own goes in the background when its owner is in the foreground",
		api:  []*metav1.PartialObjectMetadata{beingDeleted(object(rs), fg), object(pod, ownerRef(rs, true))},
		uid:  "P",
		want: []string{"delete pods a/web-1-x Background uid=P rv=1"},
	}, {
		name: "a dependent's own orphan finalizer sets its deletion's policy",
		api: []*metav1.PartialObjectMetadata{func() *metav1.PartialObjectMetadata {
			o := object(rs, ownerRef(dep, true))
			o.Finalizers = []string{orphan}
			return o
		}(), object(pod, ownerRef(rs, true))},
		uid:  "R",
		want: []string{"delete replicasets a/web-1 Orphan uid=R rv=1"},
	}, {
		name: "an object already being deleted is left to finish",
		api:  []*metav1.PartialObjectMetadata{beingDeleted(object(pod, ownerRef(rs, true)))},
		uid:  "P",
	}, {
		name:   "a foreground deletion waits for blocking dependents and makes sure they go",
		api:    []*metav1.PartialObjectMetadata{beingDeleted(object(dep), fg), object(rs, ownerRef(dep, true)), object(rs2, ownerRef(dep, false))},
		uid:    "D",
		queued: []types.UID{"R"},
	}, {
		name: "a foreground deletion does not wait for non-blocking dependents",
		api:  []*metav1.PartialObjectMetadata{beingDeleted(object(dep), fg, "example.com/keep"), object(rs2, ownerRef(dep, false))},
		uid:  "D",
		want: []string{`patch deployments a/web merge {"metadata":{"finalizers":["example.com/keep"],"resourceVersion":"1","uid":"D"}}`},
	}, {
		name: "an orphan deletion removes the owner's references from its dependents, then its finalizer",
		api:  []*metav1.PartialObjectMetadata{beingDeleted(object(dep), orphan), object(rs, ownerRef(dep, true)), object(rs2, ownerRef(dep, true))},
		uid:  "D",
		want: []string{
			`patch replicasets a/web-1 smp {"metadata":{"ownerReferences":[{"$patch":"delete","uid":"D"}],"uid":"R"}}`,
			`patch replicasets a/web-2 smp {"metadata":{"ownerReferences":[{"$patch":"delete","uid":"D"}],"uid":"R2"}}`,
			`patch deployments a/web merge {"metadata":{"finalizers":[],"resourceVersion":"1","uid":"D"}}`,
		},
	}, {
		name:   "a virtual owner found absent leaves the graph and its dependents are judged",
		api:    []*metav1.PartialObjectMetadata{object(pod, ownerRef(rs, true)), object(pod2, ownerRef(rs, true))},
		uid:    "R",
		queued: []types.UID{"P", "P2"},
	}, {
		name: "a virtual owner that exists is checked again until an informer shows it",
		api:  []*metav1.PartialObjectMetadata{object(rs), object(pod, ownerRef(rs, true))},
		seen: []*metav1.PartialObjectMetadata{object(pod, ownerRef(rs, true))},
		uid:  "R",
		err:  errNotObserved,
	}, {
		name: "a cluster-scoped object naming a namespaced owner is left alone",
		api:  []*metav1.PartialObjectMetadata{object(ref("Node", "", "n1", "N"), ownerRef(ref("ConfigMap", "", "c", "C"), false))},
		uid:  "N",
	}, {
		name: "an owner of a kind no resource serves is retried",
		api: []*metav1.PartialObjectMetadata{object(pod, metav1.OwnerReference{
			APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "W"})},
		uid: "P",
		err: &unknownKindError{},
	}, {
		name: "a cycle of blocking references is broken before the foreground deletion",
		api: []*metav1.PartialObjectMetadata{
			beingDeleted(object(dep, ownerRef(rs, true)), fg),
			object(rs, ownerRef(dep, true)),
		},
		uid: "R",
		want: []string{
			`patch replicasets a/web-1 smp {"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","blockOwnerDeletion":false,"kind":"Deployment","name":"web","uid":"D"}],"uid":"R"}}`,
			"delete replicasets a/web-1 Foreground uid=R rv=1",
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := tc.seen
			if seen == nil {
				seen = tc.api
			}
			c, md := newTestController(t, tc.api, seen)
			err := c.Reconcile(context.Background(), tc.uid)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("Reconcile: %v", err)
			case tc.err != nil && err == nil:
				t.Fatalf("Reconcile succeeded, want %v", tc.err)
			case tc.err != nil:
				var uk *unknownKindError
				if !errors.Is(err, tc.err) && !(errors.As(tc.err, &uk) && errors.As(err, &uk)) {
					t.Fatalf("Reconcile: %v, want %v", err, tc.err)
				}
			}
			if got := mutations(md); !slices.Equal(got, tc.want) {
				t.Errorf("writes:\n%s\nwant:\n%s", join(got), join(tc.want))
			}
			if got := drain(c); !slices.Equal(got, tc.queued) {
				t.Errorf("queued %v, want %v", got, tc.queued)
			}
		})
	}
}

func join(s []string) string {
	out := ""
	for _, l := range s {
		out += "  " + l + "\n"
	}
	return out
}

// The dependents of one gone owner read it once between them.
func TestAbsentOwnerIsReadOnce(t *testing.T) {
	rs := ref("ReplicaSet", "a", "web-1", "R")
	api := []*metav1.PartialObjectMetadata{
		object(ref("Pod", "a", "p1", "P1"), ownerRef(rs, true)),
		object(ref("Pod", "a", "p2", "P2"), ownerRef(rs, true)),
		object(ref("Pod", "a", "p3", "P3"), ownerRef(rs, true)),
	}
	c, md := newTestController(t, api, api)
	for _, u := range []types.UID{"R", "P1", "P2", "P3"} {
		if err := c.Reconcile(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	reads := 0
	for _, a := range md.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "replicasets" {
			reads++
		}
	}
	if reads != 1 {
		t.Errorf("the owner was read %d times, want 1", reads)
	}
	if got := len(mutations(md)); got != 3 {
		t.Errorf("%d writes, want 3 deletes", got)
	}
}

// Objects with no owners and no deletion in progress need no API call.
func TestReconcileOfAnOwnerlessObjectReadsNothing(t *testing.T) {
	api := []*metav1.PartialObjectMetadata{object(ref("ConfigMap", "a", "c", "C"))}
	c, md := newTestController(t, api, api)
	if err := c.Reconcile(context.Background(), "C"); err != nil {
		t.Fatal(err)
	}
	if a := md.Actions(); len(a) != 0 {
		t.Errorf("API calls: %v", a)
	}
}
