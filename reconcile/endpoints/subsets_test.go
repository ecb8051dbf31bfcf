package endpoints

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func service(name string, mod ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"team": "a"}},
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{"app": name},
			ClusterIP: "10.96.0.10",
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")}},
		},
	}
	for _, m := range mod {
		m(s)
	}
	return s
}

type podState int

const (
	ready podState = iota
	notReady
	terminating
)

func pod(name, app, ip string, st podState, mod ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			NodeName:   "node-a",
			Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	switch st {
	case notReady:
		p.Status.Conditions[0].Status = corev1.ConditionFalse
	case terminating:
		p.DeletionTimestamp = ptr.To(metav1.Now())
	}
	for _, m := range mod {
		m(p)
	}
	return p
}

func webPort(n int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "web", ContainerPort: n, Protocol: corev1.ProtocolTCP}}
	}
}

// render prints subsets compactly: "[ports] ready=... notReady=...".
func render(ss []corev1.EndpointSubset) string {
	var out []string
	for _, s := range ss {
		var ports, r, nr []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
		}
		for _, a := range s.Addresses {
			r = append(r, a.TargetRef.Name)
		}
		for _, a := range s.NotReadyAddresses {
			nr = append(nr, a.TargetRef.Name)
		}
		out = append(out, fmt.Sprintf("[%s] ready=%s notReady=%s", strings.Join(ports, ","), strings.Join(r, ","), strings.Join(nr, ",")))
	}
	return strings.Join(out, "; ")
}

func TestDesiredSubsets(t *testing.T) {
	mixed := []*corev1.Pod{
		pod("a", "web", "10.1.0.1", ready),
		pod("b", "web", "10.1.0.2", notReady),
		pod("c", "web", "10.1.0.3", terminating),
		pod("d", "web", "", ready),
		pod("e", "web", "10.1.0.5", ready, func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
	}
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want string
	}{
		{"ready and not ready; terminating, unaddressed and finished pods left out", service("web"), mixed,
			"[http:8080] ready=a notReady=b"},
		{"publishNotReadyAddresses publishes all as ready", service("web", func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }), mixed,
			"[http:8080] ready=a,b,c notReady="},
		{"a named port resolving to different numbers splits subsets", service("web"), []*corev1.Pod{
			pod("a", "web", "10.1.0.1", ready, webPort(8080)),
			pod("b", "web", "10.1.0.2", notReady, webPort(8080)),
			pod("c", "web", "10.1.0.3", ready, webPort(9090)),
		}, "[http:8080] ready=a notReady=b; [http:9090] ready=c notReady="},
		{"ports served by the same addresses share a subset", service("web", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 9100, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9100)})
		}), []*corev1.Pod{pod("a", "web", "10.1.0.1", ready), pod("b", "web", "10.1.0.2", ready)},
			"[http:8080,metrics:9100] ready=a,b notReady="},
		{"a headless service without ports still lists addresses", service("web", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.Ports = corev1.ClusterIPNone, nil
		}), []*corev1.Pod{pod("a", "web", "10.1.0.1", ready), pod("b", "web", "10.1.0.2", notReady)},
			"[] ready=a notReady=b"},
		{"a service with a cluster IP and no ports has none", service("web", func(s *corev1.Service) { s.Spec.Ports = nil }),
			[]*corev1.Pod{pod("a", "web", "10.1.0.1", ready)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _ := desiredSubsets(tc.svc, tc.pods)
			if r := render(got); r != tc.want {
				t.Fatalf("got  %s\nwant %s", r, tc.want)
			}
		})
	}
}

func TestAddressFields(t *testing.T) {
	svc := service("db", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
	p := pod("db-0", "db", "10.1.0.1", ready, func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db-0", "db" })
	ss, _, _ := desiredSubsets(svc, []*corev1.Pod{p})
	a := ss[0].Addresses[0]
	if a.IP != "10.1.0.1" || a.Hostname != "db-0" || a.NodeName == nil || *a.NodeName != "node-a" ||
		a.TargetRef.Kind != "Pod" || a.TargetRef.Namespace != "default" || a.TargetRef.UID != "uid-db-0" {
		t.Fatalf("address %+v", a)
	}
	if ss[0].Ports[0].Protocol != corev1.ProtocolTCP || ss[0].Ports[0].Name != "http" {
		t.Fatalf("port %+v", ss[0].Ports[0])
	}
}

func TestRepackIsCanonical(t *testing.T) {
	addr := func(name, ip string) corev1.EndpointAddress {
		return corev1.EndpointAddress{IP: ip, TargetRef: &corev1.ObjectReference{Name: name, UID: types.UID(name)}}
	}
	p80 := corev1.EndpointPort{Name: "a", Port: 80, Protocol: corev1.ProtocolTCP}
	p81 := corev1.EndpointPort{Name: "b", Port: 81, Protocol: corev1.ProtocolTCP}
	fragmented := []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{addr("y", "10.0.0.2")}, Ports: []corev1.EndpointPort{p81}},
		{Addresses: []corev1.EndpointAddress{addr("x", "10.0.0.1")}, Ports: []corev1.EndpointPort{p80}},
		{Addresses: []corev1.EndpointAddress{addr("y", "10.0.0.2")}, Ports: []corev1.EndpointPort{p80}},
		{Addresses: []corev1.EndpointAddress{addr("x", "10.0.0.1")}, Ports: []corev1.EndpointPort{p81}},
		// Not ready on one port makes it not ready there.
		{NotReadyAddresses: []corev1.EndpointAddress{addr("y", "10.0.0.2")}, Ports: []corev1.EndpointPort{p81}},
	}
	got := render(repack(fragmented))
	if want := "[a:80] ready=x,y notReady=; [b:81] ready=x notReady=y"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Order of the input does not matter.
	rev := slices.Clone(fragmented)
	slices.Reverse(rev)
	if again := render(repack(rev)); again != got {
		t.Fatalf("order-dependent: %s vs %s", again, got)
	}
}

func TestTruncate(t *testing.T) {
	addrs := func(prefix string, n int) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for i := range n {
			out = append(out, corev1.EndpointAddress{IP: fmt.Sprintf("10.%s.%d.%d", prefix, i/250, i%250)})
		}
		return out
	}
	count := func(ss []corev1.EndpointSubset) (r, nr []int) {
		for _, s := range ss {
			r, nr = append(r, len(s.Addresses)), append(nr, len(s.NotReadyAddresses))
		}
		return
	}
	for _, tc := range []struct {
		name            string
		subsets         []corev1.EndpointSubset
		truncated       bool
		ready, notReady string
	}{
		{"at capacity: untouched", []corev1.EndpointSubset{{Addresses: addrs("1", 600), NotReadyAddresses: addrs("2", 400)}}, false, "[600]", "[400]"},
		{"not ready ones go first", []corev1.EndpointSubset{
			{Addresses: addrs("1", 500), NotReadyAddresses: addrs("2", 300)},
			{Addresses: addrs("3", 300), NotReadyAddresses: addrs("4", 100)},
		}, true, "[500 300]", "[150 50]"},
		{"ready ones cut in proportion, not ready all gone", []corev1.EndpointSubset{
			{Addresses: addrs("1", 900), NotReadyAddresses: addrs("2", 10)},
			{Addresses: addrs("3", 300)},
		}, true, "[750 250]", "[0 0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := truncate(tc.subsets); got != tc.truncated {
				t.Fatalf("truncated %v", got)
			}
			r, nr := count(tc.subsets)
			if fmt.Sprint(r) != tc.ready || fmt.Sprint(nr) != tc.notReady {
				t.Fatalf("ready %v notReady %v", r, nr)
			}
			if n := addressCount(tc.subsets); n > MaxCapacity {
				t.Fatalf("%d addresses", n)
			}
		})
	}
}
