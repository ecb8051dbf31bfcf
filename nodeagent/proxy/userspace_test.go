package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// fakeAddrs records the addresses the backend wants on the loopback
// device (127.0.0.0/8 is already local, so the tests need none added).
type fakeAddrs struct {
	mu   sync.Mutex
	want map[netip.Addr]bool
	err  error
}

func (f *fakeAddrs) sync(_ context.Context, want map[netip.Addr]bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.want = want
	return f.err
}

// nameServer answers every TCP connection with its name, and every UDP
// datagram with its name and the datagram.
type nameServer struct {
	name string
	tcp  net.Listener
	udp  net.PacketConn
}

func startNameServer(t *testing.T, name string) *nameServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	pc, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("UDP port %d taken: %v", port, err)
	}
	s := &nameServer{name: name, tcp: ln, udp: pc}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name))
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(name+":"+string(buf[:n])), from)
		}
	}()
	t.Cleanup(func() { ln.Close(); pc.Close() })
	return s
}

func (s *nameServer) endpoint() endpoint {
	return endpoint{IP: "127.0.0.1", Port: int32(s.tcp.Addr().(*net.TCPAddr).Port), Ready: true, Serving: true}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func askTCP(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func testPort(name string, proto corev1.Protocol, clusterIP string, port int, eps ...endpoint) servicePort {
	return servicePort{
		Name:      servicePortName{NamespacedName: types.NamespacedName{Namespace: "default", Name: name}, Protocol: proto},
		ClusterIP: clusterIP, Port: int32(port), Endpoints: eps,
	}
}

func TestUserspaceTCPBalancesAndRefuses(t *testing.T) {
	ctx := context.Background()
	servers := []*nameServer{startNameServer(t, "a"), startNameServer(t, "b"), startNameServer(t, "c")}
	addrs := &fakeAddrs{}
	b := newUserspaceBackend(userspaceOptions{Addrs: addrs})
	defer b.close()
	port, nodePort := freePort(t), freePort(t)
	sp := testPort("web", corev1.ProtocolTCP, "127.0.0.2", port, servers[0].endpoint(), servers[1].endpoint(), servers[2].endpoint())
	sp.NodePort = int32(nodePort)
	if _, err := b.sync(ctx, []servicePort{sp}, true); err != nil {
		t.Fatal(err)
	}
	if !addrs.want[netip.MustParseAddr("127.0.0.2")] {
		t.Errorf("ClusterIP not asked for on the loopback device: %v", addrs.want)
	}
	for _, addr := range []string{"127.0.0.2:" + strconv.Itoa(port), "127.0.0.1:" + strconv.Itoa(nodePort)} {
		seen := map[string]int{}
		for i := 0; i < 60; i++ {
			got, err := askTCP(addr)
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			seen[got]++
		}
		if len(seen) != 3 {
			t.Errorf("%s: answers %v, want all three endpoints", addr, seen)
		}
	}
	// No endpoints: the listener goes, so clients are refused at once.
	sp.Endpoints = nil
	if _, err := b.sync(ctx, []servicePort{sp}, false); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"127.0.0.2:" + strconv.Itoa(port), "127.0.0.1:" + strconv.Itoa(nodePort)} {
		if _, err := askTCP(addr); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s without endpoints: %v, want connection refused", addr, err)
		}
	}
	if !addrs.want[netip.MustParseAddr("127.0.0.2")] {
		t.Error("the ClusterIP address was dropped with the endpoints; it must stay so clients are refused locally")
	}
}

func TestUserspaceAffinityAndDeadEndpoints(t *testing.T) {
	ctx := context.Background()
	a, c := startNameServer(t, "a"), startNameServer(t, "c")
	dead := endpoint{IP: "127.0.0.1", Port: int32(freePort(t)), Ready: true} // nothing listens
	b := newUserspaceBackend(userspaceOptions{Addrs: &fakeAddrs{}})
	defer b.close()
	port := freePort(t)
	sp := testPort("sticky", corev1.ProtocolTCP, "127.0.0.3", port, a.endpoint(), c.endpoint(), dead)
	sp.StickySeconds = 60
	if _, err := b.sync(ctx, []servicePort{sp}, true); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.3:" + strconv.Itoa(port)
	first, err := askTCP(addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		got, err := askTCP(addr)
		if err != nil {
			t.Fatalf("a dead endpoint failed a client: %v", err)
		}
		if got != first {
			t.Fatalf("ClientIP affinity broken: %q then %q", first, got)
		}
	}
}

func TestUserspaceUDPFollowsEndpoints(t *testing.T) {
	ctx := context.Background()
	a, c := startNameServer(t, "a"), startNameServer(t, "c")
	b := newUserspaceBackend(userspaceOptions{Addrs: &fakeAddrs{}})
	defer b.close()
	port := freePort(t)
	sp := testPort("dns", corev1.ProtocolUDP, "127.0.0.4", port, a.endpoint(), c.endpoint())
	if _, err := b.sync(ctx, []servicePort{sp}, true); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp4", "127.0.0.4:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ask := func(msg string) string {
		t.Helper()
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("UDP reply to %q: %v", msg, err)
		}
		return string(buf[:n])
	}
	first := ask("hello")
	if again := ask("again"); again[:1] != first[:1] {
		t.Fatalf("one UDP flow answered by two endpoints: %q, %q", first, again)
	}
	// The endpoint that answered goes away: the same flow (same client
	// port) moves to the other one.
	keep := c.endpoint()
	if first[:1] == "c" {
		keep = a.endpoint()
	}
	sp.Endpoints = []endpoint{keep}
	if _, err := b.sync(ctx, []servicePort{sp}, false); err != nil {
		t.Fatal(err)
	}
	if got := ask("moved"); got[:1] == first[:1] {
		t.Fatalf("the flow still goes to the removed endpoint: %q", got)
	}
}

func TestUserspaceReportsClusterIPFailure(t *testing.T) {
	ctx := context.Background()
	s := startNameServer(t, "a")
	var reported []string
	b := newUserspaceBackend(userspaceOptions{
		Addrs:  &fakeAddrs{err: errors.New("operation not permitted")},
		Report: func(sp servicePort, err error) { reported = append(reported, sp.Name.String()+": "+err.Error()) },
	})
	defer b.close()
	port, nodePort := freePort(t), freePort(t)
	sp := testPort("web", corev1.ProtocolTCP, "10.96.0.9", port, s.endpoint())
	sp.NodePort = int32(nodePort)
	for i := 0; i < 3; i++ {
		if _, err := b.sync(ctx, []servicePort{sp}, false); err != nil {
			t.Fatal(err)
		}
	}
	if len(reported) != 1 {
		t.Fatalf("reports %q, want exactly one (not one per sync)", reported)
	}
	if got, err := askTCP("127.0.0.1:" + strconv.Itoa(nodePort)); err != nil || got != "a" {
		t.Errorf("NodePort not served when the ClusterIP cannot be: %q %v", got, err)
	}
}

func TestUserspaceRoutesLocalPolicy(t *testing.T) {
	local := endpoint{IP: "10.42.0.1", Port: 80, Ready: true, Local: true}
	remote := endpoint{IP: "10.42.0.2", Port: 80, Ready: true}
	sp := testPort("web", corev1.ProtocolTCP, "10.96.0.5", 80, local, remote)
	sp.NodePort, sp.ExternalLocal = 30005, true
	routes, ips := userspaceRoutes([]servicePort{sp})
	np := routes[listenKey{"tcp", netip.MustParseAddrPort("0.0.0.0:30005")}]
	if np == nil || fmt.Sprint(np.Endpoints) != "[10.42.0.1:80]" || fmt.Sprint(np.Short) != "[10.42.0.1:80 10.42.0.2:80]" {
		t.Fatalf("NodePort route %+v", np)
	}
	cip := routes[listenKey{"tcp", netip.MustParseAddrPort("10.96.0.5:80")}]
	if cip == nil || len(cip.Endpoints) != 2 {
		t.Fatalf("ClusterIP route %+v", cip)
	}
	if !ips[netip.MustParseAddr("10.96.0.5")] {
		t.Error("ClusterIP not in the address set")
	}
	// No local endpoint: outside clients are refused (no listener would
	// be wrong for pods, which are short-circuited; so the listener stays
	// with only the short-circuit set).
	sp.Endpoints = []endpoint{remote}
	routes, _ = userspaceRoutes([]servicePort{sp})
	np = routes[listenKey{"tcp", netip.MustParseAddrPort("0.0.0.0:30005")}]
	if np == nil || len(np.Endpoints) != 0 || len(np.Short) != 1 {
		t.Fatalf("NodePort route without local endpoints %+v", np)
	}
}
