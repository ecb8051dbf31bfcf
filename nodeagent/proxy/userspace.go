package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The userspace backend relays connections through the agent, for hosts
// where iptables cannot be used (no binary, no privilege) or when asked
// with --proxy-mode=userspace.
//
//   - NodePorts: the agent listens on 0.0.0.0:<nodePort> (so 127.0.0.1 and
//     every host address) and relays each connection or UDP flow to an
//     endpoint.
//   - ClusterIPs: without NAT, the only honest way to receive traffic sent
//     to a virtual IP is to make it a local address. The agent adds each
//     ClusterIP to the loopback device (as kube-proxy's IPVS mode adds them
//     to its dummy kube-ipvs0 device) and listens on ClusterIP:port. Pods
//     reach it through their gateway, the host directly. That needs
//     CAP_NET_ADMIN; without it ClusterIPs are not served, and each Service
//     gets a Warning event saying so.
//
// A port without endpoints has no listener, so clients are refused at once.
// Listeners use SO_REUSEPORT, so agents sharing a host (same Services)
// can all listen.

// userspaceOptions configure the userspace backend.
type userspaceOptions struct {
	// ClusterCIDR tells pod clients apart (Local external policy).
	ClusterCIDR netip.Prefix
	Log         *slog.Logger
	// Report is told of a port that cannot be served.
	Report func(servicePort, error)
	// Addrs manages the ClusterIPs on the loopback device (nil: the ip
	// command).
	Addrs addrManager
	// DialTimeout bounds connecting to an endpoint (5 s).
	DialTimeout time.Duration
	// UDPIdleTimeout ends a UDP flow without traffic (30 s).
	UDPIdleTimeout time.Duration
}

// listenKey is one socket the backend listens on.
type listenKey struct {
	Proto string // "tcp" or "udp"
	Addr  netip.AddrPort
}

func (k listenKey) String() string { return k.Proto + "/" + k.Addr.String() }

// route says where a listener's connections go.
type route struct {
	sp *servicePort
	// Endpoints get the traffic; Short gets traffic from pods and from
	// the host itself when the external policy is Local (they have no
	// client address worth preserving, kube-proxy's short-circuit).
	Endpoints, Short []string
	// Sticky > 0 is ClientIP affinity.
	Sticky time.Duration
}

// userspaceRoutes computes the listeners for ports: pure, so tested as a
// table.
func userspaceRoutes(ports []servicePort) (map[listenKey]*route, map[netip.Addr]bool) {
	routes := map[listenKey]*route{}
	clusterIPs := map[netip.Addr]bool{}
	addrs := func(eps []endpoint) []string {
		out := make([]string, len(eps))
		for i, e := range eps {
			out[i] = e.String()
		}
		return out
	}
	for i := range ports {
		sp := &ports[i]
		proto := strings.ToLower(string(sp.Name.Protocol))
		if proto != "tcp" && proto != "udp" {
			continue // SCTP needs the kernel's NAT
		}
		ip, err := netip.ParseAddr(sp.ClusterIP)
		if err != nil {
			continue
		}
		clusterIPs[ip] = true
		sticky := time.Duration(sp.StickySeconds) * time.Second
		if eps := sp.internalEndpoints(); len(eps) > 0 {
			routes[listenKey{proto, netip.AddrPortFrom(ip, uint16(sp.Port))}] = &route{sp: sp, Endpoints: addrs(eps), Sticky: sticky}
		}
		if !sp.externallyAccessible() {
			continue
		}
		ext := &route{sp: sp, Endpoints: addrs(sp.externalEndpoints()), Sticky: sticky}
		if sp.ExternalLocal && sp.usesClusterEndpoints() {
			ext.Short = addrs(sp.clusterEndpoints())
		}
		if len(ext.Endpoints) == 0 && len(ext.Short) == 0 {
			continue
		}
		if sp.NodePort != 0 {
			routes[listenKey{proto, netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(sp.NodePort))}] = ext
		}
		for _, s := range sp.ExternalIPs {
			if a, err := netip.ParseAddr(s); err == nil {
				routes[listenKey{proto, netip.AddrPortFrom(a, uint16(sp.Port))}] = ext
			}
		}
	}
	return routes, clusterIPs
}

type userspaceBackend struct {
	opts userspaceOptions
	// local are the host's addresses, refreshed each sync (short-circuit
	// of host-originated traffic).
	local atomic.Pointer[map[netip.Addr]bool]

	mu        sync.Mutex
	listeners map[listenKey]*relay
	// reported remembers the errors already reported, so a port that
	// keeps failing is reported once, not every sync.
	reported map[string]string
}

func newUserspaceBackend(o userspaceOptions) *userspaceBackend {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Report == nil {
		o.Report = func(servicePort, error) {}
	}
	if o.Addrs == nil {
		o.Addrs = loopbackAddrs{}
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.UDPIdleTimeout == 0 {
		o.UDPIdleTimeout = 30 * time.Second
	}
	b := &userspaceBackend{opts: o, listeners: map[listenKey]*relay{}, reported: map[string]string{}}
	empty := map[netip.Addr]bool{}
	b.local.Store(&empty)
	return b
}

func (b *userspaceBackend) name() string { return ModeUserspace }

func (b *userspaceBackend) prepare(context.Context) error { return nil }

func (b *userspaceBackend) sync(ctx context.Context, ports []servicePort, force bool) (syncStats, error) {
	routes, clusterIPs := userspaceRoutes(ports)
	local := localAddrs()
	b.local.Store(&local)
	st := syncStats{Full: force}

	// ClusterIPs become local addresses first, so their listeners can
	// bind; a failure is reported on each Service and the rest goes on.
	addrErr := b.opts.Addrs.sync(ctx, clusterIPs)

	b.mu.Lock()
	defer b.mu.Unlock()
	for k, r := range b.listeners {
		if _, ok := routes[k]; !ok {
			r.close()
			delete(b.listeners, k)
			st.Chains++
		}
	}
	keys := make([]listenKey, 0, len(routes))
	for k := range routes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b listenKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		rt := routes[k]
		if r, ok := b.listeners[k]; ok {
			r.update(rt)
			continue
		}
		isClusterIP := k.Addr.Addr().String() == rt.sp.ClusterIP
		if isClusterIP && addrErr != nil {
			b.report(k, rt.sp, fmt.Errorf("userspace mode serves ClusterIPs as local addresses, and adding %s failed: %w", k.Addr.Addr(), addrErr))
			continue
		}
		r, err := b.listen(k, rt)
		if err != nil {
			b.report(k, rt.sp, err)
			continue
		}
		delete(b.reported, k.String())
		b.listeners[k] = r
		st.Chains++
	}
	return st, nil
}

func (b *userspaceBackend) report(k listenKey, sp *servicePort, err error) {
	if b.reported[k.String()] == err.Error() {
		return
	}
	b.reported[k.String()] = err.Error()
	b.opts.Report(*sp, fmt.Errorf("listen on %s: %w", k, err))
}

// check has nothing to verify: listeners live in this process.
func (b *userspaceBackend) check(context.Context) error { return nil }

func (b *userspaceBackend) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, r := range b.listeners {
		r.close()
		delete(b.listeners, k)
	}
}

// reuseListenConfig sets SO_REUSEPORT (agents sharing a host listen on
// the same ports) and SO_REUSEADDR.
func reuseListenConfig() *net.ListenConfig {
	return &net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = setReuse(fd) }); err != nil {
			return err
		}
		return serr
	}}
}

func (b *userspaceBackend) listen(k listenKey, rt *route) (*relay, error) {
	r := &relay{key: k, b: b, sessions: map[netip.AddrPort]*udpSession{}}
	r.rt.Store(rt)
	ctx := context.Background()
	switch k.Proto {
	case "tcp":
		ln, err := reuseListenConfig().Listen(ctx, "tcp4", k.Addr.String())
		if err != nil {
			return nil, err
		}
		r.closer = ln
		go r.serveTCP(ln.(*net.TCPListener))
	case "udp":
		pc, err := reuseListenConfig().ListenPacket(ctx, "udp4", k.Addr.String())
		if err != nil {
			return nil, err
		}
		r.closer = pc
		go r.serveUDP(pc.(*net.UDPConn))
	}
	return r, nil
}

// relay is one listener and what it relays to.
type relay struct {
	key    listenKey
	b      *userspaceBackend
	rt     atomic.Pointer[route]
	closer interface{ Close() error }

	mu       sync.Mutex
	affinity map[netip.Addr]stickyChoice
	sessions map[netip.AddrPort]*udpSession
	closed   bool
}

type stickyChoice struct {
	endpoint string
	until    time.Time
}

func (r *relay) update(rt *route) {
	r.rt.Store(rt)
	// UDP flows to endpoints that are gone end now (the next datagram
	// picks a live one), as conntrack cleanup does in iptables mode.
	live := map[string]bool{}
	for _, e := range append(slices.Clone(rt.Endpoints), rt.Short...) {
		live[e] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, s := range r.sessions {
		if !live[s.endpoint] {
			s.conn.Close()
			delete(r.sessions, addr)
		}
	}
}

func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	for addr, s := range r.sessions {
		s.conn.Close()
		delete(r.sessions, addr)
	}
	r.mu.Unlock()
	_ = r.closer.Close()
}

// candidates orders the endpoints to try for a client: the sticky one
// first (if affinity is on and it is still there), then the rest in random
// order.
func (r *relay) candidates(client netip.Addr) []string {
	rt := r.rt.Load()
	eps := rt.Endpoints
	if len(rt.Short) > 0 && (r.b.opts.ClusterCIDR.Contains(client) || (*r.b.local.Load())[client]) {
		eps = rt.Short
	}
	out := slices.Clone(eps)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if rt.Sticky > 0 {
		r.mu.Lock()
		c, ok := r.affinity[client]
		r.mu.Unlock()
		if ok && time.Now().Before(c.until) {
			if i := slices.Index(out, c.endpoint); i > 0 {
				out[0], out[i] = out[i], out[0]
			}
		}
	}
	return out
}

func (r *relay) remember(client netip.Addr, endpoint string) {
	rt := r.rt.Load()
	if rt.Sticky <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.affinity == nil {
		r.affinity = map[netip.Addr]stickyChoice{}
	}
	now := time.Now()
	r.affinity[client] = stickyChoice{endpoint: endpoint, until: now.Add(rt.Sticky)}
	if len(r.affinity) > 4096 {
		for k, v := range r.affinity {
			if now.After(v.until) {
				delete(r.affinity, k)
			}
		}
	}
}

func (r *relay) serveTCP(ln *net.TCPListener) {
	for delay := 5 * time.Millisecond; ; {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off.
			time.Sleep(delay)
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		go r.relayTCP(c)
	}
}

func (r *relay) relayTCP(in *net.TCPConn) {
	client := in.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	var out *net.TCPConn
	var chosen string
	// Try up to three endpoints, as the old userspace proxy did: one
	// endpoint dying must not refuse the client.
	for i, ep := range r.candidates(client) {
		if i == 3 {
			break
		}
		c, err := net.DialTimeout("tcp4", ep, r.b.opts.DialTimeout)
		if err == nil {
			out, chosen = c.(*net.TCPConn), ep
			break
		}
		r.b.opts.Log.Debug("userspace proxy: endpoint unreachable", "service", r.rt.Load().sp.Name.String(), "endpoint", ep, "err", err)
	}
	if out == nil {
		in.SetLinger(0) // a reset, the nearest thing to "refused" now
		in.Close()
		return
	}
	r.remember(client, chosen)
	pipe(in, out)
}

// pipe copies both ways until both directions end. io.Copy between two
// *net.TCPConn uses splice(2) on Linux: the bytes stay in the kernel.
func pipe(a, b *net.TCPConn) {
	done := make(chan struct{})
	go func() {
		_, _ = b.ReadFrom(a)
		_ = b.CloseWrite()
		close(done)
	}()
	_, _ = a.ReadFrom(b)
	_ = a.CloseWrite()
	<-done
	a.Close()
	b.Close()
}

// udpSession is one client's UDP flow to one endpoint.
type udpSession struct {
	conn     *net.UDPConn
	endpoint string
	last     atomic.Int64 // unix nanos of the last datagram either way
}

func (r *relay) serveUDP(pc *net.UDPConn) {
	buf := make([]byte, 64*1024)
	for {
		n, client, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s := r.udpSession(pc, client)
		if s == nil {
			continue
		}
		s.last.Store(time.Now().UnixNano())
		_, _ = s.conn.Write(buf[:n])
	}
}

// udpSession returns the client's flow, starting one if needed.
func (r *relay) udpSession(pc *net.UDPConn, client netip.AddrPort) *udpSession {
	r.mu.Lock()
	s, ok := r.sessions[client]
	r.mu.Unlock()
	if ok {
		return s
	}
	addr := client.Addr().Unmap()
	for _, ep := range r.candidates(addr) {
		raddr, err := net.ResolveUDPAddr("udp4", ep)
		if err != nil {
			continue
		}
		c, err := net.DialUDP("udp4", nil, raddr)
		if err != nil {
			continue
		}
		s = &udpSession{conn: c, endpoint: ep}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			c.Close()
			return nil
		}
		r.sessions[client] = s
		r.mu.Unlock()
		r.remember(addr, ep)
		go r.udpReplies(pc, client, s)
		return s
	}
	return nil
}

// udpReplies sends the endpoint's datagrams back to the client until the
// flow idles out.
func (r *relay) udpReplies(pc *net.UDPConn, client netip.AddrPort, s *udpSession) {
	defer func() {
		r.mu.Lock()
		if r.sessions[client] == s {
			delete(r.sessions, client)
		}
		r.mu.Unlock()
		s.conn.Close()
	}()
	buf := make([]byte, 64*1024)
	idle := r.b.opts.UDPIdleTimeout
	for {
		_ = s.conn.SetReadDeadline(time.Unix(0, s.last.Load()).Add(idle))
		n, err := s.conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, s.last.Load())) < idle {
				continue // traffic from the client moved the deadline
			}
			return
		}
		s.last.Store(time.Now().UnixNano())
		if _, err := pc.WriteToUDPAddrPort(buf[:n], client); err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
	}
}
