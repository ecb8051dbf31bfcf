package apiserver

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
)

// The field manager gives the same managedFields on Skiff's TypeConverter
// (typed objects not validated again) as on apimachinery's, for creates
// and updates of rich objects, duplicate list keys included, for the main
// resource and the status subresource.
func TestTypeConverterMatchesApimachinery(t *testing.T) {
	a := startTestAPI(t)
	s := a.run.Server
	tr := s.fieldTracker()
	tc, err := tr.typeConverter()
	if err != nil {
		t.Fatal(err)
	}
	ours := tc.(*typeConverter)
	upstream, err := managedfields.NewTypeConverter(ours.models, false)
	if err != nil {
		t.Fatal(err)
	}

	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{"note": "x"}, Finalizers: []string{"example.com/keep"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "web", Image: "busybox", Command: []string{"sh", "-c", "sleep 1"},
				Env:   []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "A", Value: "2"}, {Name: "B", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: apiresource.MustParse("100m")},
					Limits: corev1.ResourceList{corev1.ResourceMemory: apiresource.MustParse("64Mi")}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}}},
				VolumeMounts:   []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}},
			}, {Name: "side", Image: "busybox"}},
			Volumes:     []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}},
			Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}},
		},
	}
	podStatus := pod.DeepCopy()
	podStatus.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.5",
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Ready: true, Image: "busybox"}}}
	podChanged := pod.DeepCopy()
	podChanged.Labels["tier"] = "front"
	delete(podChanged.Annotations, "note")
	podChanged.Spec.Containers[0].Image = "busybox:2"
	podChanged.Spec.Containers[0].Env = podChanged.Spec.Containers[0].Env[1:]

	replicas := int32(3)
	deploy := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: pod.Spec}},
	}
	deployScaled := deploy.DeepCopy()
	five := int32(5)
	deployScaled.Spec.Replicas = &five

	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Type: corev1.ServiceTypeNodePort,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}},
	}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"a": "1", "b": "2"},
		BinaryData: map[string][]byte{"bin": {0, 1}}}

	cases := []struct {
		name        string
		subresource string
		old, next   runtime.Object
	}{
		{"create pod", "", emptyLike(pod), pod},
		{"update pod", "", pod, podChanged},
		{"pod status", "status", pod, podStatus},
		{"create deployment", "", emptyLike(deploy), deploy},
		{"scale deployment", "", deploy, deployScaled},
		{"create service", "", emptyLike(svc), svc},
		{"create configmap", "", emptyLike(cm), cm},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gvk := c.next.GetObjectKind().GroupVersionKind()
			typ, ok := s.registry.ByKind(gvk)
			if !ok {
				t.Fatalf("no type %v", gvk)
			}
			res := s.resources[typ]
			fmOurs, err := tr.newFieldManager(ours, res, c.subresource)
			if err != nil {
				t.Fatal(err)
			}
			fmUp, err := tr.newFieldManager(upstream, res, c.subresource)
			if err != nil {
				t.Fatal(err)
			}
			// The update case starts from an object that already has
			// managedFields, written by another manager.
			old := c.old.DeepCopyObject()
			if !unnamed(old) {
				old = fmUp.UpdateNoErrors(emptyLike(old), old, "creator")
			}
			got, err := fmOurs.Update(old.DeepCopyObject(), c.next.DeepCopyObject(), "editor")
			if err != nil {
				t.Fatalf("ours: %v", err)
			}
			want, err := fmUp.Update(old.DeepCopyObject(), c.next.DeepCopyObject(), "editor")
			if err != nil {
				t.Fatalf("apimachinery: %v", err)
			}
			g, w := managedWithoutTimes(t, got), managedWithoutTimes(t, want)
			if len(w) == 0 {
				t.Fatal("apimachinery recorded no managedFields: the case tests nothing")
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("managedFields differ\nours:         %+v\napimachinery: %+v", g, w)
			}
		})
	}

	// Unstructured objects (server-side apply's patches) are still
	// validated: a field the schema does not know is an error.
	bad := &unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]interface{}{"name": "x"}, "dataa": map[string]interface{}{"k": "v"}}}
	if _, err := ours.ObjectToTyped(bad); err == nil {
		t.Fatal("an unstructured object with an unknown field converted without error")
	}
	// A kind the definitions do not describe gets apimachinery's answer.
	other := &unstructured.Unstructured{}
	other.SetGroupVersionKind(schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Nothing"})
	_, errOurs := ours.ObjectToTyped(other)
	_, errUp := upstream.ObjectToTyped(other)
	if errOurs == nil || errUp == nil || errOurs.Error() != errUp.Error() {
		t.Fatalf("unknown kind: ours %v, apimachinery %v", errOurs, errUp)
	}
}

// emptyLike is a new object of obj's kind with only its kind set: the
// live object of a create.
func emptyLike(obj runtime.Object) runtime.Object {
	out := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
	out.GetObjectKind().SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	return out
}

// unnamed reports whether obj has no name: a create's live object.
func unnamed(obj runtime.Object) bool {
	m, err := meta.Accessor(obj)
	return err == nil && m.GetName() == ""
}

func managedWithoutTimes(t *testing.T, obj runtime.Object) []metav1.ManagedFieldsEntry {
	t.Helper()
	m, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]metav1.ManagedFieldsEntry(nil), m.GetManagedFields()...)
	for i := range out {
		out[i].Time = nil
	}
	return out
}
