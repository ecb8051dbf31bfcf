package tables

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func template(containers ...string) corev1.PodTemplateSpec {
	var t corev1.PodTemplateSpec
	for _, c := range containers {
		t.Spec.Containers = append(t.Spec.Containers, corev1.Container{Name: c, Image: "registry.local/" + c + ":1.2"})
	}
	return t
}

func selector(kv ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.MatchLabels[kv[i]] = kv[i+1]
	}
	return s
}

func TestDeploymentCells(t *testing.T) {
	// Three replicas, midway through a rolling update: one new pod is up,
	// two old ones still serve.
	rolling := &appsv1.Deployment{
		ObjectMeta: objectMeta("web", 26*time.Hour),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(3)),
			Selector: selector("app", "web"),
			Template: template("nginx", "log-shipper"),
		},
		Status: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 2, UnavailableReplicas: 2},
	}
	scaledDown := &appsv1.Deployment{
		ObjectMeta: objectMeta("batch", time.Hour),
		Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(0)), Selector: selector(), Template: template("worker")},
	}
	expressions := &appsv1.Deployment{
		ObjectMeta: objectMeta("canary", time.Hour),
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"app": "web"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "track", Operator: metav1.LabelSelectorOpIn, Values: []string{"canary", "stable"}}},
			},
			Template: template("nginx"),
		},
		Status: appsv1.DeploymentStatus{ReadyReplicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1},
	}
	invalid := &appsv1.Deployment{
		ObjectMeta: objectMeta("broken", time.Hour),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}},
			Template: template("app"),
		},
	}
	checkCells(t, appsv1.SchemeGroupVersion.WithKind("Deployment"), []cellCase{
		{"mid rollout", rolling, []interface{}{"web", "3/3", int64(1), int64(2), "26h", "nginx,log-shipper", "registry.local/nginx:1.2,registry.local/log-shipper:1.2", "app=web"}},
		{"scaled to zero, empty selector", scaledDown, []interface{}{"batch", "0/0", int64(0), int64(0), "60m", "worker", "registry.local/worker:1.2", ""}},
		{"replicas defaulted, set-based selector", expressions, []interface{}{"canary", "1/1", int64(1), int64(1), "60m", "nginx", "registry.local/nginx:1.2", "app=web,track in (canary,stable)"}},
		{"invalid selector", invalid, []interface{}{"broken", "0/1", int64(0), int64(0), "60m", "app", "registry.local/app:1.2", "<invalid>"}},
	})
}

func TestReplicaSetCells(t *testing.T) {
	checkCells(t, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), []cellCase{
		{"new replica set of a rollout", &appsv1.ReplicaSet{
			ObjectMeta: objectMeta("web-7d4b9c8f5", 4*time.Minute),
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(2)), Selector: selector("app", "web", "pod-template-hash", "7d4b9c8f5"), Template: template("nginx")},
			Status:     appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 1},
		}, []interface{}{"web-7d4b9c8f5", int64(2), int64(2), int64(1), "4m", "nginx", "registry.local/nginx:1.2", "app=web,pod-template-hash=7d4b9c8f5"}},
		{"old, scaled down", &appsv1.ReplicaSet{
			ObjectMeta: objectMeta("web-5c6d7e8f9", 26*time.Hour),
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(0)), Template: template("nginx")},
		}, []interface{}{"web-5c6d7e8f9", int64(0), int64(0), int64(0), "26h", "nginx", "registry.local/nginx:1.2", "<none>"}},
	})
}

func TestStatefulSetCells(t *testing.T) {
	checkCells(t, appsv1.SchemeGroupVersion.WithKind("StatefulSet"), []cellCase{
		{"scaling up", &appsv1.StatefulSet{
			ObjectMeta: objectMeta("db", 3*time.Minute),
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Template: template("postgres", "exporter")},
			Status:     appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1},
		}, []interface{}{"db", "1/3", "3m", "postgres,exporter", "registry.local/postgres:1.2,registry.local/exporter:1.2"}},
	})
}

func TestDaemonSetCells(t *testing.T) {
	ds := &appsv1.DaemonSet{
		ObjectMeta: objectMeta("node-exporter", 10*24*time.Hour),
		Spec: appsv1.DaemonSetSpec{
			Selector: selector("app", "node-exporter"),
			Template: template("exporter"),
		},
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 1, NumberAvailable: 2},
	}
	pinned := ds.DeepCopy()
	pinned.Name = "gpu-plugin"
	pinned.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux", "gpu": "true"}
	checkCells(t, appsv1.SchemeGroupVersion.WithKind("DaemonSet"), []cellCase{
		{"rolling out", ds, []interface{}{"node-exporter", int64(3), int64(3), int64(2), int64(1), int64(2), "<none>", "10d", "exporter", "registry.local/exporter:1.2", "app=node-exporter"}},
		{"node selector", pinned, []interface{}{"gpu-plugin", int64(3), int64(3), int64(2), int64(1), int64(2), "gpu=true,kubernetes.io/os=linux", "10d", "exporter", "registry.local/exporter:1.2", "app=node-exporter"}},
	})
}

func TestControllerRevisionCells(t *testing.T) {
	owned := &appsv1.ControllerRevision{
		ObjectMeta: objectMeta("db-6b7c8d9f4", time.Hour),
		Revision:   3,
	}
	owned.OwnerReferences = []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "not-the-controller"},
		{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: ptr(true)},
	}
	coreOwned := &appsv1.ControllerRevision{ObjectMeta: objectMeta("core-owned", time.Hour), Revision: 1}
	coreOwned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", Controller: ptr(true)}}
	orphan := &appsv1.ControllerRevision{ObjectMeta: objectMeta("orphan", time.Hour), Revision: 1}
	checkCells(t, appsv1.SchemeGroupVersion.WithKind("ControllerRevision"), []cellCase{
		{"owned by a statefulset", owned, []interface{}{"db-6b7c8d9f4", "statefulset.apps/db", int64(3), "60m"}},
		{"core group owner", coreOwned, []interface{}{"core-owned", "pod/p", int64(1), "60m"}},
		{"orphan", orphan, []interface{}{"orphan", "<none>", int64(1), "60m"}},
	})

	bad := owned.DeepCopy()
	bad.OwnerReferences[1].APIVersion = "apps/v1/extra"
	if _, err := For(appsv1.SchemeGroupVersion.WithKind("ControllerRevision")).Row(bad, now); err == nil {
		t.Fatal("a controller with an unparsable apiVersion printed without error")
	}
}
