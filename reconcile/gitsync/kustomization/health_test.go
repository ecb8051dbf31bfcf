package kustomization

import (
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	// Decoded as the dynamic client decodes: integers as int64.
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestStatus(t *testing.T) {
	cases := []struct {
		name string
		y    string
		want Health
	}{
		{"deployment rolled out", `{apiVersion: apps/v1, kind: Deployment, metadata: {generation: 2}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2}}`, Current},
		{"deployment generation not observed", `{apiVersion: apps/v1, kind: Deployment, metadata: {generation: 3}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2}}`, InProgress},
		{"deployment with old replicas left", `{apiVersion: apps/v1, kind: Deployment, metadata: {generation: 2}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2}}`, InProgress},
		{"deployment default one replica unavailable", `{apiVersion: apps/v1, kind: Deployment, metadata: {generation: 1},
			status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1}}`, InProgress},
		{"deployment past its deadline", `{apiVersion: apps/v1, kind: Deployment, metadata: {generation: 1},
			status: {observedGeneration: 1, conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded}]}}`, Failed},
		{"statefulset mid update", `{apiVersion: apps/v1, kind: StatefulSet, metadata: {generation: 1}, spec: {replicas: 1},
			status: {observedGeneration: 1, readyReplicas: 1, updatedReplicas: 1, currentRevision: a, updateRevision: b}}`, InProgress},
		{"statefulset done", `{apiVersion: apps/v1, kind: StatefulSet, metadata: {generation: 1}, spec: {replicas: 1},
			status: {observedGeneration: 1, readyReplicas: 1, updatedReplicas: 1, currentRevision: b, updateRevision: b}}`, Current},
		{"daemonset not available", `{apiVersion: apps/v1, kind: DaemonSet, metadata: {generation: 1},
			status: {observedGeneration: 1, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 1}}`, InProgress},
		{"job complete", `{apiVersion: batch/v1, kind: Job, status: {conditions: [{type: Complete, status: "True"}]}}`, Current},
		{"job running", `{apiVersion: batch/v1, kind: Job, status: {active: 1}}`, InProgress},
		{"job failed", `{apiVersion: batch/v1, kind: Job, status: {conditions: [{type: Failed, status: "True", message: backoff}]}}`, Failed},
		{"pod ready", `{apiVersion: v1, kind: Pod, status: {phase: Running, conditions: [{type: Ready, status: "True"}]}}`, Current},
		{"pod not ready", `{apiVersion: v1, kind: Pod, status: {phase: Running, conditions: [{type: Ready, status: "False"}]}}`, InProgress},
		{"pvc pending", `{apiVersion: v1, kind: PersistentVolumeClaim, status: {phase: Pending}}`, InProgress},
		{"lb without ingress", `{apiVersion: v1, kind: Service, spec: {type: LoadBalancer}}`, InProgress},
		{"cluster ip service", `{apiVersion: v1, kind: Service, spec: {type: ClusterIP}}`, Current},
		{"configmap present", `{apiVersion: v1, kind: ConfigMap}`, Current},
		{"custom resource not ready", `{apiVersion: x.io/v1, kind: Thing, status: {conditions: [{type: Ready, status: "False"}]}}`, InProgress},
	}
	for _, c := range cases {
		if got, why := Status(obj(t, c.y)); got != c.want {
			t.Errorf("%s: %v (%s), want %v", c.name, got, why, c.want)
		}
	}
}

func TestUnsupportedFields(t *testing.T) {
	s := &flux.KustomizationSpec{
		SourceRef:        flux.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "x"},
		PostBuild:        &flux.PostBuild{Substitute: map[string]string{"a": "b"}},
		DependsOn:        []flux.DependencyReference{{Name: "a"}, {Name: "b", ReadyExpr: "true"}},
		HealthCheckExprs: []flux.CustomHealthCheck{{Kind: "Thing"}},
	}
	blocking, reported := UnsupportedFields(s)
	if want := []string{"spec.dependsOn[1].readyExpr", "spec.postBuild"}; !slices.Equal(blocking, want) {
		t.Errorf("blocking %v, want %v", blocking, want)
	}
	if want := []string{"spec.healthCheckExprs"}; !slices.Equal(reported, want) {
		t.Errorf("reported %v, want %v", reported, want)
	}
	s = &flux.KustomizationSpec{SourceRef: flux.CrossNamespaceSourceReference{Kind: "OCIRepository", Name: "x"}}
	if blocking, _ := UnsupportedFields(s); !slices.Equal(blocking, []string{"spec.sourceRef.kind (OCIRepository)"}) {
		t.Errorf("blocking %v", blocking)
	}
	if b, r := UnsupportedFields(&flux.KustomizationSpec{SourceRef: flux.CrossNamespaceSourceReference{Kind: "GitRepository"}}); b != nil || r != nil {
		t.Errorf("plain spec: %v %v", b, r)
	}
}

func TestDriftedIgnoresBookkeeping(t *testing.T) {
	live := obj(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: a, resourceVersion: "5", managedFields: [{manager: x}]}, data: {v: "1"}}`)
	same := obj(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: a, resourceVersion: "5", managedFields: [{manager: kustomize-controller}]}, data: {v: "1"}}`)
	changed := obj(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: a, resourceVersion: "5"}, data: {v: "2"}}`)
	if drifted(live, same) {
		t.Error("managedFields alone counted as drift")
	}
	if !drifted(live, changed) {
		t.Error("changed data not counted as drift")
	}
}

func TestImmutable(t *testing.T) {
	gk := schema.GroupKind{Group: "apps", Kind: "Deployment"}
	imm := apierrors.NewInvalid(gk, "web", field.ErrorList{field.Invalid(field.NewPath("spec", "selector"), "x", "field is immutable")})
	other := apierrors.NewInvalid(gk, "web", field.ErrorList{field.Required(field.NewPath("spec", "template"), "")})
	if !fluxobj.IsImmutableFieldError(imm) || fluxobj.IsImmutableFieldError(other) || fluxobj.IsImmutableFieldError(apierrors.NewConflict(schema.GroupResource{}, "x", nil)) {
		t.Error("immutable misjudged")
	}
}
