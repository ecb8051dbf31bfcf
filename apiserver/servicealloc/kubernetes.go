package servicealloc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The kubernetes Service, as upstream's bootstrap controller makes it.
const (
	KubernetesServiceName = "kubernetes"
	KubernetesPortName    = "https"
	KubernetesServicePort = 443
)

// KubernetesService is the desired "kubernetes" Service in "default": the
// first address of the service CIDR, port https 443 → the API server's
// port, no selector (the API server writes its endpoints).
func (a *Allocator) KubernetesService(apiPort int) *corev1.Service {
	ip := a.FirstIP().String()
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{Kind: "Service", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: KubernetesServiceName, Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"},
		},
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeClusterIP,
			ClusterIP:       ip,
			ClusterIPs:      []string{ip},
			SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []corev1.ServicePort{{
				Name: KubernetesPortName, Protocol: corev1.ProtocolTCP,
				Port: KubernetesServicePort, TargetPort: intstr.FromInt32(int32(apiPort)),
			}},
		},
	}
}

// KubernetesServicePortsDiffer tells whether the stored kubernetes
// Service's ports are not the desired ones (the API server's port moved),
// which the API server then rewrites; everything else of it is left as
// the user may have changed it, as upstream does.
func KubernetesServicePortsDiffer(cur, want *corev1.Service) bool {
	if len(cur.Spec.Ports) != len(want.Spec.Ports) {
		return true
	}
	for i := range cur.Spec.Ports {
		c, w := cur.Spec.Ports[i], want.Spec.Ports[i]
		if c.Name != w.Name || c.Protocol != w.Protocol || c.Port != w.Port || c.TargetPort != w.TargetPort {
			return true
		}
	}
	return false
}

// KubernetesEndpoints is the desired Endpoints of the kubernetes Service:
// the API servers' addresses, skip-mirror so no mirroring controller
// makes slices of it (the API server writes its slice itself).
func KubernetesEndpoints(ips []string, apiPort int) *corev1.Endpoints {
	ep := &corev1.Endpoints{
		TypeMeta: metav1.TypeMeta{Kind: "Endpoints", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: KubernetesServiceName, Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelSkipMirror: "true"},
		},
	}
	if len(ips) == 0 {
		return ep
	}
	sub := corev1.EndpointSubset{Ports: []corev1.EndpointPort{{Name: KubernetesPortName, Port: int32(apiPort), Protocol: corev1.ProtocolTCP}}}
	for _, ip := range ips {
		sub.Addresses = append(sub.Addresses, corev1.EndpointAddress{IP: ip})
	}
	ep.Subsets = []corev1.EndpointSubset{sub}
	return ep
}

// KubernetesEndpointSlice is the desired EndpointSlice of the kubernetes
// Service. Like upstream's it carries only the kubernetes.io/service-name
// label: the EndpointSlice controller manages slices labelled managed-by
// endpointslice-controller.k8s.io of Services with a selector, so it
// leaves this one alone.
func KubernetesEndpointSlice(ips []string, apiPort int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: KubernetesServiceName, Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: KubernetesServiceName},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{
			Name: ptr.To(KubernetesPortName), Port: ptr.To(int32(apiPort)), Protocol: ptr.To(corev1.ProtocolTCP),
		}},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	return s
}

// APIServerLeaseTTL is how long an API server's address stays in the
// kubernetes Service's endpoints after it stops refreshing it; it
// refreshes every APIServerLeaseRefresh (upstream: 15 s and 10 s).
const (
	APIServerLeaseTTL     = 15 * time.Second
	APIServerLeaseRefresh = 10 * time.Second
)

func (a *Allocator) leasePrefix() string { return a.keyPrefix + "apiserverleases/" }

func (a *Allocator) leaseKey(ip string, port int) string {
	return a.leasePrefix() + net.JoinHostPort(ip, strconv.Itoa(port))
}

// RefreshAPIServerLease records that an API server serves at ip:port for
// the next APIServerLeaseTTL.
func (a *Allocator) RefreshAPIServerLease(ctx context.Context, ip string, port int) error {
	l, err := a.etcd.Grant(ctx, int64(APIServerLeaseTTL/time.Second))
	if err != nil {
		return fmt.Errorf("grant API server lease: %w", err)
	}
	if _, err := a.etcd.Put(ctx, a.leaseKey(ip, port), "", clientv3.WithLease(l.ID)); err != nil {
		return fmt.Errorf("write API server lease: %w", err)
	}
	return nil
}

// RemoveAPIServerLease forgets an API server at once (clean shutdown).
func (a *Allocator) RemoveAPIServerLease(ctx context.Context, ip string, port int) error {
	_, err := a.etcd.Delete(ctx, a.leaseKey(ip, port))
	return err
}

// APIServerEndpoints are the addresses and the port the kubernetes
// Service's endpoints list, from the live API servers' leases. An
// EndpointSlice has one port for all its addresses, and upstream assumes
// every API server listens on the same one; should they not (two servers
// on one host), every server still computes the same answer — the port of
// the lowest address, and the addresses serving on it — so they do not
// overwrite each other's view. ok is false when no server is live.
func (a *Allocator) APIServerEndpoints(ctx context.Context) (ips []string, port int, ok bool, err error) {
	resp, err := a.etcd.Get(ctx, a.leasePrefix(), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, 0, false, fmt.Errorf("list API server leases: %w", err)
	}
	var live []netip.AddrPort
	for _, kv := range resp.Kvs {
		if ap, err := netip.ParseAddrPort(strings.TrimPrefix(string(kv.Key), a.leasePrefix())); err == nil {
			live = append(live, ap)
		}
	}
	ips, port, ok = chooseEndpoints(live)
	return ips, port, ok, nil
}

func chooseEndpoints(live []netip.AddrPort) ([]string, int, bool) {
	if len(live) == 0 {
		return nil, 0, false
	}
	slices.SortFunc(live, func(x, y netip.AddrPort) int { return x.Compare(y) })
	port := live[0].Port()
	var ips []string
	for _, ap := range live {
		if ap.Port() == port {
			ips = append(ips, ap.Addr().String())
		}
	}
	return slices.Compact(ips), int(port), true
}

// AdvertiseAddress chooses the address pods reach the API server at, the
// endpoint of the kubernetes Service: the one given (--advertise-address),
// else --listen's host when it is a specific IPv4 that is not loopback,
// else the first non-loopback IPv4 of the host's interfaces (hostAddrs,
// in interface order). Pods run in Docker containers, whose 127.0.0.1 is
// their own, so a loopback address would be useless to them. Note that
// the address is only useful if the listener accepts connections on it:
// with --listen 127.0.0.1:… it does not, and the caller warns.
func AdvertiseAddress(given, listenHost string, hostAddrs []netip.Addr) (netip.Addr, error) {
	if given != "" {
		a, err := netip.ParseAddr(given)
		if err != nil || !a.Is4() || a.IsUnspecified() {
			return netip.Addr{}, fmt.Errorf("--advertise-address %q: must be a specific IPv4 address (the service CIDR is IPv4)", given)
		}
		return a, nil
	}
	if a, err := netip.ParseAddr(listenHost); err == nil && a.Is4() && !a.IsLoopback() && !a.IsUnspecified() {
		return a, nil
	}
	for _, a := range hostAddrs {
		if a.Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified() {
			return a, nil
		}
	}
	return netip.Addr{}, errors.New("no non-loopback IPv4 address on this host to advertise the API server at; set --advertise-address")
}

// HostAddresses lists the addresses of the host's interfaces that are up
// and not loopback, in interface order.
func HostAddresses() ([]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					out = append(out, ip.Unmap())
				}
			}
		}
	}
	return out, nil
}

// LoopbackOnly tells whether a --listen host accepts connections only
// from this host (then pods cannot reach the API server).
func LoopbackOnly(listenHost string) bool {
	if listenHost == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(listenHost)
	return err == nil && a.IsLoopback()
}
