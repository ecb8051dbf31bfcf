package servicepods

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func TestFindPort(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
		{Name: "http", ContainerPort: 8080}, // protocol left empty: TCP
		{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
	}}}}}
	for _, tc := range []struct {
		name string
		sp   corev1.ServicePort
		want int32
		err  error
	}{
		{"number", corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9000)}, 9000, nil},
		{"no targetPort means the service port", corev1.ServicePort{Port: 80}, 80, nil},
		{"name", corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}, 8080, nil},
		{"name with its protocol", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}, 5353, nil},
		{"name under another protocol", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns")}, 0, ErrNoPort},
		{"unknown name", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("grpc")}, 0, ErrNoPort},
	} {
		got, err := FindPort(pod, &tc.sp)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: got %d, %v; want %d, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestServicesForUpdate(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, s := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "all-v1"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"v": "1"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "manual"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}},
	} {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	lister := corelisters.NewServiceLister(idx)
	base := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", ResourceVersion: "1", Labels: map[string]string{"app": "web", "v": "1"}},
		Status:     corev1.PodStatus{PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	change := func(f func(*corev1.Pod)) *corev1.Pod {
		p := base.DeepCopy()
		p.ResourceVersion = "2"
		f(p)
		return p
	}
	for _, tc := range []struct {
		name string
		cur  *corev1.Pod
		want []string
	}{
		{"resync", base.DeepCopy(), nil},
		{"annotation only", change(func(p *corev1.Pod) { p.Annotations = map[string]string{"x": "y"} }), nil},
		{"readiness", change(func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }), []string{"ns/all-v1", "ns/web"}},
		{"deletion", change(func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.Now()) }), []string{"ns/all-v1", "ns/web"}},
		{"address", change(func(p *corev1.Pod) { p.Status.PodIP = "10.0.0.2" }), []string{"ns/all-v1", "ns/web"}},
		{"left one service", change(func(p *corev1.Pod) { p.Labels = map[string]string{"v": "1"} }), []string{"ns/web"}},
		{"left one, endpoint changed too", change(func(p *corev1.Pod) {
			p.Labels = map[string]string{"v": "1"}
			p.Status.PodIP = "10.0.0.2"
		}), []string{"ns/all-v1", "ns/web"}},
		{"hostname", change(func(p *corev1.Pod) { p.Spec.Hostname = "h" }), []string{"ns/all-v1", "ns/web"}},
	} {
		got, err := ServicesForUpdate(lister, base, tc.cur)
		if err != nil {
			t.Fatal(err)
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, keys, tc.want)
		}
	}
}

func TestTriggerTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", CreationTimestamp: metav1.NewTime(t0)}}
	readyAt := func(name string, at time.Time) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)}}}}
	}
	tt := NewTriggerTimes()
	if got := tt.Compute(svc, []*corev1.Pod{readyAt("a", t0.Add(time.Minute))}); !got.Equal(t0) {
		t.Fatalf("first sync: %v, want the service's creation", got)
	}
	if got := tt.Compute(svc, []*corev1.Pod{readyAt("a", t0.Add(time.Minute))}); !got.IsZero() {
		t.Fatalf("nothing changed: %v", got)
	}
	got := tt.Compute(svc, []*corev1.Pod{readyAt("a", t0.Add(3*time.Minute)), readyAt("b", t0.Add(2*time.Minute))})
	if !got.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("two changes: %v, want the earlier", got)
	}
	tt.Forget("ns", "web")
	if got := tt.Compute(svc, nil); !got.Equal(t0) {
		t.Fatalf("after Forget: %v", got)
	}
}
