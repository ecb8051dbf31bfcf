package kustomization

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

// These tests cover the decisions taken before anything is applied
// (they need no server-side apply, which the fake client lacks); apply,
// prune and health against a real API server are in e2e/gitsync_test.go.

type env struct {
	t   *testing.T
	c   *Controller
	dyn *dynamicfake.FakeDynamicClient
}

func newEnv(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	var raw []runtime.Object
	for _, o := range objs {
		u, err := fluxobj.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, u)
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		fluxobj.GitRepositories: "GitRepositoryList", fluxobj.Kustomizations: "KustomizationList"}, raw...)
	d := manager.NewDeps(fake.NewClientset(), nil, nil, nil, 0)
	d.Dynamic = dyn
	d.DynamicInformers = dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	c, err := New(d, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d.DynamicInformers.Start(ctx.Done())
	d.DynamicInformers.WaitForCacheSync(ctx.Done())
	return &env{t: t, c: c, dyn: dyn}
}

func (e *env) reconcile(name string) *flux.Kustomization {
	e.t.Helper()
	e.sync(name)
	if err := e.c.Reconcile(context.Background(), "default/"+name); err != nil {
		e.t.Fatal(err)
	}
	u, err := e.dyn.Resource(fluxobj.Kustomizations).Namespace("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	k, err := fluxobj.FromUnstructured[flux.Kustomization](u)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// sync waits until the informer holds what the fake client has.
func (e *env) sync(name string) {
	e.t.Helper()
	want, err := e.dyn.Resource(fluxobj.Kustomizations).Namespace("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got, ok, _ := e.c.kustomize.GetIndexer().GetByKey("default/" + name)
		if ok && want != nil && equality.Semantic.DeepEqual(got.(*unstructured.Unstructured).Object, want.Object) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("informer did not catch up with %s", name)
}

func ks(name string, mod func(*flux.KustomizationSpec)) *flux.Kustomization {
	k := &flux.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Generation: 1},
		Spec: flux.KustomizationSpec{
			SourceRef: flux.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "src"},
			Interval:  flux.Duration{Duration: time.Minute}, Prune: true,
		},
	}
	k.SetGroupVersionKind(flux.KustomizationKind)
	if mod != nil {
		mod(&k.Spec)
	}
	return k
}

func ready(t *testing.T, k *flux.Kustomization) metav1.Condition {
	t.Helper()
	c := fluxobj.FindCondition(k.Status.Conditions, fluxobj.ReadyCondition)
	if c == nil {
		t.Fatalf("no Ready condition: %+v", k.Status.Conditions)
	}
	return *c
}

func TestMissingSourceIsArtifactFailed(t *testing.T) {
	e := newEnv(t, ks("app", nil))
	k := e.reconcile("app")
	r := ready(t, k)
	if r.Status != metav1.ConditionFalse || r.Reason != fluxobj.ArtifactFailedReason || r.Message != "Source 'GitRepository/default/src' not found" {
		t.Errorf("Ready = %+v", r)
	}
	if c := fluxobj.FindCondition(k.Status.Conditions, fluxobj.ReconcilingCondition); c == nil || c.Reason != fluxobj.ProgressingWithRetryReason {
		t.Errorf("Reconciling = %+v", c)
	}
	if !slices.Contains(k.Finalizers, Finalizer) {
		t.Errorf("finalizer not added: %v", k.Finalizers)
	}
	if k.Status.ObservedGeneration != 1 {
		t.Errorf("observedGeneration %d", k.Status.ObservedGeneration)
	}
}

func TestSourceWithoutArtifact(t *testing.T) {
	src := &flux.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "src"}}
	src.SetGroupVersionKind(flux.GitRepositoryKind)
	e := newEnv(t, src, ks("app", nil))
	if r := ready(t, e.reconcile("app")); r.Reason != fluxobj.ArtifactFailedReason || !strings.Contains(r.Message, "artifact not found") {
		t.Errorf("Ready = %+v", r)
	}
}

func TestDependencyNotReady(t *testing.T) {
	dep := ks("base", nil)
	dep.Status.ObservedGeneration = 1
	dep.Status.Conditions = []metav1.Condition{{Type: fluxobj.ReadyCondition, Status: metav1.ConditionFalse, Reason: "BuildFailed"}}
	e := newEnv(t, dep, ks("app", func(s *flux.KustomizationSpec) {
		s.DependsOn = []flux.DependencyReference{{Name: "base"}}
	}))
	r := ready(t, e.reconcile("app"))
	if r.Status != metav1.ConditionFalse || r.Reason != fluxobj.DependencyNotReadyReason || !strings.Contains(r.Message, "dependency 'default/base' is not ready") {
		t.Errorf("Ready = %+v", r)
	}
	// The dependents index finds it from its dependency.
	objs, err := e.c.kustomize.GetIndexer().ByIndex(byDependsOn, "default/base")
	if err != nil || len(objs) != 1 {
		t.Errorf("dependents of default/base: %d %v", len(objs), err)
	}
}

func TestBlockingUnsupportedFieldStopsEverything(t *testing.T) {
	e := newEnv(t, ks("app", func(s *flux.KustomizationSpec) {
		s.Decryption = &flux.Decryption{Provider: "sops"}
		s.HealthCheckExprs = []flux.CustomHealthCheck{{Kind: "Thing"}}
	}))
	k := e.reconcile("app")
	r := ready(t, k)
	if r.Status != metav1.ConditionFalse || r.Reason != fluxobj.NotSupportedReason || !strings.Contains(r.Message, "spec.decryption") {
		t.Errorf("Ready = %+v", r)
	}
	ns := fluxobj.FindCondition(k.Status.Conditions, fluxobj.NotSupportedCondition)
	if ns == nil || ns.Message != "fields not supported by Skiff: spec.decryption, spec.healthCheckExprs" {
		t.Errorf("NotSupported = %+v", ns)
	}
	if st := fluxobj.FindCondition(k.Status.Conditions, fluxobj.StalledCondition); st == nil || st.Status != metav1.ConditionTrue {
		t.Errorf("Stalled = %+v", st)
	}
}

func TestSuspendedIsLeftAlone(t *testing.T) {
	e := newEnv(t, ks("app", func(s *flux.KustomizationSpec) { s.Suspend = true }))
	if k := e.reconcile("app"); len(k.Status.Conditions) != 0 {
		t.Errorf("suspended Kustomization got conditions %+v", k.Status.Conditions)
	}
}
