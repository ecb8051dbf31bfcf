package servicealloc

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestKubernetesService(t *testing.T) {
	e := startEtcd(t)
	a := newAllocator(t, e.Client(), "10.43.0.0/16", "30000-32767", nil)
	svc := a.KubernetesService(6443)
	p := svc.Spec.Ports[0]
	if svc.Namespace != "default" || svc.Name != "kubernetes" || svc.Spec.ClusterIP != "10.43.0.1" ||
		p.Name != "https" || p.Port != 443 || p.TargetPort != intstr.FromInt32(6443) || p.Protocol != corev1.ProtocolTCP || len(svc.Spec.Selector) != 0 {
		t.Fatalf("%+v", svc)
	}
	moved := a.KubernetesService(7443)
	if !KubernetesServicePortsDiffer(svc, moved) || KubernetesServicePortsDiffer(svc, a.KubernetesService(6443)) {
		t.Fatal("port comparison")
	}

	ips := []string{"192.168.1.2", "192.168.1.3"}
	ep := KubernetesEndpoints(ips, 6443)
	if ep.Labels[discoveryv1.LabelSkipMirror] != "true" || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 2 ||
		ep.Subsets[0].Ports[0] != (corev1.EndpointPort{Name: "https", Port: 6443, Protocol: corev1.ProtocolTCP}) {
		t.Fatalf("%+v", ep)
	}
	slice := KubernetesEndpointSlice(ips, 6443)
	// The EndpointSlice controller must leave it alone: no managed-by label.
	if _, managed := slice.Labels[discoveryv1.LabelManagedBy]; managed || slice.Labels[discoveryv1.LabelServiceName] != "kubernetes" ||
		slice.AddressType != discoveryv1.AddressTypeIPv4 || len(slice.Endpoints) != 2 || !*slice.Endpoints[1].Conditions.Ready ||
		*slice.Ports[0].Port != 6443 || *slice.Ports[0].Name != "https" {
		t.Fatalf("%+v", slice)
	}
}

func TestAPIServerLeases(t *testing.T) {
	e := startEtcd(t)
	a := newAllocator(t, e.Client(), "10.96.0.0/16", "30000-32767", nil)
	ctx := context.Background()
	for _, ip := range []string{"10.0.0.2", "10.0.0.10", "10.0.0.2"} {
		if err := a.RefreshAPIServerLease(ctx, ip, 6443); err != nil {
			t.Fatal(err)
		}
	}
	ips, port, ok, err := a.APIServerEndpoints(ctx)
	if err != nil || !ok || port != 6443 || !slices.Equal(ips, []string{"10.0.0.2", "10.0.0.10"}) {
		t.Fatalf("%v %d %v %v", ips, port, ok, err)
	}
	if err := a.RemoveAPIServerLease(ctx, "10.0.0.2", 6443); err != nil {
		t.Fatal(err)
	}
	if ips, _, _, _ := a.APIServerEndpoints(ctx); !slices.Equal(ips, []string{"10.0.0.10"}) {
		t.Fatalf("after remove: %v", ips)
	}
	// The key lives on an etcd lease: it expires when its server stops
	// refreshing it.
	resp, err := e.Client().Get(ctx, a.leaseKey("10.0.0.10", 6443))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("lease key %v %v", resp, err)
	}
	if err := a.RemoveAPIServerLease(ctx, "10.0.0.10", 6443); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := a.APIServerEndpoints(ctx); ok {
		t.Fatal("no server is live, yet endpoints were chosen")
	}
}

// Servers on different ports agree on one view.
func TestChooseEndpoints(t *testing.T) {
	live := []netip.AddrPort{
		netip.MustParseAddrPort("192.168.1.9:6443"), netip.MustParseAddrPort("192.168.1.10:7443"),
		netip.MustParseAddrPort("192.168.1.9:7443"), netip.MustParseAddrPort("192.168.1.11:6443"),
	}
	ips, port, ok := chooseEndpoints(live)
	if !ok || port != 6443 || !slices.Equal(ips, []string{"192.168.1.9", "192.168.1.11"}) {
		t.Fatalf("%v %d %v", ips, port, ok)
	}
}
