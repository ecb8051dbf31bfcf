package tables

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func objectMeta(name string, age time.Duration) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(age)}
}

func TestServiceCells(t *testing.T) {
	clusterIP := &corev1.Service{ObjectMeta: objectMeta("kubernetes", 40*24*time.Hour), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.43.0.1", ClusterIPs: []string{"10.43.0.1"},
		Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(6443)}},
	}}
	nodePort := &corev1.Service{ObjectMeta: objectMeta("web", 2*time.Hour), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ClusterIP: "10.43.12.7", ClusterIPs: []string{"10.43.12.7"},
		Selector: map[string]string{"app": "web", "tier": "frontend"},
		Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP},
			{Name: "https", Port: 443, NodePort: 30443, Protocol: corev1.ProtocolTCP},
			{Name: "dns", Port: 53, NodePort: 30053, Protocol: corev1.ProtocolUDP},
		},
	}}
	loadBalancer := &corev1.Service{ObjectMeta: objectMeta("ingress", 25*time.Minute),
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.43.200.1", ClusterIPs: []string{"10.43.200.1"},
			Selector: map[string]string{"app": "ingress"},
			Ports:    []corev1.ServicePort{{Port: 80, NodePort: 31080, Protocol: corev1.ProtocolTCP}, {Port: 443, NodePort: 31443, Protocol: corev1.ProtocolTCP}},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
			{IP: "203.0.113.20"}, {IP: "203.0.113.10"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.10"},
		}}},
	}
	pending := &corev1.Service{ObjectMeta: objectMeta("pending", time.Minute), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.200.2"},
		Ports: []corev1.ServicePort{{Port: 8080, NodePort: 32000, Protocol: corev1.ProtocolTCP}},
	}}
	lbWithExternalIPs := &corev1.Service{ObjectMeta: objectMeta("mixed", time.Minute),
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.200.3"}, ExternalIPs: []string{"198.51.100.5"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30001, Protocol: corev1.ProtocolTCP}},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.30"}}}},
	}
	headless := &corev1.Service{ObjectMeta: objectMeta("db", 6*time.Hour), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeClusterIP, ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone},
		Selector: map[string]string{"app": "db"},
		Ports:    []corev1.ServicePort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}},
	}}
	headlessNoPorts := &corev1.Service{ObjectMeta: objectMeta("peers", 6*time.Hour), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeClusterIP, ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone},
	}}
	externalName := &corev1.Service{ObjectMeta: objectMeta("search", 3*24*time.Hour), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeExternalName, ExternalName: "search.example.com",
	}}
	externalIPs := &corev1.Service{ObjectMeta: objectMeta("legacy", 3*24*time.Hour), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.43.9.9", ExternalIPs: []string{"198.51.100.1", "198.51.100.2"},
		Ports: []corev1.ServicePort{{Port: 21, Protocol: corev1.ProtocolSCTP}},
	}}

	checkCells(t, corev1.SchemeGroupVersion.WithKind("Service"), []cellCase{
		{"cluster IP", clusterIP, []interface{}{"kubernetes", "ClusterIP", "10.43.0.1", "<none>", "443/TCP", "40d", "<none>"}},
		{"node port, several ports", nodePort, []interface{}{"web", "NodePort", "10.43.12.7", "<none>", "80:30080/TCP,443:30443/TCP,53:30053/UDP", "120m", "app=web,tier=frontend"}},
		{"load balancer with ingress points", loadBalancer, []interface{}{"ingress", "LoadBalancer", "10.43.200.1", "203.0.113.10,203.0.113.20,lb.example.com", "80:31080/TCP,443:31443/TCP", "25m", "app=ingress"}},
		{"load balancer pending", pending, []interface{}{"pending", "LoadBalancer", "10.43.200.2", "<pending>", "8080:32000/TCP", "60s", "<none>"}},
		{"load balancer and external IPs", lbWithExternalIPs, []interface{}{"mixed", "LoadBalancer", "10.43.200.3", "203.0.113.30,198.51.100.5", "80:30001/TCP", "60s", "<none>"}},
		{"headless", headless, []interface{}{"db", "ClusterIP", "None", "<none>", "5432/TCP", "6h", "app=db"}},
		{"headless without ports", headlessNoPorts, []interface{}{"peers", "ClusterIP", "None", "<none>", "<none>", "6h", "<none>"}},
		{"external name", externalName, []interface{}{"search", "ExternalName", "<none>", "search.example.com", "<none>", "3d", "<none>"}},
		{"external IPs, clusterIP not defaulted into clusterIPs", externalIPs, []interface{}{"legacy", "ClusterIP", "10.43.9.9", "198.51.100.1,198.51.100.2", "21/SCTP", "3d", "<none>"}},
	})
}

func TestEndpointsCells(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	checkCells(t, corev1.SchemeGroupVersion.WithKind("Endpoints"), []cellCase{
		{"no subsets", &corev1.Endpoints{ObjectMeta: objectMeta("web", time.Minute)},
			[]interface{}{"web", "<none>", "60s"}},
		{"one port", &corev1.Endpoints{ObjectMeta: objectMeta("kubernetes", 40*24*time.Hour), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("172.18.0.2"), Ports: []corev1.EndpointPort{{Name: "https", Port: 6443}}}}},
			[]interface{}{"kubernetes", "172.18.0.2:6443", "40d"}},
		{"more than three", &corev1.Endpoints{ObjectMeta: objectMeta("web", time.Hour), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.42.0.7", "10.42.0.8", "10.42.1.3"), Ports: []corev1.EndpointPort{{Name: "http", Port: 80}, {Name: "https", Port: 443}}}}},
			[]interface{}{"web", "10.42.0.7:80,10.42.0.8:80,10.42.1.3:80 + 3 more...", "60m"}},
		{"headless without ports, IPv6", &corev1.Endpoints{ObjectMeta: objectMeta("peers", time.Hour), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("fd00::1", "fd00::2")}}},
			[]interface{}{"peers", "fd00::1,fd00::2", "60m"}},
		{"IPv6 with port", &corev1.Endpoints{ObjectMeta: objectMeta("v6", time.Hour), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("fd00::1"), Ports: []corev1.EndpointPort{{Port: 80}}}}},
			[]interface{}{"v6", "[fd00::1]:80", "60m"}},
		{"only not-ready addresses", &corev1.Endpoints{ObjectMeta: objectMeta("starting", time.Hour), Subsets: []corev1.EndpointSubset{{
			NotReadyAddresses: addrs("10.42.0.9"), Ports: []corev1.EndpointPort{{Port: 80}}}}},
			[]interface{}{"starting", "", "60m"}},
	})
}

func TestSmallCoreKindsCells(t *testing.T) {
	core := corev1.SchemeGroupVersion
	checkCells(t, core.WithKind("Namespace"), []cellCase{
		{"active", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default", CreationTimestamp: ago(40 * 24 * time.Hour)}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			[]interface{}{"default", "Active", "40d"}},
		{"terminating", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "old", CreationTimestamp: ago(400 * 24 * time.Hour)}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			[]interface{}{"old", "Terminating", "400d"}},
	})
	checkCells(t, core.WithKind("ConfigMap"), []cellCase{
		{"data and binary data", &corev1.ConfigMap{ObjectMeta: objectMeta("settings", 2*time.Minute),
			Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"logo.png": {0x89}}},
			[]interface{}{"settings", int64(3), "2m"}},
		{"empty", &corev1.ConfigMap{ObjectMeta: objectMeta("kube-root-ca.crt", 2*time.Minute)},
			[]interface{}{"kube-root-ca.crt", int64(0), "2m"}},
	})
	checkCells(t, core.WithKind("Secret"), []cellCase{
		{"opaque", &corev1.Secret{ObjectMeta: objectMeta("db-password", 10*time.Minute), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("x")}},
			[]interface{}{"db-password", "Opaque", int64(1), "10m"}},
		{"tls", &corev1.Secret{ObjectMeta: objectMeta("web-tls", 10*time.Minute), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			[]interface{}{"web-tls", "kubernetes.io/tls", int64(2), "10m"}},
	})
	checkCells(t, core.WithKind("ServiceAccount"), []cellCase{
		{"default", &corev1.ServiceAccount{ObjectMeta: objectMeta("default", 40*24*time.Hour)},
			[]interface{}{"default", int64(0), "40d"}},
		{"with secrets", &corev1.ServiceAccount{ObjectMeta: objectMeta("builder", time.Hour), Secrets: []corev1.ObjectReference{{Name: "a"}, {Name: "b"}}},
			[]interface{}{"builder", int64(2), "60m"}},
	})
}
