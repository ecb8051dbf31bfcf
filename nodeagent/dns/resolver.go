package dns

import (
	"context"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// DefaultTTL is the TTL of every cluster record, CoreDNS's kubernetes
// plugin default: short, because Services and endpoints change.
const DefaultTTL = 5

// schemaVersion is the Kubernetes DNS specification version served as
// TXT at dns-version.<domain>.
const schemaVersion = "1.1.0"

// maxCNAMEChain bounds ExternalName chasing (CoreDNS stops at 8).
const maxCNAMEChain = 8

// upstream resolves what the cluster does not know: names outside the
// cluster domain and ExternalName targets.
type upstream interface {
	// Exchange sends req over network ("udp" or "tcp") and returns the
	// answer.
	Exchange(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error)
}

// resolver answers one DNS question. Names in the cluster domain come from
// the catalog, following the Kubernetes DNS specification as CoreDNS's
// kubernetes plugin serves it; PTR questions for ClusterIPs and endpoint
// addresses too; everything else goes upstream.
type resolver struct {
	zone     string // lowercase, fully qualified: "cluster.local."
	ttl      uint32
	catalog  *catalog
	upstream upstream
	// nsAddrs answer ns.dns.<domain>, the zone's name server.
	nsAddrs []netip.Addr
	// serial is the SOA serial: when the catalog last changed, as CoreDNS
	// does.
	serial func() uint32
}

// Answer returns the reply to req, received over network ("udp" or
// "tcp"). Over UDP it is cut to the size the client accepts (512 bytes, or
// its EDNS0 buffer size) with the TC bit set, so the client retries over
// TCP.
func (r *resolver) Answer(ctx context.Context, req *dns.Msg, network string) *dns.Msg {
	m := r.answer(ctx, req, network)
	m.Id = req.Id
	if network == "udp" {
		m.Truncate(udpSize(req))
	} else {
		m.Truncate(dns.MaxMsgSize)
	}
	return m
}

func udpSize(req *dns.Msg) int {
	if o := req.IsEdns0(); o != nil && int(o.UDPSize()) > dns.MinMsgSize {
		return int(o.UDPSize())
	}
	return dns.MinMsgSize
}

func (r *resolver) answer(ctx context.Context, req *dns.Msg, network string) *dns.Msg {
	if len(req.Question) != 1 {
		return failure(req, dns.RcodeFormatError)
	}
	if req.Opcode != dns.OpcodeQuery {
		return failure(req, dns.RcodeNotImplemented)
	}
	q := req.Question[0]
	name := strings.ToLower(dns.Fqdn(q.Name))
	if dns.IsSubDomain(r.zone, name) {
		if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
			return failure(req, dns.RcodeRefused)
		}
		return r.zoneReply(ctx, req, q, name, network)
	}
	// The cluster knows the names of its addresses; for any other address
	// the question goes upstream (CoreDNS's "fallthrough in-addr.arpa").
	if q.Qtype == dns.TypePTR {
		if ip, ok := addressOfReverse(name); ok {
			if ptrs := r.ptr(q.Name, ip); len(ptrs) > 0 {
				m := r.reply(req)
				m.Answer = ptrs
				return withEDNS(req, m)
			}
		}
	}
	return r.forward(ctx, req, network)
}

// failure is an empty reply with rcode.
func failure(req *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, rcode)
	m.RecursionAvailable = true
	return m
}

func (r *resolver) reply(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable, m.Compress = true, true, true
	return m
}

// withEDNS answers EDNS0 with EDNS0, mirroring the client's buffer size
// and DO bit (as CoreDNS does).
func withEDNS(req, m *dns.Msg) *dns.Msg {
	if o := req.IsEdns0(); o != nil {
		m.SetEdns0(uint16(max(int(o.UDPSize()), dns.MinMsgSize)), o.Do())
	}
	return m
}

func (r *resolver) forward(ctx context.Context, req *dns.Msg, network string) *dns.Msg {
	if r.upstream == nil {
		return failure(req, dns.RcodeServerFailure)
	}
	resp, err := r.upstream.Exchange(ctx, req, network)
	if err != nil {
		return failure(req, dns.RcodeServerFailure)
	}
	return resp
}

// zoneReply answers a question in the cluster domain: the records, or
// NODATA (NOERROR, no answer) or NXDOMAIN, both with the zone's SOA in the
// authority section so resolvers cache the negative answer for the TTL.
func (r *resolver) zoneReply(ctx context.Context, req *dns.Msg, q dns.Question, name, network string) *dns.Msg {
	m := r.reply(req)
	res := r.lookup(ctx, q.Name, name, q.Qtype, 0)
	switch {
	case !res.exists:
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{r.soa()}
	case len(res.answer) == 0:
		m.Ns = []dns.RR{r.soa()}
	default:
		m.Answer, m.Extra = res.answer, res.extra
	}
	return withEDNS(req, m)
}

// result is what a name holds for one type; exists false is NXDOMAIN.
type result struct {
	answer, extra []dns.RR
	exists        bool
}

var (
	nxdomain = result{}
	nodata   = result{exists: true}
)

// lookup resolves name (lowercase; qname is the question's spelling, which
// the answer echoes) in the cluster domain. The names, after CoreDNS's
// parseRequest:
//
//	<domain>                               SOA, NS
//	dns-version.<domain>                   TXT "1.1.0"
//	ns.dns.<domain>                        A/AAAA of this server
//	<svc>.<ns>.svc.<domain>                ClusterIPs; ready endpoints if headless; CNAME for ExternalName
//	<endpoint>.<svc>.<ns>.svc.<domain>     one endpoint (its hostname, or its dashed address)
//	_<port>._<proto>.<svc>.<ns>.svc.<domain>  SRV of a named port
//	<dashed-ip>.<ns>.pod.<domain>          a pod's address, if such a pod exists
//
// svc.<domain>, pod.<domain> and <ns>.svc.<domain> of an existing
// namespace exist without records (NODATA); any other name is NXDOMAIN.
func (r *resolver) lookup(ctx context.Context, qname, name string, qtype uint16, depth int) result {
	base := strings.TrimSuffix(strings.TrimSuffix(name, r.zone), ".")
	switch base {
	case "":
		return r.apex(qtype)
	case "dns-version":
		if qtype == dns.TypeTXT {
			return result{exists: true, answer: []dns.RR{&dns.TXT{
				Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 28800}, Txt: []string{schemaVersion}}}}
		}
		return nodata
	case "dns":
		return nodata
	case "ns.dns":
		return result{exists: true, answer: r.addressRecords(qname, qtype, r.nsAddrs)}
	}
	labels := strings.Split(base, ".")
	n := len(labels)
	kind := labels[n-1]
	if kind != "svc" && kind != "pod" {
		return nxdomain
	}
	if n == 1 {
		return nodata
	}
	ns := labels[n-2]
	if !r.catalog.namespaceExists(ns) {
		return nxdomain
	}
	if n == 2 {
		return nodata
	}
	if kind == "pod" {
		if n != 3 {
			return nxdomain
		}
		return r.podRecords(qname, ns, labels[0], qtype)
	}
	var sel selector
	switch rest := labels[:n-3]; len(rest) {
	case 0:
	case 1:
		sel.endpoint = rest[0]
	case 2:
		// CoreDNS takes the two labels as port and protocol with or
		// without their underscores.
		sel.port, sel.protocol = strings.TrimPrefix(rest[0], "_"), strings.TrimPrefix(rest[1], "_")
	default:
		return nxdomain
	}
	svc := r.catalog.service(ns, labels[n-3])
	if svc == nil {
		return nxdomain
	}
	targets, ok := r.serviceTargets(svc, sel)
	if !ok {
		return nxdomain
	}
	return r.records(ctx, qname, name, qtype, targets, depth)
}

// selector narrows a Service name: to one endpoint, or to a port.
type selector struct {
	endpoint, port, protocol string
}

func (s selector) matches(name string, protocol corev1.Protocol) bool {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	return (s.port == "" || strings.EqualFold(s.port, name)) && (s.protocol == "" || strings.EqualFold(s.protocol, string(protocol)))
}

// target is one thing a Service name stands for: an address (with the
// name that address is known by, for SRV targets, and a port or -1), or an
// ExternalName's canonical name.
type target struct {
	owner string
	addr  netip.Addr
	port  int32
	cname string
}

// serviceTargets lists what a Service name selects; false when nothing,
// which is NXDOMAIN. As in CoreDNS: a ClusterIP Service is its ClusterIPs
// (one target per matching port); a headless one, or an endpoint name, is
// its ready endpoints; an ExternalName Service is a CNAME and has no
// endpoint or port names. A Service without ClusterIPs yet (or of the
// other family) still exists: NODATA.
func (r *resolver) serviceTargets(svc *corev1.Service, sel selector) ([]target, bool) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		if sel != (selector{}) || svc.Spec.ExternalName == "" {
			return nil, false
		}
		return []target{{cname: strings.ToLower(dns.Fqdn(svc.Spec.ExternalName))}}, true
	}
	svcName := svc.Name + "." + svc.Namespace + ".svc." + r.zone
	var out []target
	if isHeadless(svc) || sel.endpoint != "" {
		for _, ep := range r.catalog.endpoints(svc.Namespace, svc.Name) {
			if sel.endpoint != "" && ep.hostname != sel.endpoint {
				continue
			}
			owner := ep.hostname + "." + svcName
			if len(ep.ports) == 0 && sel.port == "" && sel.protocol == "" {
				out = append(out, target{owner: owner, addr: ep.addr, port: -1})
			}
			for _, p := range ep.ports {
				if !sel.matches(deref(p.Name), derefProtocol(p.Protocol)) {
					continue
				}
				port := int32(-1)
				if p.Port != nil {
					port = *p.Port
				}
				out = append(out, target{owner: owner, addr: ep.addr, port: port})
			}
		}
		return out, len(out) > 0
	}
	ports := svc.Spec.Ports
	matched := false
	if len(ports) == 0 && sel.port == "" && sel.protocol == "" {
		// No ports: the name still has its address, only no SRV.
		ports, matched = []corev1.ServicePort{{Port: -1}}, true
	}
	for _, p := range ports {
		if p.Port != -1 && !sel.matches(p.Name, p.Protocol) {
			continue
		}
		matched = true
		for _, ip := range clusterIPs(svc) {
			if addr, err := netip.ParseAddr(ip); err == nil {
				out = append(out, target{owner: svcName, addr: addr.Unmap(), port: p.Port})
			}
		}
	}
	return out, matched
}

// records turns targets into the answer for qtype.
func (r *resolver) records(ctx context.Context, qname, name string, qtype uint16, targets []target, depth int) result {
	res := result{exists: true}
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		var addrs []netip.Addr
		for _, t := range targets {
			if t.cname != "" {
				res.answer = append(res.answer, r.chase(ctx, qname, name, t.cname, qtype, depth)...)
				continue
			}
			addrs = append(addrs, t.addr)
		}
		res.answer = append(res.answer, r.addressRecords(qname, qtype, addrs)...)
	case dns.TypeCNAME:
		for _, t := range targets {
			if t.cname != "" {
				res.answer = append(res.answer, r.cname(qname, t.cname))
			}
		}
	case dns.TypeSRV:
		type key struct {
			owner string
			port  int32
		}
		seenSRV := map[key]bool{}
		seenAddr := map[key]bool{}
		var srvs []*dns.SRV
		for _, t := range targets {
			if t.cname != "" || t.port < 0 {
				continue
			}
			if k := (key{t.owner, t.port}); !seenSRV[k] {
				seenSRV[k] = true
				srvs = append(srvs, &dns.SRV{Hdr: r.header(qname, dns.TypeSRV), Port: uint16(t.port), Target: t.owner})
			}
			if k := (key{t.owner + "|" + t.addr.String(), 0}); !seenAddr[k] {
				seenAddr[k] = true
				rrtype := dns.TypeA
				if t.addr.Is6() {
					rrtype = dns.TypeAAAA
				}
				res.extra = append(res.extra, r.addressRecords(t.owner, rrtype, []netip.Addr{t.addr})...)
			}
		}
		// Every record has priority 0 and an equal share of weight 100,
		// as CoreDNS gives them.
		weight := uint16(max(1, 100/max(1, len(srvs))))
		for _, s := range srvs {
			s.Weight = weight
			res.answer = append(res.answer, s)
		}
	}
	return res
}

// chase answers an ExternalName: the CNAME, then the target's records of
// qtype, from the cluster if the target is in the cluster domain,
// otherwise from upstream (as CoreDNS does). If the target cannot be
// resolved the CNAME alone is the answer; the client may follow it.
func (r *resolver) chase(ctx context.Context, qname, name, targetName string, qtype uint16, depth int) []dns.RR {
	cname := r.cname(qname, targetName)
	if targetName == name || depth >= maxCNAMEChain {
		return []dns.RR{cname}
	}
	if dns.IsSubDomain(r.zone, targetName) {
		res := r.lookup(ctx, targetName, targetName, qtype, depth+1)
		return append([]dns.RR{cname}, res.answer...)
	}
	if r.upstream == nil {
		return []dns.RR{cname}
	}
	q := new(dns.Msg)
	q.SetQuestion(targetName, qtype)
	resp, err := r.upstream.Exchange(ctx, q, "udp")
	if err == nil && resp.Truncated {
		resp, err = r.upstream.Exchange(ctx, q, "tcp")
	}
	if err != nil || resp.Rcode != dns.RcodeSuccess {
		return []dns.RR{cname}
	}
	return append([]dns.RR{cname}, resp.Answer...)
}

// podRecords answers <dashed-ip>.<ns>.pod.<domain> when a pod in that
// namespace has the address (CoreDNS's "pods verified").
func (r *resolver) podRecords(qname, ns, label string, qtype uint16) result {
	ipText := strings.ReplaceAll(label, "-", ":")
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		ipText = strings.ReplaceAll(label, "-", ".")
	}
	addr, err := netip.ParseAddr(ipText)
	if err != nil {
		return nxdomain
	}
	addr = addr.Unmap()
	for _, p := range r.catalog.podsByIP(addr) {
		if p.Namespace == ns {
			switch qtype {
			case dns.TypeA, dns.TypeAAAA:
				return result{exists: true, answer: r.addressRecords(qname, qtype, []netip.Addr{addr})}
			}
			return nodata
		}
	}
	return nxdomain
}

// apex answers the zone's own name: its SOA and its name server.
func (r *resolver) apex(qtype uint16) result {
	switch qtype {
	case dns.TypeSOA:
		return result{exists: true, answer: []dns.RR{r.soa()}}
	case dns.TypeNS:
		ns := "ns.dns." + r.zone
		return result{exists: true,
			answer: []dns.RR{&dns.NS{Hdr: r.header(r.zone, dns.TypeNS), Ns: ns}},
			extra:  append(r.addressRecords(ns, dns.TypeA, r.nsAddrs), r.addressRecords(ns, dns.TypeAAAA, r.nsAddrs)...)}
	}
	return nodata
}

// ptr names a ClusterIP after its Service, or else an endpoint address
// after each Service it is a ready endpoint of, as CoreDNS does.
func (r *resolver) ptr(qname string, ip netip.Addr) []dns.RR {
	if svcs := r.catalog.servicesByIP(ip); len(svcs) > 0 {
		return []dns.RR{&dns.PTR{Hdr: r.header(qname, dns.TypePTR), Ptr: svcs[0].Name + "." + svcs[0].Namespace + ".svc." + r.zone}}
	}
	var out []dns.RR
	seen := map[string]bool{}
	for _, ep := range r.catalog.endpointsByIP(ip) {
		n := ep.hostname + "." + ep.service + "." + ep.namespace + ".svc." + r.zone
		if !seen[n] {
			seen[n] = true
			out = append(out, &dns.PTR{Hdr: r.header(qname, dns.TypePTR), Ptr: n})
		}
	}
	return out
}

// addressRecords makes A (or AAAA) records of the addresses of that
// family, each once.
func (r *resolver) addressRecords(name string, qtype uint16, addrs []netip.Addr) []dns.RR {
	var out []dns.RR
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		if seen[a] || !a.IsValid() {
			continue
		}
		seen[a] = true
		switch {
		case qtype == dns.TypeA && a.Is4():
			out = append(out, &dns.A{Hdr: r.header(name, dns.TypeA), A: a.AsSlice()})
		case qtype == dns.TypeAAAA && a.Is6():
			out = append(out, &dns.AAAA{Hdr: r.header(name, dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	return out
}

func (r *resolver) cname(name, targetName string) dns.RR {
	return &dns.CNAME{Hdr: r.header(name, dns.TypeCNAME), Target: targetName}
}

func (r *resolver) header(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: r.ttl}
}

// soa is the zone's SOA, with CoreDNS's names and timers; its minimum
// (the negative-caching TTL) is the record TTL.
func (r *resolver) soa() dns.RR {
	serial := uint32(1)
	if r.serial != nil {
		serial = r.serial()
	}
	return &dns.SOA{Hdr: r.header(r.zone, dns.TypeSOA), Ns: "ns.dns." + r.zone, Mbox: "hostmaster." + r.zone,
		Serial: serial, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: r.ttl}
}

// addressOfReverse parses a full in-addr.arpa or ip6.arpa name; partial
// names (a reverse zone, not an address) are not addresses.
func addressOfReverse(name string) (netip.Addr, bool) {
	name = strings.TrimSuffix(name, ".")
	switch {
	case strings.HasSuffix(name, ".in-addr.arpa"):
		labels := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa"), ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			var v int
			for _, c := range l {
				if c < '0' || c > '9' {
					return netip.Addr{}, false
				}
				v = v*10 + int(c-'0')
			}
			if l == "" || v > 255 || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	case strings.HasSuffix(name, ".ip6.arpa"):
		labels := strings.Split(strings.TrimSuffix(name, ".ip6.arpa"), ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			v := strings.IndexByte("0123456789abcdef", l[0])
			if v < 0 {
				return netip.Addr{}, false
			}
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(v) << 4
			} else {
				b[pos/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(b).Unmap(), true
	}
	return netip.Addr{}, false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefProtocol(p *corev1.Protocol) corev1.Protocol {
	if p == nil {
		return corev1.ProtocolTCP
	}
	return *p
}
