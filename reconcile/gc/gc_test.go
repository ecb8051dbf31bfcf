package gc

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"
)

var (
	podsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	rsGVR         = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
)

func exists(md *fake.FakeMetadataClient, gvr schema.GroupVersionResource, ns, name string) (bool, error) {
	_, err := md.Tracker().Get(gvr, ns, name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func waitGone(t *testing.T, md *fake.FakeMetadataClient, gvr schema.GroupVersionResource, ns, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ok, err := exists(md, gvr, ns, name)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s %s/%s was not collected", gvr.Resource, ns, name)
}

func mustExist(t *testing.T, md *fake.FakeMetadataClient, gvr schema.GroupVersionResource, ns, name string) {
	t.Helper()
	ok, err := exists(md, gvr, ns, name)
	if err != nil || !ok {
		t.Fatalf("%s %s/%s is gone (%v); it has a live owner", gvr.Resource, ns, name, err)
	}
}

// Run rebuilds the graph from the informers' lists, collects what was
// orphaned while it was not running, follows deletions down a chain, and
// starts watching a resource type that discovery lists later.
func TestRunCollectsThroughInformers(t *testing.T) {
	rs := ref("ReplicaSet", "a", "live", "R")
	gone := ref("ReplicaSet", "a", "gone", "G")
	objs := []runtime.Object{
		object(rs),
		object(ref("Pod", "a", "kept", "P1"), ownerRef(rs, true)),
		object(ref("Pod", "a", "orphaned", "P2"), ownerRef(gone, true)),
	}
	md := fake.NewSimpleMetadataClient(newScheme(), objs...)
	// Discovery does not list configmaps yet.
	disc := &fakeDiscovery{lists: []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: allVerbs}},
	}, testResources()[1]}}
	c := newController(md, disc, metadatainformer.NewSharedInformerFactory(md, 0), nil, nil)
	c.resync = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// The owner was deleted while the collector was not running.
	waitGone(t, md, podsGVR, "a", "orphaned")
	mustExist(t, md, podsGVR, "a", "kept")

	// Background: the owner goes, its dependents follow.
	if err := md.Resource(rsGVR).Namespace("a").Delete(ctx, "live", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, md, podsGVR, "a", "kept")

	// A type discovery lists later is watched too: a chain of
	// configmaps goes link by link once its head is deleted.
	for i, name := range []string{"c0", "c1", "c2"} {
		o := object(ref("ConfigMap", "a", name, typesUID(name)))
		if i > 0 {
			prev := fmt.Sprintf("c%d", i-1)
			o.OwnerReferences = []metav1.OwnerReference{ownerRef(ref("ConfigMap", "a", prev, typesUID(prev)), false)}
		}
		if err := md.Tracker().Create(configMapsGVR, o, "a"); err != nil {
			t.Fatal(err)
		}
	}
	disc.set(testResources(), nil)
	deadline := time.Now().Add(10 * time.Second)
	for !c.watching(configMapsGVR) {
		if time.Now().After(deadline) {
			t.Fatal("configmaps are not watched after discovery listed them")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustExist(t, md, configMapsGVR, "a", "c2")
	if err := md.Resource(configMapsGVR).Namespace("a").Delete(ctx, "c0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, md, configMapsGVR, "a", "c2")
	waitGone(t, md, configMapsGVR, "a", "c1")
}

func typesUID(s string) types.UID { return types.UID("uid-" + s) }

// watching reports whether the collector has synced a watch on gvr.
func (c *Controller) watching(gvr schema.GroupVersionResource) bool {
	c.mmu.Lock()
	defer c.mmu.Unlock()
	m, ok := c.monitors[gvr]
	return ok && m.reg.HasSynced()
}
