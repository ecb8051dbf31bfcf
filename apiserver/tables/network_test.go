package tables

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

func TestEndpointSliceCells(t *testing.T) {
	endpoints := func(addrs ...string) []discoveryv1.Endpoint {
		var out []discoveryv1.Endpoint
		for _, a := range addrs {
			out = append(out, discoveryv1.Endpoint{Addresses: []string{a}})
		}
		return out
	}
	checkCells(t, discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), []cellCase{
		{"ports and endpoints", &discoveryv1.EndpointSlice{
			ObjectMeta:  objectMeta("web-x7k2p", time.Hour),
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(80))}, {Name: ptr("https"), Port: ptr(int32(443))}},
			Endpoints:   endpoints("10.42.0.7", "10.42.0.8"),
		}, []interface{}{"web-x7k2p", "IPv4", "80,443", "10.42.0.7,10.42.0.8", "60m"}},
		{"more than three of each", &discoveryv1.EndpointSlice{
			ObjectMeta:  objectMeta("big-abcde", time.Hour),
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{
				{Port: ptr(int32(1))}, {Port: ptr(int32(2))}, {Port: ptr(int32(3))}, {Port: ptr(int32(4))}, {Port: ptr(int32(5))},
			},
			Endpoints: append(endpoints("10.0.0.1", "10.0.0.2"), discoveryv1.Endpoint{Addresses: []string{"10.0.0.3", "10.0.0.4"}}),
		}, []interface{}{"big-abcde", "IPv4", "1,2,3 + 2 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "60m"}},
		{"port by name only, any port", &discoveryv1.EndpointSlice{
			ObjectMeta:  objectMeta("named", time.Hour),
			AddressType: discoveryv1.AddressTypeIPv6,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("metrics")}, {}},
			Endpoints:   endpoints("fd00::7"),
		}, []interface{}{"named", "IPv6", "metrics,*", "fd00::7", "60m"}},
		{"empty", &discoveryv1.EndpointSlice{ObjectMeta: objectMeta("empty", time.Minute), AddressType: discoveryv1.AddressTypeIPv4},
			[]interface{}{"empty", "IPv4", "<unset>", "<unset>", "60s"}},
	})
}

func TestIngressCells(t *testing.T) {
	rules := func(hosts ...string) []networkingv1.IngressRule {
		var out []networkingv1.IngressRule
		for _, h := range hosts {
			out = append(out, networkingv1.IngressRule{Host: h})
		}
		return out
	}
	lb := func(entries ...networkingv1.IngressLoadBalancerIngress) networkingv1.IngressStatus {
		return networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: entries}}
	}
	checkCells(t, networkingv1.SchemeGroupVersion.WithKind("Ingress"), []cellCase{
		{"one host with TLS", &networkingv1.Ingress{
			ObjectMeta: objectMeta("shop", 6*time.Hour),
			Spec: networkingv1.IngressSpec{IngressClassName: ptr("traefik"), Rules: rules("shop.example.com"),
				TLS: []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}}},
			Status: lb(networkingv1.IngressLoadBalancerIngress{IP: "172.18.0.2"}),
		}, []interface{}{"shop", "traefik", "shop.example.com", "172.18.0.2", "80, 443", "6h"}},
		{"many hosts, many addresses, never shortened", &networkingv1.Ingress{
			ObjectMeta: objectMeta("many", time.Hour),
			Spec:       networkingv1.IngressSpec{Rules: rules("a.example.com", "", "b.example.com", "c.example.com", "d.example.com")},
			Status: lb(networkingv1.IngressLoadBalancerIngress{IP: "203.0.113.20"}, networkingv1.IngressLoadBalancerIngress{IP: "203.0.113.10"},
				networkingv1.IngressLoadBalancerIngress{Hostname: "lb-1234567890.elb.example.com"}),
		}, []interface{}{"many", "<none>", "a.example.com,b.example.com,c.example.com + 2 more...", "203.0.113.10,203.0.113.20,lb-1234567890.elb.example.com", "80", "60m"}},
		{"default backend only", &networkingv1.Ingress{
			ObjectMeta: objectMeta("catch-all", time.Hour),
			Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
		}, []interface{}{"catch-all", "<none>", "*", "", "80", "60m"}},
	})
}

func TestLeaseCells(t *testing.T) {
	checkCells(t, coordinationv1.SchemeGroupVersion.WithKind("Lease"), []cellCase{
		{"node heartbeat", &coordinationv1.Lease{
			ObjectMeta: objectMeta("skiff-node-1", 9*24*time.Hour),
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr("skiff-node-1"), LeaseDurationSeconds: ptr(int32(40))},
		}, []interface{}{"skiff-node-1", "skiff-node-1", "9d"}},
		{"released", &coordinationv1.Lease{ObjectMeta: objectMeta("skiff-scheduler", time.Hour)},
			[]interface{}{"skiff-scheduler", "", "60m"}},
	})
}
