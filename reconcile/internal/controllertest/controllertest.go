package controllertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/reconcile/manager"
)

// waitLimit bounds Eventually and WaitFor: far above anything a fake
// clientset's informers take, so a slow shared machine does not fail a
// test, yet a test waiting for what never comes still ends.
const waitLimit = 10 * time.Second

// Start starts d's informers and waits until their caches have synced;
// if run, it also runs c. When the test ends it cancels the returned
// context, waits for c's Run to return (failing the test if Run returned
// an error) and shuts the informers down.
func Start(t testing.TB, d *manager.Deps, c manager.Controller, run bool) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d.Informers.Start(ctx.Done())
	d.Informers.WaitForCacheSync(ctx.Done())
	done := make(chan error, 1)
	if run {
		go func() { done <- c.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		if run {
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
		d.Informers.Shutdown()
	})
	return ctx
}

// ServeCreates makes the fake clientset do on every create what the API
// server does and its object tracker does not: name an object that has
// only a generateName (the prefix and a five-digit sequence number), give
// one without a UID the UID "uid-<n>", and, with clk, stamp its creation
// time. The sequence number is shared by all objects, so names and UIDs
// are unique within the test.
func ServeCreates(client *fake.Clientset, clk clock.PassiveClock) {
	var seq atomic.Int64
	client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		m, err := meta.Accessor(a.(k8stesting.CreateAction).GetObject())
		if err != nil {
			return false, nil, nil
		}
		n := seq.Add(1)
		if m.GetName() == "" && m.GetGenerateName() != "" {
			m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), n))
		}
		if m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%d", n)))
		}
		if clk != nil {
			m.SetCreationTimestamp(metav1.NewTime(clk.Now()))
		}
		// Not handled: the tracker stores the object as changed here.
		return false, nil, nil
	})
}

// Cache puts objects into the stores of their informers in factory, as
// watch events would, for tests that fill the caches by hand
// (sample-controller's way) instead of starting the informers. An object
// of a type the factory has no informer for fails the test.
func Cache(t testing.TB, factory informers.SharedInformerFactory, objs ...runtime.Object) {
	t.Helper()
	for _, o := range objs {
		gvks, _, err := scheme.Scheme.ObjectKinds(o)
		if err != nil {
			t.Fatalf("cache %T: %v", o, err)
		}
		gvr, _ := meta.UnsafeGuessKindToResource(gvks[0])
		inf, err := factory.ForResource(gvr)
		if err != nil {
			t.Fatalf("cache %T: %v", o, err)
		}
		if err := inf.Informer().GetIndexer().Update(o); err != nil {
			t.Fatalf("cache %T: %v", o, err)
		}
	}
}

// CacheCurrent reports whether lister holds exactly what the fake API's
// tracker holds of resource gvr (objects of kind gvk), each object
// semantically equal to the stored one: the informer has caught up with
// every write so far.
func CacheCurrent[T metav1.Object](client *fake.Clientset, gvr schema.GroupVersionResource, gvk schema.GroupVersionKind,
	lister interface {
		List(labels.Selector) ([]T, error)
	}) bool {
	list, err := client.Tracker().List(gvr, gvk, metav1.NamespaceAll)
	if err != nil {
		return false
	}
	stored, err := meta.ExtractList(list)
	if err != nil {
		return false
	}
	cached, err := lister.List(labels.Everything())
	if err != nil || len(cached) != len(stored) {
		return false
	}
	byKey := make(map[string]T, len(cached))
	for _, o := range cached {
		byKey[o.GetNamespace()+"/"+o.GetName()] = o
	}
	for _, o := range stored {
		m, err := meta.Accessor(o)
		if err != nil {
			return false
		}
		got, ok := byKey[m.GetNamespace()+"/"+m.GetName()]
		if !ok || !apiequality.Semantic.DeepEqual(any(got), o) {
			return false
		}
	}
	return true
}

// Actions are the requests sent through client, as "verb resource[/sub]
// name" ("update deployments/status web"), leaving out the lists and
// watches of informers. The fake records a create before any reactor
// names it, so an object created by generateName shows as that prefix and
// a star ("create pods web-*").
func Actions(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		res := a.GetResource().Resource
		if a.GetSubresource() != "" {
			res += "/" + a.GetSubresource()
		}
		name := ""
		switch a := a.(type) {
		case k8stesting.CreateAction:
			if m, err := meta.Accessor(a.GetObject()); err == nil {
				name = m.GetName()
				if name == "" && m.GetGenerateName() != "" {
					name = m.GetGenerateName() + "*"
				}
			}
		case k8stesting.UpdateAction:
			if m, err := meta.Accessor(a.GetObject()); err == nil {
				name = m.GetName()
			}
		case k8stesting.GetAction:
			name = a.GetName()
		case k8stesting.DeleteAction:
			name = a.GetName()
		case k8stesting.PatchAction:
			name = a.GetName()
		}
		out = append(out, strings.TrimSpace(a.GetVerb()+" "+res+" "+name))
	}
	return out
}

// Events drains the events recorded so far, as the fake recorder prints
// them ("Normal SuccessfulCreate Created pod: web-x").
func Events(rec *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// Eventually polls check until it returns nil, and fails the test with
// check's last error if it has not within a generous limit.
func Eventually(t testing.TB, check func() error) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitFor polls cond until it holds, and fails the test saying what was
// awaited if it has not within a generous limit.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Eventually(t, func() error {
		if cond() {
			return nil
		}
		return errors.New("never reached: " + what)
	})
}
