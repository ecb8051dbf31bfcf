package tables

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// emptyObjects has one zero object of every kind with a printer.
func emptyObjects() map[schema.GroupVersionKind]runtime.Object {
	core, apps := corev1.SchemeGroupVersion, appsv1.SchemeGroupVersion
	return map[schema.GroupVersionKind]runtime.Object{
		core.WithKind("Pod"):                                     &corev1.Pod{},
		core.WithKind("Namespace"):                               &corev1.Namespace{},
		core.WithKind("Service"):                                 &corev1.Service{},
		core.WithKind("Endpoints"):                               &corev1.Endpoints{},
		core.WithKind("ConfigMap"):                               &corev1.ConfigMap{},
		core.WithKind("Secret"):                                  &corev1.Secret{},
		core.WithKind("ServiceAccount"):                          &corev1.ServiceAccount{},
		core.WithKind("Node"):                                    &corev1.Node{},
		core.WithKind("Event"):                                   &corev1.Event{},
		eventsv1.SchemeGroupVersion.WithKind("Event"):            &eventsv1.Event{},
		apps.WithKind("Deployment"):                              &appsv1.Deployment{},
		apps.WithKind("ReplicaSet"):                              &appsv1.ReplicaSet{},
		apps.WithKind("StatefulSet"):                             &appsv1.StatefulSet{},
		apps.WithKind("DaemonSet"):                               &appsv1.DaemonSet{},
		apps.WithKind("ControllerRevision"):                      &appsv1.ControllerRevision{},
		batchv1.SchemeGroupVersion.WithKind("Job"):               &batchv1.Job{},
		batchv1.SchemeGroupVersion.WithKind("CronJob"):           &batchv1.CronJob{},
		discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"): &discoveryv1.EndpointSlice{},
		coordinationv1.SchemeGroupVersion.WithKind("Lease"):      &coordinationv1.Lease{},
		networkingv1.SchemeGroupVersion.WithKind("Ingress"):      &networkingv1.Ingress{},
	}
}

// header renders the column names as kubectl titles them, priority-1
// columns in brackets.
func header(cols []metav1.TableColumnDefinition) string {
	var names []string
	for _, c := range cols {
		n := strings.ToUpper(c.Name)
		if c.Priority != 0 {
			n = "[" + n + "]"
		}
		names = append(names, n)
	}
	return strings.Join(names, " ")
}

func TestColumns(t *testing.T) {
	core, apps, batch := corev1.SchemeGroupVersion, appsv1.SchemeGroupVersion, batchv1.SchemeGroupVersion
	events := "LAST SEEN TYPE REASON OBJECT [SUBOBJECT] [SOURCE] MESSAGE [FIRST SEEN] [COUNT] [NAME]"
	want := map[schema.GroupVersionKind]string{
		core.WithKind("Pod"):                                     "NAME READY STATUS RESTARTS AGE [IP] [NODE] [NOMINATED NODE] [READINESS GATES]",
		core.WithKind("Namespace"):                               "NAME STATUS AGE",
		core.WithKind("Service"):                                 "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE [SELECTOR]",
		core.WithKind("Endpoints"):                               "NAME ENDPOINTS AGE",
		core.WithKind("ConfigMap"):                               "NAME DATA AGE",
		core.WithKind("Secret"):                                  "NAME TYPE DATA AGE",
		core.WithKind("ServiceAccount"):                          "NAME SECRETS AGE",
		core.WithKind("Node"):                                    "NAME STATUS ROLES AGE VERSION [INTERNAL-IP] [EXTERNAL-IP] [OS-IMAGE] [KERNEL-VERSION] [CONTAINER-RUNTIME]",
		core.WithKind("Event"):                                   events,
		eventsv1.SchemeGroupVersion.WithKind("Event"):            events,
		apps.WithKind("Deployment"):                              "NAME READY UP-TO-DATE AVAILABLE AGE [CONTAINERS] [IMAGES] [SELECTOR]",
		apps.WithKind("ReplicaSet"):                              "NAME DESIRED CURRENT READY AGE [CONTAINERS] [IMAGES] [SELECTOR]",
		apps.WithKind("StatefulSet"):                             "NAME READY AGE [CONTAINERS] [IMAGES]",
		apps.WithKind("DaemonSet"):                               "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE [CONTAINERS] [IMAGES] [SELECTOR]",
		apps.WithKind("ControllerRevision"):                      "NAME CONTROLLER REVISION AGE",
		batch.WithKind("Job"):                                    "NAME STATUS COMPLETIONS DURATION AGE [CONTAINERS] [IMAGES] [SELECTOR]",
		batch.WithKind("CronJob"):                                "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE [CONTAINERS] [IMAGES] [SELECTOR]",
		discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"): "NAME ADDRESSTYPE PORTS ENDPOINTS AGE",
		coordinationv1.SchemeGroupVersion.WithKind("Lease"):      "NAME HOLDER AGE",
		networkingv1.SchemeGroupVersion.WithKind("Ingress"):      "NAME CLASS HOSTS ADDRESS PORTS AGE",
	}
	if len(want) != len(builtin()) {
		t.Fatalf("%d kinds have printers, %d are checked here", len(builtin()), len(want))
	}
	for gvk, w := range want {
		if got := header(For(gvk).Columns); got != w {
			t.Errorf("%s:\n got %s\nwant %s", gvk, got, w)
		}
	}
}

// TestColumnDefinitions checks what kubectl relies on in every printer: one
// string column of format "name" (kubectl --show-kind prefixes it), known
// types, a description on every column, and a Row with a cell per column,
// each a string or an int64, that survives JSON.
func TestColumnDefinitions(t *testing.T) {
	types := map[string]bool{"string": true, "integer": true, "boolean": true, "date": true}
	for gvk, obj := range emptyObjects() {
		p := For(gvk)
		names := 0
		for _, c := range p.Columns {
			if c.Format == "name" {
				names++
				if c.Type != "string" {
					t.Errorf("%s: name column %q has type %q", gvk, c.Name, c.Type)
				}
			}
			if !types[c.Type] {
				t.Errorf("%s: column %q has type %q", gvk, c.Name, c.Type)
			}
			if c.Description == "" {
				t.Errorf("%s: column %q has no description", gvk, c.Name)
			}
		}
		if names != 1 {
			t.Errorf("%s: %d columns of format name", gvk, names)
		}

		cells, err := p.Row(obj, now)
		if err != nil {
			t.Errorf("%s: Row of a zero object: %v", gvk, err)
			continue
		}
		if len(cells) != len(p.Columns) {
			t.Errorf("%s: %d cells for %d columns", gvk, len(cells), len(p.Columns))
		}
		for i, c := range cells {
			switch c.(type) {
			case string, int64:
			default:
				t.Errorf("%s: cell %d is a %T", gvk, i, c)
			}
		}
		if _, err := json.Marshal(cells); err != nil {
			t.Errorf("%s: cells do not marshal: %v", gvk, err)
		}
	}
}

// TestDescriptions pins a few descriptions to the Kubernetes types they come
// from, including those Kubernetes takes from older API versions.
func TestDescriptions(t *testing.T) {
	describe := func(gvk schema.GroupVersionKind, column string) string {
		for _, c := range For(gvk).Columns {
			if c.Name == column {
				return c.Description
			}
		}
		t.Fatalf("%s has no column %q", gvk, column)
		return ""
	}
	for _, tc := range []struct {
		gvk    schema.GroupVersionKind
		column string
		want   string
	}{
		{corev1.SchemeGroupVersion.WithKind("Pod"), "Name", metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{corev1.SchemeGroupVersion.WithKind("Pod"), "Age", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
		{corev1.SchemeGroupVersion.WithKind("Pod"), "Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
		{corev1.SchemeGroupVersion.WithKind("Pod"), "Readiness Gates", corev1.PodSpec{}.SwaggerDoc()["readinessGates"]},
		{corev1.SchemeGroupVersion.WithKind("Event"), "Subobject", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]},
		{batchv1.SchemeGroupVersion.WithKind("Job"), "Duration", "Time required to complete the job."},
		{appsv1.SchemeGroupVersion.WithKind("StatefulSet"), "Ready", "Number of the pod with ready state"},
		{networkingv1.SchemeGroupVersion.WithKind("Ingress"), "Ports", "Ports of TLS configurations that open"},
		{appsv1.SchemeGroupVersion.WithKind("Deployment"), "Up-to-date", extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]},
		{appsv1.SchemeGroupVersion.WithKind("ControllerRevision"), "Revision", appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]},
		{batchv1.SchemeGroupVersion.WithKind("CronJob"), "Timezone", batchv1beta1.CronJobSpec{}.SwaggerDoc()["timeZone"]},
	} {
		if got := describe(tc.gvk, tc.column); got != tc.want {
			t.Errorf("%s %s: got %q, want %q", tc.gvk.Kind, tc.column, got, tc.want)
		}
	}
}

func TestGenericFallback(t *testing.T) {
	created := metav1.NewTime(time.Date(2025, 5, 30, 8, 15, 0, 0, time.FixedZone("CEST", 2*3600)))
	for _, tc := range []struct {
		name string
		gvk  schema.GroupVersionKind
		obj  runtime.Object
		want []interface{}
	}{
		{"scale has no printer of its own", autoscalingv1.SchemeGroupVersion.WithKind("Scale"),
			&autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: created}, Spec: autoscalingv1.ScaleSpec{Replicas: 3}},
			[]interface{}{"web", "2025-05-30T06:15:00Z"}},
		{"a kind Skiff does not print", rbacv1.SchemeGroupVersion.WithKind("Role"),
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", CreationTimestamp: created}},
			[]interface{}{"reader", "2025-05-30T06:15:00Z"}},
		{"a custom resource, unstructured", schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"},
			&unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
				"metadata": map[string]interface{}{"name": "app", "creationTimestamp": "2025-05-30T06:15:00Z"}}},
			[]interface{}{"app", "2025-05-30T06:15:00Z"}},
		{"a printed kind's other version", appsv1.SchemeGroupVersion.WithKind("Deployment").GroupKind().WithVersion("v1beta2"),
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}},
			[]interface{}{"web", "0001-01-01T00:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := For(tc.gvk)
			if got := header(p.Columns); got != "NAME CREATED AT" {
				t.Fatalf("columns %s", got)
			}
			if p.Columns[1].Type != "date" || p.Columns[0].Format != "name" {
				t.Fatalf("columns %#v", p.Columns)
			}
			got, err := p.Row(tc.obj, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	if _, err := generic().Row(&metav1.Status{}, now); err == nil {
		t.Fatal("generic printer printed an object without metadata")
	}
}

// TestRowAcceptsUnstructured checks that an object handed over as
// unstructured content prints as its typed form does.
func TestRowAcceptsUnstructured(t *testing.T) {
	p := pod("web-1", time.Hour, "nginx")
	p.Spec.NodeName = "skiff-node-1"
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.3",
		ContainerStatuses: []corev1.ContainerStatus{lastDied(running("nginx", 2), 3*time.Minute)}}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	if err != nil {
		t.Fatal(err)
	}
	printer := For(corev1.SchemeGroupVersion.WithKind("Pod"))
	typed, err := printer.Row(p, now)
	if err != nil {
		t.Fatal(err)
	}
	fromUnstructured, err := printer.Row(&unstructured.Unstructured{Object: content}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(typed, fromUnstructured) {
		t.Fatalf("typed %#v\nunstructured %#v", typed, fromUnstructured)
	}
	if typed[3] != "2 (3m ago)" {
		t.Fatalf("restarts %#v", typed[3])
	}
}

func TestRowRejectsOtherKinds(t *testing.T) {
	printer := For(corev1.SchemeGroupVersion.WithKind("Pod"))
	if _, err := printer.Row(&corev1.Service{}, now); err == nil || !strings.Contains(err.Error(), "*v1.Service") {
		t.Fatalf("printing a Service as a Pod: err %v", err)
	}
	if _, err := printer.Row((*corev1.Pod)(nil), now); err == nil {
		t.Fatal("printing a nil Pod did not fail")
	}
	bad := &unstructured.Unstructured{Object: map[string]interface{}{"spec": map[string]interface{}{"containers": "not a list"}}}
	if _, err := printer.Row(bad, now); err == nil {
		t.Fatal("printing malformed unstructured content did not fail")
	}
}
