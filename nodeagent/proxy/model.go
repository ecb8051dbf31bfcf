package proxy

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// LabelServiceProxyName on a Service hands it to another proxy; kube-proxy
// (and so Skiff) leaves such Services alone.
const LabelServiceProxyName = "service.kubernetes.io/service-proxy-name"

// defaultStickySeconds is Kubernetes' default ClientIP affinity timeout
// (3 hours).
const defaultStickySeconds = 10800

// servicePortName names one port of one Service, as kube-proxy's
// ServicePortName does, plus its protocol.
type servicePortName struct {
	types.NamespacedName
	Port     string
	Protocol corev1.Protocol
}

// String is kube-proxy's rendering, used in rule comments: "ns/name:port",
// or "ns/name" for an unnamed port.
func (n servicePortName) String() string {
	if n.Port == "" {
		return n.Namespace + "/" + n.Name
	}
	return n.Namespace + "/" + n.Name + ":" + n.Port
}

// key is what chain names hash.
func (n servicePortName) key() string { return n.String() + "/" + strings.ToLower(string(n.Protocol)) }

// endpoint is one backend of a service port.
type endpoint struct {
	IP   string
	Port int32
	// Ready, Serving and Terminating are the EndpointSlice conditions, with
	// kube-proxy's reading of unset ones (Ready and Serving true,
	// Terminating false).
	Ready, Serving, Terminating bool
	// Local is true for an endpoint on this node, or on another node that
	// shares this node's host (and so its network namespace).
	Local bool
}

func (e endpoint) String() string { return net.JoinHostPort(e.IP, strconv.Itoa(int(e.Port))) }

// servicePort is everything the proxy needs to know of one Service port:
// what the rules for it are made from.
type servicePort struct {
	Name      servicePortName
	ClusterIP string
	Port      int32
	// NodePort is 0 unless the Service is NodePort or LoadBalancer.
	NodePort int32
	// ExternalIPs holds spec.externalIPs and the load balancer's ingress
	// IPs: traffic to ExternalIP:Port is external traffic, like NodePort.
	ExternalIPs []string
	// StickySeconds > 0 means sessionAffinity: ClientIP for that long.
	StickySeconds int32
	// ExternalLocal and InternalLocal are the Local traffic policies.
	ExternalLocal, InternalLocal bool
	// Endpoints are every endpoint the slices name for this port, sorted;
	// which ones get traffic is decided by clusterEndpoints and
	// localEndpoints.
	Endpoints []endpoint
}

// externallyAccessible is true if traffic can reach the port other than
// through its ClusterIP.
func (sp *servicePort) externallyAccessible() bool {
	return sp.NodePort != 0 || len(sp.ExternalIPs) > 0
}

// usableEndpoints picks, as kube-proxy does, the ready endpoints of the
// candidates; if none is ready, those still serving while terminating (so
// a rolling update or scale-down does not drop connections that could
// have been served).
func usableEndpoints(eps []endpoint, keep func(endpoint) bool) []endpoint {
	var ready, terminating []endpoint
	for _, e := range eps {
		if !keep(e) {
			continue
		}
		switch {
		case e.Ready:
			ready = append(ready, e)
		case e.Serving && e.Terminating:
			terminating = append(terminating, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return terminating
}

// clusterEndpoints are the endpoints of the Cluster traffic policy.
func (sp *servicePort) clusterEndpoints() []endpoint {
	return usableEndpoints(sp.Endpoints, func(endpoint) bool { return true })
}

// localEndpoints are the endpoints of the Local traffic policy.
func (sp *servicePort) localEndpoints() []endpoint {
	return usableEndpoints(sp.Endpoints, func(e endpoint) bool { return e.Local })
}

// internalEndpoints receive ClusterIP traffic.
func (sp *servicePort) internalEndpoints() []endpoint {
	if sp.InternalLocal {
		return sp.localEndpoints()
	}
	return sp.clusterEndpoints()
}

// externalEndpoints receive NodePort and external IP traffic.
func (sp *servicePort) externalEndpoints() []endpoint {
	if sp.ExternalLocal {
		return sp.localEndpoints()
	}
	return sp.clusterEndpoints()
}

// usesClusterEndpoints is true when some traffic is sent to the whole
// cluster's endpoints: ClusterIP traffic under the Cluster policy, or
// external traffic under the Cluster policy (kube-proxy's
// UsesClusterEndpoints).
func (sp *servicePort) usesClusterEndpoints() bool {
	return !sp.InternalLocal || (sp.externallyAccessible() && !sp.ExternalLocal)
}

// usesLocalEndpoints is the same for the Local policy.
func (sp *servicePort) usesLocalEndpoints() bool {
	return sp.InternalLocal || (sp.externallyAccessible() && sp.ExternalLocal)
}

// buildServicePorts turns Services and EndpointSlices into service ports,
// sorted by name. isLocal tells whether a node shares this host. Services
// the proxy does not serve are left out: headless, ExternalName, without
// an IPv4 ClusterIP, or labelled for another proxy.
func buildServicePorts(services []*corev1.Service, endpointSlices []*discoveryv1.EndpointSlice, isLocal func(node string) bool) []servicePort {
	bySvc := map[types.NamespacedName][]*discoveryv1.EndpointSlice{}
	for _, s := range endpointSlices {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		key := types.NamespacedName{Namespace: s.Namespace, Name: name}
		bySvc[key] = append(bySvc[key], s)
	}
	var out []servicePort
	for _, svc := range services {
		if !proxied(svc) {
			continue
		}
		nn := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		for _, p := range svc.Spec.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			sp := servicePort{
				Name:      servicePortName{NamespacedName: nn, Port: p.Name, Protocol: proto},
				ClusterIP: svc.Spec.ClusterIP,
				Port:      p.Port,
				InternalLocal: svc.Spec.InternalTrafficPolicy != nil &&
					*svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
			}
			if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
				sp.NodePort = p.NodePort
			}
			sp.ExternalIPs = externalIPs(svc)
			if sp.externallyAccessible() {
				sp.ExternalLocal = svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
			}
			if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
				sp.StickySeconds = defaultStickySeconds
				if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
					sp.StickySeconds = *c.ClientIP.TimeoutSeconds
				}
			}
			sp.Endpoints = sliceEndpoints(bySvc[nn], p.Name, proto, isLocal)
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b servicePort) int { return strings.Compare(a.Name.key(), b.Name.key()) })
	return out
}

// proxied reports whether the proxy programs rules for a Service.
func proxied(svc *corev1.Service) bool {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return false
	}
	if _, ok := svc.Labels[LabelServiceProxyName]; ok {
		return false
	}
	return isIPv4(svc.Spec.ClusterIP)
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// externalIPs are the IPv4 addresses, other than the ClusterIP and node
// addresses, where the Service answers on its port: spec.externalIPs and
// the load balancer's ingress IPs. Sorted, without duplicates.
func externalIPs(svc *corev1.Service) []string {
	var ips []string
	for _, ip := range svc.Spec.ExternalIPs {
		if isIPv4(ip) {
			ips = append(ips, ip)
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if isIPv4(in.IP) {
				ips = append(ips, in.IP)
			}
		}
	}
	slices.Sort(ips)
	return slices.Compact(ips)
}

// sliceEndpoints collects the endpoints of one service port from its
// slices: the slice port with the same name and protocol gives the target
// port; the first address is the endpoint's (as kube-proxy does). An
// endpoint listed twice (slices being rewritten) counts once, ready if any
// listing says so.
func sliceEndpoints(ss []*discoveryv1.EndpointSlice, portName string, proto corev1.Protocol, isLocal func(string) bool) []endpoint {
	byAddr := map[string]endpoint{}
	for _, s := range ss {
		var port int32
		for _, p := range s.Ports {
			pn, pp := "", corev1.ProtocolTCP
			if p.Name != nil {
				pn = *p.Name
			}
			if p.Protocol != nil {
				pp = *p.Protocol
			}
			if pn == portName && pp == proto && p.Port != nil {
				port = *p.Port
				break
			}
		}
		if port <= 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 || !isIPv4(e.Addresses[0]) {
				continue
			}
			ep := endpoint{
				IP:          e.Addresses[0],
				Port:        port,
				Ready:       e.Conditions.Ready == nil || *e.Conditions.Ready,
				Serving:     e.Conditions.Serving == nil || *e.Conditions.Serving,
				Terminating: e.Conditions.Terminating != nil && *e.Conditions.Terminating,
				Local:       e.NodeName != nil && isLocal(*e.NodeName),
			}
			if old, ok := byAddr[ep.String()]; ok && (old.Ready || !ep.Ready) {
				continue
			}
			byAddr[ep.String()] = ep
		}
	}
	out := make([]endpoint, 0, len(byAddr))
	for _, e := range byAddr {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		if c := netip.MustParseAddr(a.IP).Compare(netip.MustParseAddr(b.IP)); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	return out
}
