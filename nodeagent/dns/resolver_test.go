package dns

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

const testSerial = 1700000000

const soaText = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5"

// testResolver is a cluster with: Service web (ClusterIP, three ports),
// headless Service db over three ready endpoints (one named db-1 by its
// hostname) and one not ready, ExternalName Services to an outside and an
// inside name, a dual-stack Service, a Service not yet given a ClusterIP,
// a headless Service without endpoints, and a pod in default.
func testResolver() (*resolver, *fakeUpstream) {
	c := newCatalog()
	dual := service("default", "dual", "10.96.0.20", port("http", 80, corev1.ProtocolTCP))
	dual.Spec.ClusterIPs = []string{"10.96.0.20", "fd00::20"}
	c.add(
		namespace("default"), namespace("other"),
		service("default", "web", "10.96.0.10", port("http", 80, corev1.ProtocolTCP), port("dns", 53, corev1.ProtocolUDP), port("", 8443, corev1.ProtocolTCP)),
		service("default", "db", corev1.ClusterIPNone, port("http", 8080, corev1.ProtocolTCP)),
		slice("default", "db", "db-abc", []discoveryPort{slicePort("http", 8080, corev1.ProtocolTCP)},
			endpointAt("10.42.0.5", true, ""), endpointAt("10.42.0.6", true, "db-1"), endpointAt("10.42.0.7", false, "")),
		// A second slice repeating an address (as during a slice
		// rebalance) and adding one.
		slice("default", "db", "db-def", []discoveryPort{slicePort("http", 8080, corev1.ProtocolTCP)},
			endpointAt("10.42.0.5", true, ""), endpointAt("10.42.0.8", true, "")),
		// Endpoints of web (PTR of its pods, endpoint names under it).
		slice("default", "web", "web-abc", []discoveryPort{slicePort("http", 8080, corev1.ProtocolTCP)}, endpointAt("10.42.0.9", true, "")),
		externalName("default", "ext", "example.org"),
		externalName("default", "inside", "web.default.svc.cluster.local"),
		dual,
		service("default", "pending", ""),
		service("default", "empty", corev1.ClusterIPNone),
		pod("default", "p1", "10.42.0.5"),
	)
	up := &fakeUpstream{records: map[string][]string{
		"example.org. A":            {"example.org. 300 IN A 192.0.2.10"},
		"external.test. A":          {"external.test. 60 IN A 192.0.2.77"},
		"9.9.9.9.in-addr.arpa. PTR": {"9.9.9.9.in-addr.arpa. 60 IN PTR dns9.example."},
	}}
	return &resolver{zone: "cluster.local.", ttl: DefaultTTL, catalog: c, upstream: up,
		nsAddrs: []netip.Addr{mustAddr("10.42.0.1")}, serial: func() uint32 { return testSerial }}, up
}

func TestResolverAnswers(t *testing.T) {
	const (
		web = "web.default.svc.cluster.local."
		db  = "db.default.svc.cluster.local."
	)
	tests := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer []string // in order
		extra  []string // any order
		soa    bool     // the SOA in the authority section
	}{
		{name: web, qtype: dns.TypeA, answer: []string{web + " 5 IN A 10.96.0.10"}},
		{name: "WEB.Default.svc.Cluster.local.", qtype: dns.TypeA, answer: []string{"WEB.Default.svc.Cluster.local. 5 IN A 10.96.0.10"}},
		{name: web, qtype: dns.TypeAAAA, soa: true},
		{name: web, qtype: dns.TypeMX, soa: true},
		{name: web, qtype: dns.TypeTXT, soa: true},
		{name: "nothere.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "nothere.default.svc.cluster.local.", qtype: dns.TypeAAAA, rcode: dns.RcodeNameError, soa: true},
		{name: "web.nons.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "web.default.svc.cluster.local.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "default.svc.cluster.local.", qtype: dns.TypeA, soa: true},
		{name: "nons.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "svc.cluster.local.", qtype: dns.TypeA, soa: true},
		{name: "foo.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "pending.default.svc.cluster.local.", qtype: dns.TypeA, soa: true},

		// Headless: every ready endpoint, each address once.
		{name: db, qtype: dns.TypeA, answer: []string{db + " 5 IN A 10.42.0.5", db + " 5 IN A 10.42.0.6", db + " 5 IN A 10.42.0.8"}},
		{name: db, qtype: dns.TypeAAAA, soa: true},
		{name: "empty.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "db-1." + db, qtype: dns.TypeA, answer: []string{"db-1." + db + " 5 IN A 10.42.0.6"}},
		{name: "10-42-0-5." + db, qtype: dns.TypeA, answer: []string{"10-42-0-5." + db + " 5 IN A 10.42.0.5"}},
		{name: "10-42-0-7." + db, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "10-42-0-9." + web, qtype: dns.TypeA, answer: []string{"10-42-0-9." + web + " 5 IN A 10.42.0.9"}},

		// SRV of named ports.
		{name: "_http._tcp." + web, qtype: dns.TypeSRV,
			answer: []string{"_http._tcp." + web + " 5 IN SRV 0 100 80 " + web},
			extra:  []string{web + " 5 IN A 10.96.0.10"}},
		{name: "_dns._udp." + web, qtype: dns.TypeSRV, answer: []string{"_dns._udp." + web + " 5 IN SRV 0 100 53 " + web}, extra: []string{web + " 5 IN A 10.96.0.10"}},
		{name: "_http._udp." + web, qtype: dns.TypeSRV, rcode: dns.RcodeNameError, soa: true},
		{name: "_nope._tcp." + web, qtype: dns.TypeSRV, rcode: dns.RcodeNameError, soa: true},
		{name: "_http._tcp." + web, qtype: dns.TypeA, answer: []string{"_http._tcp." + web + " 5 IN A 10.96.0.10"}},
		{name: web, qtype: dns.TypeSRV,
			answer: []string{web + " 5 IN SRV 0 33 80 " + web, web + " 5 IN SRV 0 33 53 " + web, web + " 5 IN SRV 0 33 8443 " + web},
			extra:  []string{web + " 5 IN A 10.96.0.10"}},
		{name: "_http._tcp." + db, qtype: dns.TypeSRV,
			answer: []string{
				"_http._tcp." + db + " 5 IN SRV 0 33 8080 10-42-0-5." + db,
				"_http._tcp." + db + " 5 IN SRV 0 33 8080 db-1." + db,
				"_http._tcp." + db + " 5 IN SRV 0 33 8080 10-42-0-8." + db},
			extra: []string{"10-42-0-5." + db + " 5 IN A 10.42.0.5", "db-1." + db + " 5 IN A 10.42.0.6", "10-42-0-8." + db + " 5 IN A 10.42.0.8"}},

		// PTR of a ClusterIP, of endpoints, and of an outside address.
		{name: "10.0.96.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"10.0.96.10.in-addr.arpa. 5 IN PTR " + web}},
		{name: "6.0.42.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"6.0.42.10.in-addr.arpa. 5 IN PTR db-1." + db}},
		{name: "5.0.42.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"5.0.42.10.in-addr.arpa. 5 IN PTR 10-42-0-5." + db}},
		{name: "9.9.9.9.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"9.9.9.9.in-addr.arpa. 60 IN PTR dns9.example."}},

		// ExternalName.
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"ext.default.svc.cluster.local. 5 IN CNAME example.org.", "example.org. 300 IN A 192.0.2.10"}},
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeCNAME, answer: []string{"ext.default.svc.cluster.local. 5 IN CNAME example.org."}},
		{name: "inside.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"inside.default.svc.cluster.local. 5 IN CNAME " + web, web + " 5 IN A 10.96.0.10"}},
		{name: "_http._tcp.ext.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, soa: true},
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeSRV, soa: true},

		// Dual-stack.
		{name: "dual.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"dual.default.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "dual.default.svc.cluster.local.", qtype: dns.TypeAAAA, answer: []string{"dual.default.svc.cluster.local. 5 IN AAAA fd00::20"}},

		// Pods, verified.
		{name: "10-42-0-5.default.pod.cluster.local.", qtype: dns.TypeA, answer: []string{"10-42-0-5.default.pod.cluster.local. 5 IN A 10.42.0.5"}},
		{name: "10-42-0-5.other.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "10-42-0-99.default.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "not-an-ip.default.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},

		// The zone itself.
		{name: "dns-version.cluster.local.", qtype: dns.TypeTXT, answer: []string{`dns-version.cluster.local. 28800 IN TXT "1.1.0"`}},
		{name: "cluster.local.", qtype: dns.TypeSOA, answer: []string{soaText}},
		{name: "cluster.local.", qtype: dns.TypeNS, answer: []string{"cluster.local. 5 IN NS ns.dns.cluster.local."}, extra: []string{"ns.dns.cluster.local. 5 IN A 10.42.0.1"}},
		{name: "ns.dns.cluster.local.", qtype: dns.TypeA, answer: []string{"ns.dns.cluster.local. 5 IN A 10.42.0.1"}},

		// Outside the cluster.
		{name: "external.test.", qtype: dns.TypeA, answer: []string{"external.test. 60 IN A 192.0.2.77"}},
		{name: "missing.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", dns.TypeToString[tt.qtype], tt.name), func(t *testing.T) {
			r, _ := testResolver()
			req := query(tt.name, tt.qtype)
			m := r.Answer(context.Background(), req, "udp")
			if m.Id != req.Id || !m.Response {
				t.Fatalf("not a reply to the query: %v", m)
			}
			if m.Rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode], m)
			}
			if got := texts(m.Answer); !slices.Equal(got, tt.answer) {
				t.Fatalf("answer\n%q\nwant\n%q", got, tt.answer)
			}
			if got := texts(m.Extra); !slices.Equal(sorted(got), sorted(tt.extra)) {
				t.Fatalf("extra\n%q\nwant\n%q", got, tt.extra)
			}
			wantNs := []string(nil)
			if tt.soa {
				wantNs = []string{soaText}
			}
			if got := texts(m.Ns); !slices.Equal(got, wantNs) {
				t.Fatalf("authority %q, want %q", got, wantNs)
			}
			inZone := dns.IsSubDomain("cluster.local.", dns.CanonicalName(tt.name))
			if inZone && !m.Authoritative {
				t.Fatal("cluster answers must be authoritative")
			}
		})
	}
}

func TestResolverForwardsOverTheClientsTransport(t *testing.T) {
	r, up := testResolver()
	r.Answer(context.Background(), query("external.test.", dns.TypeA), "tcp")
	r.Answer(context.Background(), query("external.test.", dns.TypeA), "udp")
	want := []string{"external.test. A tcp", "external.test. A udp"}
	if !slices.Equal(up.asked, want) {
		t.Fatalf("upstream asked %q, want %q", up.asked, want)
	}
}

func TestResolverFailsWithoutUpstream(t *testing.T) {
	r, _ := testResolver()
	r.upstream = nil
	if m := r.Answer(context.Background(), query("external.test.", dns.TypeA), "udp"); m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
}

// A headless Service with many endpoints does not fit 512 bytes: over UDP
// the answer is cut and says so (TC), over TCP or with a large EDNS0
// buffer it is whole.
func TestResolverTruncatesOverUDP(t *testing.T) {
	r, _ := testResolver()
	var eps []discoveryEndpoint
	for i := range 100 {
		eps = append(eps, endpointAt(fmt.Sprintf("10.42.1.%d", i+1), true, ""))
	}
	r.catalog.add(service("default", "big", corev1.ClusterIPNone), slice("default", "big", "big-1", nil, eps...))
	name := "big.default.svc.cluster.local."

	m := r.Answer(context.Background(), query(name, dns.TypeA), "udp")
	if !m.Truncated || len(m.Answer) == 0 || len(m.Answer) >= 100 {
		t.Fatalf("UDP: truncated %v with %d answers, want TC and a part", m.Truncated, len(m.Answer))
	}
	if b, _ := m.Pack(); len(b) > dns.MinMsgSize {
		t.Fatalf("UDP answer is %d bytes", len(b))
	}
	m = r.Answer(context.Background(), query(name, dns.TypeA), "tcp")
	if m.Truncated || len(m.Answer) != 100 {
		t.Fatalf("TCP: truncated %v with %d answers, want all 100", m.Truncated, len(m.Answer))
	}
	big := query(name, dns.TypeA)
	big.SetEdns0(4096, false)
	m = r.Answer(context.Background(), big, "udp")
	if m.Truncated || len(m.Answer) != 100 || m.IsEdns0() == nil {
		t.Fatalf("UDP with EDNS0 4096: truncated %v with %d answers, OPT %v", m.Truncated, len(m.Answer), m.IsEdns0())
	}
}

func TestAddressOfReverse(t *testing.T) {
	tests := map[string]string{
		"10.0.96.10.in-addr.arpa.": "10.96.0.10",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.": "fd00::1",
		"0.96.10.in-addr.arpa.":     "",
		"256.0.96.10.in-addr.arpa.": "",
		"01.0.96.10.in-addr.arpa.":  "",
		"x.0.96.10.in-addr.arpa.":   "",
		"example.org.":              "",
	}
	for name, want := range tests {
		a, ok := addressOfReverse(name)
		got := ""
		if ok {
			got = a.String()
		}
		if got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
		if want != "" {
			if rev, _ := dns.ReverseAddr(want); rev != name {
				t.Errorf("round trip of %s: %s", want, rev)
			}
		}
	}
}

func BenchmarkResolverServiceA(b *testing.B) {
	r, _ := testResolver()
	req := query("web.default.svc.cluster.local.", dns.TypeA)
	for b.Loop() {
		r.Answer(context.Background(), req, "udp")
	}
}

func BenchmarkResolverHeadlessSRV(b *testing.B) {
	r, _ := testResolver()
	req := query("_http._tcp.db.default.svc.cluster.local.", dns.TypeSRV)
	for b.Loop() {
		r.Answer(context.Background(), req, "udp")
	}
}
