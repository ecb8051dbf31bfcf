package endpointslice

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/reconcile/endpointslice/servicepods"
	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
// slices this controller writes. It is kube-controller-manager's own, so
// proxies, DNS servers and mirroring controllers written for Kubernetes
// treat Skiff's slices as the standard controller's.
const ManagedBy = "endpointslice-controller.k8s.io"

// MaxEndpointsPerSlice is kube-controller-manager's default
// --max-endpoints-per-slice: small enough that one pod's change rewrites
// a small object, large enough that a big Service has few slices.
const MaxEndpointsPerSlice = 100

var serviceGVK = corev1.SchemeGroupVersion.WithKind("Service")

// plan is the API writes that take a Service's slices to the desired
// state, in the order they are made: creates first, so that a Service
// whose endpoints move between slices is never seen without them.
type plan struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

func (p *plan) empty() bool {
	return len(p.create)+len(p.update)+len(p.delete) == 0
}

// planInput is everything the desired slices depend on.
type planInput struct {
	service *corev1.Service
	// pods are those the Service's selector matches.
	pods []*corev1.Pod
	// node returns a node from the cache, nil if there is none.
	node func(name string) *corev1.Node
	// existing are the slices labelled for the Service and managed by
	// this controller, none of them being deleted.
	existing    []*discoveryv1.EndpointSlice
	maxPerSlice int
	// triggerTime is annotated on every slice written (zero: removed).
	triggerTime time.Time
}

// computePlan compares the endpoints the Service's pods call for with the
// existing slices and returns the writes that reconcile them, plus the
// pods left out because their node is unknown (the caller retries them).
//
// The approach is upstream's reconciler's: endpoints are grouped by the
// ports they resolve to (a named targetPort may be a different number in
// different pods, and a slice has one port list); within a group an
// endpoint that already sits in a slice stays there, slices that changed
// anyway are topped up first, then leftovers go into the unchanged slice
// they fill best, and only then into new slices. That keeps each pod
// change to about one slice write instead of repacking everything.
func computePlan(in planInput) (plan, []string) {
	var p plan
	var skipped []string
	if in.maxPerSlice <= 0 {
		in.maxPerSlice = MaxEndpointsPerSlice
	}
	svc := in.service
	types := addressTypes(svc)
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	for _, s := range in.existing {
		if !slices.Contains(types, s.AddressType) {
			p.delete = append(p.delete, s)
			continue
		}
		byType[s.AddressType] = append(byType[s.AddressType], s)
	}
	for _, at := range types {
		tp, sk := planAddressType(in, at, byType[at])
		p.create = append(p.create, tp.create...)
		p.update = append(p.update, tp.update...)
		p.delete = append(p.delete, tp.delete...)
		if skipped == nil {
			skipped = sk
		}
	}
	if svc.DeletionTimestamp != nil {
		// The garbage collector is deleting the Service's slices: creating
		// new ones would race it.
		p.create = nil
	}
	for _, s := range p.create {
		setTriggerTime(s, in.triggerTime)
	}
	for _, s := range p.update {
		setTriggerTime(s, in.triggerTime)
	}
	return p, skipped
}

// portGroup is the desired endpoints that share one resolved port list.
type portGroup struct {
	ports []discoveryv1.EndpointPort
	eps   map[string]*discoveryv1.Endpoint
}

// take removes and returns up to n endpoints not yet placed, in a stable
// order so that repeated syncs (and tests) agree.
func (g *portGroup) take(n int) []discoveryv1.Endpoint {
	keys := slices.Sorted(maps.Keys(g.eps))
	if len(keys) > n {
		keys = keys[:n]
	}
	out := make([]discoveryv1.Endpoint, 0, len(keys))
	for _, k := range keys {
		out = append(out, *g.eps[k])
		delete(g.eps, k)
	}
	return out
}

func planAddressType(in planInput, at discoveryv1.AddressType, existing []*discoveryv1.EndpointSlice) (plan, []string) {
	svc := in.service
	var p plan
	var skipped []string

	existingByPorts := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if !ownedBy(s, svc) {
			// A slice of an earlier Service of the same name, which the
			// garbage collector may already be deleting.
			p.delete = append(p.delete, s)
			continue
		}
		k := portsKey(s.Ports)
		existingByPorts[k] = append(existingByPorts[k], s)
	}

	groups := map[string]*portGroup{}
	for _, pod := range in.pods {
		if !servicepods.Included(pod, true) {
			continue
		}
		node := in.node(pod.Spec.NodeName)
		if node == nil && !svc.Spec.PublishNotReadyAddresses {
			// A pod whose node is gone is most likely gone too; leave it
			// out now and retry, so that the slice is not stuck on it. A
			// Service that publishes not-ready addresses asked for it anyway.
			skipped = append(skipped, pod.Name)
			continue
		}
		ep := podEndpoint(pod, node, svc, at)
		if len(ep.Addresses) == 0 {
			continue
		}
		ports := endpointPorts(svc, pod)
		k := portsKey(ports)
		g := groups[k]
		if g == nil {
			g = &portGroup{ports: ports, eps: map[string]*discoveryv1.Endpoint{}}
			groups[k] = g
		}
		g.eps[endpointKey(&ep)] = &ep
	}

	labels := sliceLabels(svc)
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		gp := planPortGroup(svc, at, labels, existingByPorts[k], groups[k], in.maxPerSlice)
		p.create = append(p.create, gp.create...)
		p.update = append(p.update, gp.update...)
		p.delete = append(p.delete, gp.delete...)
	}
	for _, k := range slices.Sorted(maps.Keys(existingByPorts)) {
		if groups[k] == nil {
			p.delete = append(p.delete, existingByPorts[k]...)
		}
	}

	// A Service without endpoints still gets one empty slice, so that
	// readers can tell "no endpoints" from "not processed yet".
	if len(p.create) == 0 && len(p.delete) == len(existing) {
		if len(p.delete) == 1 && isPlaceholder(p.delete[0], svc, at, labels) {
			p.delete = nil
		} else {
			p.create = append(p.create, newSlice(svc, at, labels, []discoveryv1.EndpointPort{}))
		}
	}

	// Rather than delete one slice and create another, rewrite the one
	// that would go: fewer writes, and the slice names stay put.
	for len(p.create) > 0 {
		i := slices.IndexFunc(p.delete, func(s *discoveryv1.EndpointSlice) bool {
			return s.AddressType == at && ownedBy(s, svc)
		})
		if i < 0 {
			break
		}
		old := p.delete[i]
		s := p.create[len(p.create)-1]
		p.create = p.create[:len(p.create)-1]
		p.delete = slices.Delete(p.delete, i, i+1)
		s.Name, s.UID, s.ResourceVersion = old.Name, old.UID, old.ResourceVersion
		s.Annotations = maps.Clone(old.Annotations)
		p.update = append(p.update, s)
	}
	return p, skipped
}

func planPortGroup(svc *corev1.Service, at discoveryv1.AddressType, labels map[string]string, existing []*discoveryv1.EndpointSlice, g *portGroup, max int) plan {
	var p plan
	var unchanged []*discoveryv1.EndpointSlice
	existing = slices.SortedFunc(slices.Values(existing), func(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })

	// 1. Keep every desired endpoint where it already is, updated in place.
	for _, s := range existing {
		kept := make([]discoveryv1.Endpoint, 0, len(s.Endpoints))
		changed := false
		for i := range s.Endpoints {
			k := endpointKey(&s.Endpoints[i])
			want, ok := g.eps[k]
			if !ok {
				continue
			}
			kept = append(kept, *want)
			if !sameEndpoint(want, &s.Endpoints[i]) {
				changed = true
			}
			delete(g.eps, k)
		}
		switch {
		case changed || len(kept) != len(s.Endpoints):
			if len(kept) == 0 {
				p.delete = append(p.delete, s)
				continue
			}
			c := s.DeepCopy()
			c.Endpoints, c.Labels = kept, maps.Clone(labels)
			p.update = append(p.update, c)
		case !maps.Equal(s.Labels, labels):
			c := s.DeepCopy()
			c.Labels = maps.Clone(labels)
			p.update = append(p.update, c)
		default:
			unchanged = append(unchanged, s)
		}
	}

	// 2. Top up the slices being written anyway, fullest first.
	slices.SortStableFunc(p.update, func(a, b *discoveryv1.EndpointSlice) int {
		return cmp.Compare(len(b.Endpoints), len(a.Endpoints))
	})
	for _, s := range p.update {
		if len(g.eps) == 0 {
			break
		}
		if room := max - len(s.Endpoints); room > 0 {
			s.Endpoints = append(s.Endpoints, g.take(room)...)
		}
	}

	// 3. Put what is left into the unchanged slice it fills best, or into
	//    new slices.
	for len(g.eps) > 0 {
		var fill *discoveryv1.EndpointSlice
		if len(g.eps) < max {
			if i := bestFit(unchanged, len(g.eps), max); i >= 0 {
				fill = unchanged[i].DeepCopy()
				unchanged = slices.Delete(unchanged, i, i+1)
				p.update = append(p.update, fill)
			}
		}
		if fill == nil {
			fill = newSlice(svc, at, labels, g.ports)
			p.create = append(p.create, fill)
		}
		fill.Endpoints = append(fill.Endpoints, g.take(max-len(fill.Endpoints))...)
	}
	return p
}

// bestFit returns the index of the slice that n more endpoints bring
// closest to max without exceeding it, or -1.
func bestFit(ss []*discoveryv1.EndpointSlice, n, max int) int {
	best, bestRoom := -1, max
	for i, s := range ss {
		room := max - (n + len(s.Endpoints))
		if room >= 0 && room < bestRoom {
			best, bestRoom = i, room
		}
	}
	return best
}

// addressTypes are the slice address types a Service gets: one per IP
// family it has. A Service the API server gave no families (Skiff's
// allocates none yet) gets the family of its cluster IP, else IPv4:
// Skiff's pod network is IPv4. Upstream assumes both families for such a
// headless Service and would publish an always-empty IPv6 slice.
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range svc.Spec.IPFamilies {
		at := discoveryv1.AddressTypeIPv4
		if f == corev1.IPv6Protocol {
			at = discoveryv1.AddressTypeIPv6
		}
		if !slices.Contains(out, at) {
			out = append(out, at)
		}
	}
	if len(out) > 0 {
		return out
	}
	if ip := net.ParseIP(svc.Spec.ClusterIP); ip != nil && ip.To4() == nil {
		return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv6}
	}
	return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4}
}

// podEndpoint is the endpoint of one pod in a slice of type at.
func podEndpoint(pod *corev1.Pod, node *corev1.Node, svc *corev1.Service, at discoveryv1.AddressType) discoveryv1.Endpoint {
	serving := servicepods.Ready(pod)
	terminating := pod.DeletionTimestamp != nil
	// A terminating pod is never "ready", so that consumers that know only
	// ready (older proxies) stop sending it new connections, unless the
	// Service wants every address published whatever its state.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses: []string{},
		Conditions: discoveryv1.EndpointConditions{
			Ready: &ready, Serving: &serving, Terminating: &terminating,
		},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	for _, s := range servicepods.IPs(pod) {
		ip := net.ParseIP(s)
		if ip == nil {
			continue
		}
		if (ip.To4() != nil) == (at == discoveryv1.AddressTypeIPv4) {
			// Re-rendered, so an irregular spelling compares equal.
			ep.Addresses = append(ep.Addresses, ip.String())
		}
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		ep.NodeName = &n
	}
	if node != nil {
		if z := node.Labels[corev1.LabelTopologyZone]; z != "" {
			ep.Zone = &z
		}
	}
	if servicepods.SetsHostname(pod, svc) {
		h := pod.Spec.Hostname
		ep.Hostname = &h
	}
	return ep
}

// endpointPorts resolves the Service's ports in one pod. A port whose
// named targetPort the pod lacks is left out for that pod only.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		n, err := servicepods.FindPort(pod, sp)
		if err != nil {
			continue
		}
		name, proto := sp.Name, sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		ep := discoveryv1.EndpointPort{Name: &name, Port: &n, Protocol: &proto}
		if sp.AppProtocol != nil {
			ap := *sp.AppProtocol
			ep.AppProtocol = &ap
		}
		out = append(out, ep)
	}
	return out
}

// portsKey identifies a port list regardless of its order.
func portsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		parts = append(parts, strings.Join([]string{deref(p.Name), deref(p.Protocol), strconv.Itoa(int(derefInt(p.Port))), deref(p.AppProtocol)}, "\x00"))
	}
	slices.Sort(parts)
	return strings.Join(parts, "\x01")
}

// endpointKey identifies an endpoint across syncs: its addresses, its
// hostname and its pod. Everything else (conditions, node, zone) may
// change in place.
func endpointKey(ep *discoveryv1.Endpoint) string {
	addrs := slices.Sorted(slices.Values(ep.Addresses))
	var ns, name string
	if ep.TargetRef != nil {
		ns, name = ep.TargetRef.Namespace, ep.TargetRef.Name
	}
	return fmt.Sprintf("%s/%s|%s|%s", ns, name, deref(ep.Hostname), strings.Join(addrs, ","))
}

// sameEndpoint compares what endpointKey leaves out. The pod reference's
// resourceVersion is ignored: pods change all the time without their
// endpoint changing.
func sameEndpoint(a, b *discoveryv1.Endpoint) bool {
	if deref(a.NodeName) != deref(b.NodeName) || (a.NodeName == nil) != (b.NodeName == nil) ||
		deref(a.Zone) != deref(b.Zone) || (a.Zone == nil) != (b.Zone == nil) ||
		!sameBool(a.Conditions.Ready, b.Conditions.Ready) ||
		!sameBool(a.Conditions.Serving, b.Conditions.Serving) ||
		!sameBool(a.Conditions.Terminating, b.Conditions.Terminating) ||
		!reflect.DeepEqual(a.Hints, b.Hints) || !maps.Equal(a.DeprecatedTopology, b.DeprecatedTopology) {
		return false
	}
	if (a.TargetRef == nil) != (b.TargetRef == nil) {
		return false
	}
	if a.TargetRef != nil {
		ra, rb := *a.TargetRef, *b.TargetRef
		ra.ResourceVersion, rb.ResourceVersion = "", ""
		return ra == rb
	}
	return true
}

func sameBool(a, b *bool) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// sliceLabels are the labels of every slice of svc: the Service's own
// (so label selectors over slices follow the Service's), with the three
// reserved ones set by the controller whatever the Service says.
func sliceLabels(svc *corev1.Service) map[string]string {
	out := make(map[string]string, len(svc.Labels)+3)
	for k, v := range svc.Labels {
		if k != discoveryv1.LabelServiceName && k != discoveryv1.LabelManagedBy && k != corev1.IsHeadlessService {
			out[k] = v
		}
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[corev1.IsHeadlessService] = ""
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = ManagedBy
	return out
}

func newSlice(svc *corev1.Service, at discoveryv1.AddressType, labels map[string]string, ports []discoveryv1.EndpointPort) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    slicePrefix(svc.Name),
			Namespace:       svc.Namespace,
			Labels:          maps.Clone(labels),
			OwnerReferences: []metav1.OwnerReference{*ownerref.NewControllerRef(svc, serviceGVK)},
		},
		AddressType: at,
		Ports:       slices.Clone(ports),
		Endpoints:   []discoveryv1.Endpoint{},
	}
}

// slicePrefix is the generateName of a Service's slices: "<svc>-", unless
// the dash would make an over-long name invalid.
func slicePrefix(name string) string {
	p := name + "-"
	if len(apivalidation.NameIsDNSSubdomain(p, true)) != 0 {
		return name
	}
	return p
}

// isPlaceholder reports whether s is already the empty slice a Service
// without endpoints gets.
func isPlaceholder(s *discoveryv1.EndpointSlice, svc *corev1.Service, at discoveryv1.AddressType, labels map[string]string) bool {
	return len(s.Endpoints) == 0 && len(s.Ports) == 0 && s.AddressType == at &&
		ownedBy(s, svc) && maps.Equal(s.Labels, labels)
}

func ownedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	for _, o := range s.OwnerReferences {
		if o.UID == svc.UID && o.Kind == "Service" && o.APIVersion == "v1" {
			return true
		}
	}
	return false
}

func setTriggerTime(s *discoveryv1.EndpointSlice, t time.Time) {
	if t.IsZero() {
		delete(s.Annotations, corev1.EndpointsLastChangeTriggerTime)
		return
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[corev1.EndpointsLastChangeTriggerTime] = t.UTC().Format(time.RFC3339Nano)
}

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func derefInt(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
