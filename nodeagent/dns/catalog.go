package dns

import (
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// catalog is the cluster state DNS answers from: caches of Services,
// EndpointSlices, Pods and Namespaces, indexed the ways lookups need
// (Services by ClusterIP and slices by address for PTR, slices by Service,
// pods by IP). The caches are informers' in the agent and plain indexers
// in tests; either way the catalog only reads them.
type catalog struct {
	services   cache.Indexer
	slices     cache.Indexer
	pods       cache.Indexer
	namespaces cache.Store
}

const (
	indexByClusterIP = "clusterIP"
	indexByService   = "service"
	indexByAddress   = "address"
	indexByPodIP     = "podIP"
)

var (
	serviceIndexers = cache.Indexers{indexByClusterIP: func(obj any) ([]string, error) {
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return nil, nil
		}
		return canonicalIPs(clusterIPs(svc)), nil
	}}
	sliceIndexers = cache.Indexers{
		indexByService: func(obj any) ([]string, error) {
			s, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
				return nil, nil
			}
			return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
		},
		indexByAddress: func(obj any) ([]string, error) {
			s, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok {
				return nil, nil
			}
			var ips []string
			for _, ep := range s.Endpoints {
				ips = append(ips, ep.Addresses...)
			}
			return canonicalIPs(ips), nil
		},
	}
	podIndexers = cache.Indexers{indexByPodIP: func(obj any) ([]string, error) {
		p, ok := obj.(*corev1.Pod)
		if !ok || p.Spec.HostNetwork {
			// A host-network pod has the node's address, which is no
			// pod's own.
			return nil, nil
		}
		return canonicalIPs(podIPs(p)), nil
	}}
)

// newCatalog makes a catalog over empty indexers, for tests.
func newCatalog() *catalog {
	return &catalog{
		services:   cache.NewIndexer(cache.MetaNamespaceKeyFunc, serviceIndexers),
		slices:     cache.NewIndexer(cache.MetaNamespaceKeyFunc, sliceIndexers),
		pods:       cache.NewIndexer(cache.MetaNamespaceKeyFunc, podIndexers),
		namespaces: cache.NewStore(cache.MetaNamespaceKeyFunc),
	}
}

// add puts objects into a test catalog.
func (c *catalog) add(objs ...any) {
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			_ = c.services.Add(o)
		case *discoveryv1.EndpointSlice:
			_ = c.slices.Add(o)
		case *corev1.Pod:
			_ = c.pods.Add(slimPod(o))
		case *corev1.Namespace:
			_ = c.namespaces.Add(o)
		}
	}
}

// slimPod keeps only what DNS reads of a pod: an agent caches every pod
// of the cluster, so the rest of each spec would be memory for nothing.
func slimPod(p *corev1.Pod) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion},
		Spec:       corev1.PodSpec{HostNetwork: p.Spec.HostNetwork},
		Status:     corev1.PodStatus{PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs},
	}
}

func (c *catalog) namespaceExists(ns string) bool {
	_, ok, _ := c.namespaces.GetByKey(ns)
	return ok
}

// service finds a Service by namespace and name (lowercase, as the API
// writes them and the resolver asks).
func (c *catalog) service(ns, name string) *corev1.Service {
	if o, ok, _ := c.services.GetByKey(ns + "/" + name); ok {
		return o.(*corev1.Service)
	}
	return nil
}

// servicesByIP finds the Services with a ClusterIP, in a stable order.
func (c *catalog) servicesByIP(ip netip.Addr) []*corev1.Service {
	objs, _ := c.services.ByIndex(indexByClusterIP, ip.String())
	out := make([]*corev1.Service, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.Service))
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}

// endpoint is one ready address of a Service, with the name DNS gives it
// and the ports its slice lists.
type endpoint struct {
	hostname string
	addr     netip.Addr
	ports    []discoveryv1.EndpointPort
}

// endpoints lists the ready endpoints of a Service from all its slices,
// each address once, in a stable order. Like CoreDNS, an endpoint whose
// ready condition is unset counts as ready (the API's meaning of nil);
// the EndpointSlice controller already marks not-ready pods ready when
// the Service publishes not-ready addresses.
func (c *catalog) endpoints(ns, svc string) []endpoint {
	objs, _ := c.slices.ByIndex(indexByService, ns+"/"+svc)
	seen := map[netip.Addr]bool{}
	var out []endpoint
	for _, o := range objs {
		s := o.(*discoveryv1.EndpointSlice)
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				addr, err := netip.ParseAddr(a)
				if err != nil || seen[addr] {
					continue
				}
				seen[addr] = true
				out = append(out, endpoint{hostname: endpointHostname(ep, addr), addr: addr, ports: s.Ports})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addr.Less(out[j].addr) })
	return out
}

// endpointName is a ready endpoint found by its address.
type endpointName struct {
	namespace, service, hostname string
}

// endpointsByIP finds the ready endpoints with an address, for PTR.
func (c *catalog) endpointsByIP(ip netip.Addr) []endpointName {
	objs, _ := c.slices.ByIndex(indexByAddress, ip.String())
	var out []endpointName
	for _, o := range objs {
		s := o.(*discoveryv1.EndpointSlice)
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				if addr, err := netip.ParseAddr(a); err == nil && addr == ip {
					out = append(out, endpointName{namespace: s.Namespace, service: svc, hostname: endpointHostname(ep, addr)})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].namespace+"/"+out[i].service+"/"+out[i].hostname < out[j].namespace+"/"+out[j].service+"/"+out[j].hostname
	})
	return out
}

// podsByIP finds the (non-host-network) pods with an address.
func (c *catalog) podsByIP(ip netip.Addr) []*corev1.Pod {
	objs, _ := c.pods.ByIndex(indexByPodIP, ip.String())
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.Pod))
	}
	return out
}

// endpointHostname is the endpoint's label under its Service: the
// hostname the EndpointSlice carries (a pod with hostname and a subdomain
// naming the Service), else the address with dashes (10-42-0-5), as
// CoreDNS names them.
func endpointHostname(ep discoveryv1.Endpoint, addr netip.Addr) string {
	if ep.Hostname != nil && *ep.Hostname != "" {
		return strings.ToLower(*ep.Hostname)
	}
	return dashed(addr)
}

// dashed writes an address with dashes for dots or colons.
func dashed(addr netip.Addr) string {
	s := addr.String()
	if addr.Is4() {
		return strings.ReplaceAll(s, ".", "-")
	}
	return strings.ReplaceAll(s, ":", "-")
}

// clusterIPs is the Service's ClusterIPs, or its ClusterIP for objects
// written before dual-stack; "None" (headless) and "" are no addresses.
func clusterIPs(svc *corev1.Service) []string {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []string
	for _, ip := range ips {
		if ip != corev1.ClusterIPNone && ip != "" {
			out = append(out, ip)
		}
	}
	return out
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

func podIPs(p *corev1.Pod) []string {
	var ips []string
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && p.Status.PodIP != "" {
		ips = append(ips, p.Status.PodIP)
	}
	return ips
}

// canonicalIPs parses and re-prints addresses, so "::0001" and "::1" index
// the same; what does not parse is left out.
func canonicalIPs(ips []string) []string {
	var out []string
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap().String())
		}
	}
	return out
}
