package servicelb

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/manager"
)

func node(name, ip string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}},
		},
	}
}

func lbService(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}},
	}
}

func TestIngress(t *testing.T) {
	cases := []struct {
		name  string
		nodes []*corev1.Node
		want  []string
	}{
		{"none", nil, nil},
		{"ready nodes, sorted as addresses", []*corev1.Node{node("a", "10.0.0.10", corev1.ConditionTrue), node("b", "10.0.0.9", corev1.ConditionTrue)}, []string{"10.0.0.9", "10.0.0.10"}},
		{"not ready and unknown left out", []*corev1.Node{node("a", "10.0.0.1", corev1.ConditionFalse), node("b", "10.0.0.2", corev1.ConditionUnknown), node("c", "10.0.0.3", corev1.ConditionTrue)}, []string{"10.0.0.3"}},
		{"nodes sharing a host share an entry", []*corev1.Node{node("a", "127.0.0.1", corev1.ConditionTrue), node("b", "127.0.0.1", corev1.ConditionTrue)}, []string{"127.0.0.1"}},
		{"no InternalIP, no entry", []*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}}, nil},
	}
	for _, c := range cases {
		got := Ingress(c.nodes)
		var ips []string
		for _, in := range got {
			if in.IPMode == nil || *in.IPMode != corev1.LoadBalancerIPModeVIP {
				t.Errorf("%s: ipMode %v", c.name, in.IPMode)
			}
			ips = append(ips, in.IP)
		}
		if !slices.Equal(ips, c.want) {
			t.Errorf("%s: %v, want %v", c.name, ips, c.want)
		}
	}
}

func start(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	cs := fake.NewClientset(objs...)
	d := manager.NewDeps(cs, nil, slog.New(slog.NewTextHandler(t.Output(), nil)), nil, 0)
	c, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Informers.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		d.Informers.Shutdown()
	})
	return cs
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ingressOf(cs *fake.Clientset, name string) func() ([]string, error) {
	return func() ([]string, error) {
		svc, err := cs.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		var ips []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			ips = append(ips, in.IP)
		}
		return ips, nil
	}
}

func hasIngress(cs *fake.Clientset, name string, want ...string) func() error {
	return func() error {
		got, err := ingressOf(cs, name)()
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s: ingress %v, want %v", name, got, want)
		}
		return nil
	}
}

func statusUpdates(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		if u, ok := a.(k8stesting.UpdateAction); ok && a.GetSubresource() == "status" && a.GetResource().Resource == "services" {
			out = append(out, u.GetObject().(*corev1.Service).Name)
		}
	}
	return out
}

func TestController(t *testing.T) {
	classed := lbService("classed")
	classed.Spec.LoadBalancerClass = ptr.To("example.com/lb")
	plain := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "plain"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{{Port: 80}}}}
	cs := start(t,
		node("n1", "10.0.0.1", corev1.ConditionTrue),
		node("n2", "10.0.0.2", corev1.ConditionFalse),
		lbService("web"), classed, plain,
	)
	ctx := context.Background()
	eventually(t, hasIngress(cs, "web", "10.0.0.1"))

	// A node turning Ready joins; one going away leaves.
	n2 := node("n2", "10.0.0.2", corev1.ConditionTrue)
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, hasIngress(cs, "web", "10.0.0.1", "10.0.0.2"))
	if err := cs.CoreV1().Nodes().Delete(ctx, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, hasIngress(cs, "web", "10.0.0.2"))

	// A LoadBalancer created later gets it too.
	if _, err := cs.CoreV1().Services("default").Create(ctx, lbService("late"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, hasIngress(cs, "late", "10.0.0.2"))

	// A heartbeat (nothing this controller reads changed) writes nothing.
	before := len(statusUpdates(cs))
	n2 = n2.DeepCopy()
	n2.Status.Conditions[0].LastHeartbeatTime = metav1.Now()
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if after := statusUpdates(cs); len(after) != before {
		t.Fatalf("status written again after a heartbeat: %v", after)
	}
	// Other classes and types were never touched.
	for _, name := range statusUpdates(cs) {
		if name == "classed" || name == "plain" {
			t.Fatalf("wrote the status of %s", name)
		}
	}
	// No Ready node: no ingress (pending).
	n2.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, hasIngress(cs, "web"))
}
