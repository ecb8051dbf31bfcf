package dns

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// freeLoopbackPort is a port free for UDP and TCP on 127.0.0.1.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	pc, ln, err := listenLoopbackPair()
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	ln.Close()
	return port
}

func clusterSettings(domain string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "skiff-cluster"},
		Data: map[string]string{"clusterCIDR": "10.42.0.0/16", "clusterDomain": domain}}
}

// startServer starts a Server on 127.0.0.1:port over a fake API holding
// objs; it stops when the returned function is called or the test ends.
func startServer(t *testing.T, cluster, node string, port int, peers string, objs ...runtime.Object) (*Server, func()) {
	t.Helper()
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.53\nsearch corp.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Client: fake.NewClientset(objs...), Address: "127.0.0.1", Port: port, ResolvConf: resolv,
		ClusterID: cluster, NodeName: node, PeerDir: peers})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s, cancel
}

func exchange(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(query(name, qtype), addr)
	if err != nil {
		t.Fatalf("%s %s: %v", network, name, err)
	}
	return resp
}

func onlyA(t *testing.T, m *dns.Msg) string {
	t.Helper()
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
		t.Fatalf("want one A record, got %v", m)
	}
	return m.Answer[0].(*dns.A).A.String()
}

// Two agents (of one cluster) bind the same address: both start, queries
// are answered over UDP and TCP, and when one stops the other goes on.
func TestServersShareTheAddress(t *testing.T) {
	port := freeLoopbackPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	peers := t.TempDir()
	var eps []discoveryEndpoint
	for i := range 60 {
		eps = append(eps, endpointAt(fmt.Sprintf("10.42.1.%d", i+1), true, ""))
	}
	objs := []runtime.Object{
		clusterSettings("corp.internal"), namespace("default"),
		service("default", "web", "10.96.0.10", port80()),
		service("default", "big", corev1.ClusterIPNone), slice("default", "big", "big-1", nil, eps...),
	}
	s1, stop1 := startServer(t, "c1", "n1", port, peers, objs...)
	s2, _ := startServer(t, "c1", "n2", port, peers, objs...)
	if !s1.Serving() || !s2.Serving() || s1.Domain() != "corp.internal" {
		t.Fatalf("serving %v %v, domain %q", s1.Serving(), s2.Serving(), s1.Domain())
	}
	// A socket outside the group cannot take the port.
	if pc, err := net.ListenPacket("udp", addr); err == nil {
		pc.Close()
		t.Fatal("a plain UDP socket could bind the shared address")
	}

	for _, network := range []string{"udp", "tcp"} {
		if ip := onlyA(t, exchange(t, network, addr, "web.default.svc.corp.internal.", dns.TypeA)); ip != "10.96.0.10" {
			t.Fatalf("%s: %s", network, ip)
		}
	}
	m := exchange(t, "udp", addr, "nothere.default.svc.corp.internal.", dns.TypeA)
	if m.Rcode != dns.RcodeNameError || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("NXDOMAIN with SOA: %v", m)
	}
	if m := exchange(t, "udp", addr, "big.default.svc.corp.internal.", dns.TypeA); !m.Truncated || len(m.Answer) >= 60 {
		t.Fatalf("UDP: TC %v with %d answers", m.Truncated, len(m.Answer))
	}
	if m := exchange(t, "tcp", addr, "big.default.svc.corp.internal.", dns.TypeA); m.Truncated || len(m.Answer) != 60 {
		t.Fatalf("TCP: TC %v with %d answers", m.Truncated, len(m.Answer))
	}

	// The caches follow the API.
	cs := s2.opts.Client
	if _, err := cs.CoreV1().Services("default").Create(context.Background(), service("default", "late", "10.96.0.11", port80()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for exchange(t, "udp", addr, "late.default.svc.corp.internal.", dns.TypeA).Rcode != dns.RcodeSuccess {
		if time.Now().After(deadline) {
			t.Fatal("a Service created after start is never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// One agent stops: every query still has an answer (each from a new
	// source port, so the kernel would pick any socket of the group).
	stop1()
	time.Sleep(100 * time.Millisecond)
	for i := range 20 {
		if ip := onlyA(t, exchange(t, "udp", addr, "web.default.svc.corp.internal.", dns.TypeA)); ip != "10.96.0.10" {
			t.Fatalf("query %d after one agent stopped: %s", i, ip)
		}
	}

	pc, _ := s2.PodConfig(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p"}})
	want := "nameserver 127.0.0.1\nsearch default.svc.corp.internal svc.corp.internal corp.internal corp.example\noptions ndots:5\n"
	if pc.String() != want {
		t.Fatalf("pod resolv.conf:\n%s\nwant:\n%s", pc, want)
	}
}

func port80() corev1.ServicePort { return port("http", 80, corev1.ProtocolTCP) }

// fakeWriter is the ResponseWriter of a query from a chosen address.
type fakeWriter struct {
	local, remote net.Addr
	msg           *dns.Msg
}

func (w *fakeWriter) LocalAddr() net.Addr       { return w.local }
func (w *fakeWriter) RemoteAddr() net.Addr      { return w.remote }
func (w *fakeWriter) WriteMsg(m *dns.Msg) error { w.msg = m; return nil }
func (w *fakeWriter) Write([]byte) (int, error) { return 0, nil }
func (w *fakeWriter) Close() error              { return nil }
func (w *fakeWriter) TsigStatus() error         { return nil }
func (w *fakeWriter) TsigTimersOnly(bool)       {}
func (w *fakeWriter) Hijack()                   {}

func writerFor(network, client string) *fakeWriter {
	ip := net.ParseIP(client)
	if network == "tcp" {
		return &fakeWriter{local: &net.TCPAddr{IP: net.IPv4(10, 42, 0, 1), Port: 53}, remote: &net.TCPAddr{IP: ip, Port: 40000}}
	}
	return &fakeWriter{local: &net.UDPAddr{IP: net.IPv4(10, 42, 0, 1), Port: 53}, remote: &net.UDPAddr{IP: ip, Port: 40000}}
}

// Two clusters share one engine and so one socket group: whichever agent
// the kernel picks, a pod gets its own cluster's answer.
func TestServerRelaysToTheClusterOfTheClient(t *testing.T) {
	port := freeLoopbackPort(t)
	peers := t.TempDir()
	a, _ := startServer(t, "cluster-a", "n1", port, peers,
		clusterSettings(""), namespace("default"), service("default", "web", "10.96.0.1", port80()), pod("default", "pa", "10.42.0.50"))
	_, stopB := startServer(t, "cluster-b", "n1", port, peers,
		clusterSettings(""), namespace("default"), service("default", "web", "10.96.0.2", port80()), pod("default", "pb", "10.42.0.60"))

	ask := func(network, client string, q *dns.Msg) *dns.Msg {
		w := writerFor(network, client)
		a.handle(w, q)
		if w.msg == nil {
			t.Fatalf("no answer to %s over %s", client, network)
		}
		if w.msg.Id != q.Id {
			t.Fatalf("answer ID %d to query ID %d", w.msg.Id, q.Id)
		}
		return w.msg
	}
	for _, network := range []string{"udp", "tcp"} {
		for client, want := range map[string]string{
			"10.42.0.50": "10.96.0.1", // cluster A's pod: A answers
			"10.42.0.60": "10.96.0.2", // cluster B's pod: relayed to B
			"10.42.0.99": "10.96.0.1", // nobody's: A answers itself
			"10.42.0.1":  "10.96.0.1", // the host
		} {
			if ip := onlyA(t, ask(network, client, query("web.default.svc.cluster.local.", dns.TypeA))); ip != want {
				t.Errorf("%s from %s: %s, want %s", network, client, ip, want)
			}
		}
	}
	// The relayed answer is the client's: no EDNS0 when it sent none, its
	// buffer size when it did.
	if m := ask("udp", "10.42.0.60", query("web.default.svc.cluster.local.", dns.TypeA)); m.IsEdns0() != nil {
		t.Fatalf("OPT in the answer to a query without: %v", m)
	}
	q := query("web.default.svc.cluster.local.", dns.TypeA)
	q.SetEdns0(1232, true)
	if m := ask("udp", "10.42.0.60", q); m.IsEdns0() == nil || m.IsEdns0().UDPSize() != 1232 || !m.IsEdns0().Do() || len(m.IsEdns0().Option) != 0 {
		t.Fatalf("EDNS0 of the relayed answer: %v", m.IsEdns0())
	}
	// NXDOMAIN from the owner is its answer, not a reason to ask elsewhere.
	if m := ask("udp", "10.42.0.60", query("only-a.default.svc.cluster.local.", dns.TypeA)); m.Rcode != dns.RcodeNameError {
		t.Fatalf("rcode %s", dns.RcodeToString[m.Rcode])
	}

	// B stops and deregisters: A answers everyone.
	stopB()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ip := onlyA(t, ask("udp", "10.42.0.60", query("web.default.svc.cluster.local.", dns.TypeA))); ip == "10.96.0.1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A still relays to a stopped agent")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRelayedQueryRoundTrip(t *testing.T) {
	q := query("web.default.svc.cluster.local.", dns.TypeA)
	orig, client, ok := unrelayed(relayedQuery(q, mustAddr("10.42.0.60")))
	if !ok || client.String() != "10.42.0.60" || orig.IsEdns0() != nil || orig.Question[0] != q.Question[0] {
		t.Fatalf("without EDNS0: %v %v %v", orig, client, ok)
	}
	q.SetEdns0(4096, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	relayed := relayedQuery(q, mustAddr("fd00::60"))
	if relayed.IsEdns0().UDPSize() != dns.MaxMsgSize {
		t.Fatalf("relayed buffer %d", relayed.IsEdns0().UDPSize())
	}
	orig, client, ok = unrelayed(relayed)
	if !ok || client.String() != "fd00::60" || orig.IsEdns0().UDPSize() != 4096 || len(orig.IsEdns0().Option) != 1 {
		t.Fatalf("with EDNS0: %v %v %v", orig, client, ok)
	}
	if _, _, ok := unrelayed(q); ok {
		t.Fatal("a plain query is not relayed")
	}
}

// Where the gateway is not an address of this host (a remote engine, the
// fake runtime) nothing is served and pods fall back to the node's
// resolvers, as the kubelet does without cluster DNS.
func TestServerNotOnThisHost(t *testing.T) {
	s := New(Options{Client: fake.NewClientset(clusterSettings("")), Address: "192.0.2.1", ResolvConf: filepath.Join(t.TempDir(), "none")})
	if err := s.Start(context.Background()); err == nil || s.Serving() {
		t.Fatalf("started on an address of another host: %v", err)
	}
	rc, events := s.PodConfig(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p"}})
	if len(rc.Nameservers) != 0 || len(events) != 2 || events[0].Reason != "MissingClusterDNS" {
		t.Fatalf("fallback: %+v %+v", rc, events)
	}
}

// Simulated nodes (the fake runtime) serve nothing, yet their pods are
// composed as a real node's, without MissingClusterDNS events.
func TestServerSimulated(t *testing.T) {
	s := New(Options{Client: fake.NewClientset(clusterSettings("sim.local")), Address: "100.64.3.1", Simulated: true,
		ResolvConf: filepath.Join(t.TempDir(), "none")})
	if err := s.Start(context.Background()); err != nil || s.Serving() {
		t.Fatalf("start: %v, serving %v", err, s.Serving())
	}
	rc, events := s.PodConfig(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p"}})
	want := "nameserver 100.64.3.1\nsearch default.svc.sim.local svc.sim.local sim.local\noptions ndots:5\n"
	if rc.String() != want || len(events) != 0 {
		t.Fatalf("resolv.conf:\n%s\nevents %+v", rc, events)
	}
}
