package endpoints

import (
	"cmp"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-dev/skiff/reconcile/endpointslice/servicepods"
)

// MaxCapacity is the most addresses an Endpoints object carries; past it
// the controller truncates and sets endpoints.kubernetes.io/over-capacity,
// as kube-controller-manager does. EndpointSlices have no such limit.
const MaxCapacity = 1000

// overCapacityTruncated is the over-capacity annotation's value.
const overCapacityTruncated = "truncated"

// desiredSubsets are the subsets of svc's Endpoints: every pod the
// selector matched with an address of the Service's family, ready or not
// ready, on the ports resolved in that pod, in canonical form (see
// repack). It also returns the counts of ready and not-ready addresses.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) ([]corev1.EndpointSubset, int, int) {
	var raw []corev1.EndpointSubset
	var nReady, nNotReady int
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	for _, pod := range pods {
		// Unlike slices, Endpoints have no terminating state: a pod being
		// deleted is dropped, unless every address is to be published.
		if !servicepods.Included(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		addr, ok := podAddress(svc, pod)
		if !ok {
			continue
		}
		ready := svc.Spec.PublishNotReadyAddresses || servicepods.Ready(pod)
		add := func(ports []corev1.EndpointPort) {
			s := corev1.EndpointSubset{Ports: ports}
			if ready {
				s.Addresses = []corev1.EndpointAddress{addr}
				nReady++
			} else {
				s.NotReadyAddresses = []corev1.EndpointAddress{addr}
				nNotReady++
			}
			raw = append(raw, s)
		}
		if len(svc.Spec.Ports) == 0 {
			// A headless Service may have no ports: DNS still needs the
			// addresses.
			if headless {
				add(nil)
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, err := servicepods.FindPort(pod, sp)
			if err != nil {
				continue
			}
			p := corev1.EndpointPort{Name: sp.Name, Port: n, Protocol: cmp.Or(sp.Protocol, corev1.ProtocolTCP)}
			if sp.AppProtocol != nil {
				ap := *sp.AppProtocol
				p.AppProtocol = &ap
			}
			add([]corev1.EndpointPort{p})
		}
	}
	return repack(raw), nReady, nNotReady
}

// podAddress is the pod's address of the Service's (first) IP family.
func podAddress(svc *corev1.Service, pod *corev1.Pod) (corev1.EndpointAddress, bool) {
	v6 := false
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		v6 = svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	case svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone:
		v6 = isV6(svc.Spec.ClusterIP)
	default:
		// No family to go by (a headless Service, or one the API server
		// gave no cluster IP): the pod's primary address decides.
		v6 = isV6(pod.Status.PodIP)
	}
	for _, ip := range servicepods.IPs(pod) {
		if net.ParseIP(ip) != nil && isV6(ip) == v6 {
			a := corev1.EndpointAddress{
				IP:        ip,
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			}
			if pod.Spec.NodeName != "" {
				n := pod.Spec.NodeName
				a.NodeName = &n
			}
			if servicepods.SetsHostname(pod, svc) {
				a.Hostname = pod.Spec.Hostname
			}
			return a, true
		}
	}
	return corev1.EndpointAddress{}, false
}

func isV6(ip string) bool {
	p := net.ParseIP(ip)
	return p != nil && p.To4() == nil
}

// addrKey identifies an address: the same IP may belong to two pods (host
// network), which must stay apart.
type addrKey struct {
	ip  string
	uid types.UID
}

func keyOf(a *corev1.EndpointAddress) addrKey {
	k := addrKey{ip: a.IP}
	if a.TargetRef != nil {
		k.uid = a.TargetRef.UID
	}
	return k
}

func portKey(p corev1.EndpointPort) string {
	ap := ""
	if p.AppProtocol != nil {
		ap = *p.AppProtocol
	}
	return strings.Join([]string{p.Name, strconv.Itoa(int(p.Port)), string(p.Protocol), ap}, "\x00")
}

// repack rewrites subsets in canonical form, whatever their grouping:
// addresses that serve exactly the same ports (with the same readiness)
// share one subset, an address is not ready on a port if any subset says
// so, and subsets, addresses and ports are sorted. Two equal sets of
// endpoints therefore compare equal, and the Endpoints object is only
// rewritten when something changed.
func repack(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	addrs := map[addrKey]corev1.EndpointAddress{}
	ports := map[string]corev1.EndpointPort{}
	// byPort maps a port (noPort for a subset without ports) to the
	// addresses serving it and whether each is ready there.
	const noPort = "\x01none"
	byPort := map[string]map[addrKey]bool{}
	note := func(pk string, a *corev1.EndpointAddress, ready bool) {
		k := keyOf(a)
		if _, ok := addrs[k]; !ok {
			addrs[k] = *a
		}
		m := byPort[pk]
		if m == nil {
			m = map[addrKey]bool{}
			byPort[pk] = m
		}
		if was, seen := m[k]; !seen || was {
			m[k] = ready
		}
	}
	for i := range subsets {
		s := &subsets[i]
		pks := []string{noPort}
		if len(s.Ports) > 0 {
			pks = pks[:0]
			for _, p := range s.Ports {
				pk := portKey(p)
				ports[pk] = p
				pks = append(pks, pk)
			}
		}
		for _, pk := range pks {
			for j := range s.Addresses {
				note(pk, &s.Addresses[j], true)
			}
			for j := range s.NotReadyAddresses {
				note(pk, &s.NotReadyAddresses[j], false)
			}
		}
	}

	// Ports whose address sets (with readiness) are equal share a subset.
	type group struct {
		members map[addrKey]bool
		ports   []corev1.EndpointPort
	}
	groups := map[string]*group{}
	for pk, members := range byPort {
		sig := signature(members)
		g := groups[sig]
		if g == nil {
			g = &group{members: members}
			groups[sig] = g
		}
		if pk != noPort {
			g.ports = append(g.ports, ports[pk])
		}
	}
	out := make([]corev1.EndpointSubset, 0, len(groups))
	for _, g := range groups {
		var s corev1.EndpointSubset
		for k, ready := range g.members {
			if ready {
				s.Addresses = append(s.Addresses, addrs[k])
			} else {
				s.NotReadyAddresses = append(s.NotReadyAddresses, addrs[k])
			}
		}
		slices.SortFunc(s.Addresses, compareAddr)
		slices.SortFunc(s.NotReadyAddresses, compareAddr)
		slices.SortFunc(g.ports, func(a, b corev1.EndpointPort) int { return cmp.Compare(portKey(a), portKey(b)) })
		s.Ports = g.ports
		out = append(out, s)
	}
	slices.SortFunc(out, compareSubset)
	return out
}

func signature(members map[addrKey]bool) string {
	keys := slices.SortedFunc(maps.Keys(members), func(a, b addrKey) int {
		return cmp.Or(cmp.Compare(a.ip, b.ip), cmp.Compare(a.uid, b.uid))
	})
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.ip)
		b.WriteByte('/')
		b.WriteString(string(k.uid))
		if members[k] {
			b.WriteString("+,")
		} else {
			b.WriteString("-,")
		}
	}
	return b.String()
}

func compareAddr(a, b corev1.EndpointAddress) int {
	ka, kb := keyOf(&a), keyOf(&b)
	return cmp.Or(cmp.Compare(ka.ip, kb.ip), cmp.Compare(ka.uid, kb.uid))
}

func compareSubset(a, b corev1.EndpointSubset) int {
	first := func(s corev1.EndpointSubset) string {
		if len(s.Ports) > 0 {
			return portKey(s.Ports[0])
		}
		return ""
	}
	if c := cmp.Compare(first(a), first(b)); c != 0 {
		return c
	}
	addr := func(s corev1.EndpointSubset) string {
		if len(s.Addresses) > 0 {
			return s.Addresses[0].IP
		}
		if len(s.NotReadyAddresses) > 0 {
			return s.NotReadyAddresses[0].IP
		}
		return ""
	}
	return cmp.Compare(addr(a), addr(b))
}

// truncate caps the addresses of subsets at MaxCapacity and reports
// whether it did. Ready addresses are kept before not-ready ones; each
// subset keeps a share proportional to its size, as upstream does, so
// that no port loses all its addresses.
func truncate(subsets []corev1.EndpointSubset) bool {
	var nReady, nNotReady int
	for _, s := range subsets {
		nReady += len(s.Addresses)
		nNotReady += len(s.NotReadyAddresses)
	}
	if nReady+nNotReady <= MaxCapacity {
		return false
	}
	// Either ready addresses alone overflow (then all not-ready ones go
	// and the ready ones are cut), or only not-ready ones are cut.
	cutReady := nReady > MaxCapacity
	budget, total := MaxCapacity-nReady, nNotReady
	if cutReady {
		budget, total = MaxCapacity, nReady
	}
	left := budget
	for i := range subsets {
		s := &subsets[i]
		n := len(s.NotReadyAddresses)
		if cutReady {
			n = len(s.Addresses)
		}
		share := min(int(math.Ceil(float64(n)/float64(total)*float64(budget))), left)
		if cutReady {
			s.Addresses = s.Addresses[:min(share, len(s.Addresses))]
			s.NotReadyAddresses = []corev1.EndpointAddress{}
			left -= len(s.Addresses)
		} else {
			s.NotReadyAddresses = s.NotReadyAddresses[:min(share, len(s.NotReadyAddresses))]
			left -= len(s.NotReadyAddresses)
		}
	}
	return true
}

// addressCount is the number of addresses, ready or not, in subsets.
func addressCount(subsets []corev1.EndpointSubset) int {
	n := 0
	for _, s := range subsets {
		n += len(s.Addresses) + len(s.NotReadyAddresses)
	}
	return n
}
