package dns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// DefaultDomain is the cluster domain when the cluster names none.
const DefaultDomain = "cluster.local"

// clusterConfigMap (in kube-system) is where the server publishes
// cluster-wide settings; its clusterDomain key names the cluster domain.
const clusterConfigMap = "skiff-cluster"

// queryTimeout bounds the work for one query, forwarding included; a stub
// resolver has given up by then (glibc waits 5 s).
const queryTimeout = 5 * time.Second

// cacheSyncTimeout bounds the wait for the caches at start.
const cacheSyncTimeout = 30 * time.Second

// relayGrace is how long relay sockets outlive their registration.
const relayGrace = 200 * time.Millisecond

// Options configure a node's DNS server.
type Options struct {
	// Client reads Services, EndpointSlices, Pods, Namespaces and the
	// cluster settings.
	Client kubernetes.Interface
	// Address is the IP pods reach the node on: the pod network's gateway.
	Address string
	// Port defaults to 53 (resolv.conf cannot name another).
	Port int
	// ResolvConf is the node's resolv.conf (default /etc/resolv.conf):
	// where names outside the cluster are forwarded, and the base of
	// Default-policy pods' resolv.conf.
	ResolvConf string
	// ClusterID and NodeName identify this agent to agents of other
	// clusters sharing the host (see relay.go).
	ClusterID, NodeName string
	// PeerDir is where those agents register (default DefaultPeerDir).
	PeerDir string
	// Domain overrides the cluster domain read from the cluster settings.
	Domain string
	// TTL of cluster records (default DefaultTTL).
	TTL uint32
	// Simulated is for nodes whose pods are simulated (the fake runtime)
	// and have no network: nothing is served, and their resolv.conf names
	// Address as a real node's would, as kubemark's hollow kubelets have
	// a cluster DNS configured. Without it every simulated pod would
	// carry MissingClusterDNS events.
	Simulated bool
	Logger    *slog.Logger
}

// Server is a node's cluster DNS: the pods' name server.
type Server struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	domain  string
	serving bool

	catalog   *catalog
	resolver  *resolver
	forwarder *forwarder
	relay     *relay
	// changed is when the catalog last changed (unix seconds): the SOA
	// serial.
	changed atomic.Int64
}

// New prepares a server; Start serves. Before Start (or if it fails)
// PodConfig composes resolv.conf files without cluster DNS.
func New(o Options) *Server {
	if o.Port == 0 {
		o.Port = 53
	}
	if o.ResolvConf == "" {
		o.ResolvConf = "/etc/resolv.conf"
	}
	if o.PeerDir == "" {
		o.PeerDir = DefaultPeerDir
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	domain := DefaultDomain
	if o.Domain != "" {
		domain = strings.TrimSuffix(o.Domain, ".")
	}
	return &Server{opts: o, log: o.Logger.With("component", "dns"), domain: domain}
}

// Domain is the cluster domain, without a trailing dot.
func (s *Server) Domain() string {
	if s == nil {
		return DefaultDomain
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.domain
}

// Serving reports whether pods can use this node's cluster DNS.
func (s *Server) Serving() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving
}

// PodConfig composes a pod's resolv.conf (see PodResolvConf) from this
// node's cluster DNS and its resolv.conf, read afresh as the kubelet does.
func (s *Server) PodConfig(pod *corev1.Pod) (ResolvConf, []Event) {
	in := PodDNSInputs{Domain: s.Domain()}
	if s != nil {
		host, err := ReadResolvConf(s.opts.ResolvConf)
		if err != nil {
			s.log.Warn("node resolv.conf unreadable; pods get no host resolvers", "err", err)
		}
		in.Host = host
		if s.Serving() || s.opts.Simulated {
			in.Servers = []string{s.opts.Address}
		}
	}
	return PodResolvConf(pod, in)
}

// Start reads the cluster domain, fills the caches and, once they are in
// sync, serves DNS on Address:Port over UDP and TCP until ctx ends. It
// returns when serving, or with the reason it cannot: the address is not
// on this host (a remote engine, the fake runtime), or the port is held
// by something outside the SO_REUSEPORT group. A Simulated server only
// reads the domain.
func (s *Server) Start(ctx context.Context) error {
	if s.opts.Domain == "" {
		s.readDomain(ctx)
	}
	if s.opts.Simulated {
		return nil
	}
	addr, err := netip.ParseAddr(s.opts.Address)
	if err != nil {
		return fmt.Errorf("cluster DNS address %q: %w", s.opts.Address, err)
	}
	if !isLocalAddress(addr) {
		return fmt.Errorf("cluster DNS address %s is not an address of this host", addr)
	}
	listen := net.JoinHostPort(addr.String(), strconv.Itoa(s.opts.Port))

	cacheCtx, stopCaches := context.WithCancel(ctx)
	if err := s.startCatalog(cacheCtx); err != nil {
		stopCaches()
		return err
	}
	s.forwarder = newForwarder(s.opts.ResolvConf, listen)
	s.resolver = &resolver{
		zone: dns.Fqdn(strings.ToLower(s.Domain())), ttl: s.opts.TTL, catalog: s.catalog, upstream: s.forwarder,
		nsAddrs: []netip.Addr{addr}, serial: func() uint32 { return uint32(s.changed.Load()) },
	}

	pc, ln, err := listenShared(ctx, listen)
	if err != nil {
		stopCaches()
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	s.startRelay(ctx, listen)
	s.serve(ctx, pc, ln, s.handle)
	s.mu.Lock()
	s.serving = true
	s.mu.Unlock()
	s.log.Info("cluster DNS serving", "address", listen, "domain", s.Domain(), "upstream", s.opts.ResolvConf)
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		s.serving = false
		s.mu.Unlock()
		stopCaches()
	}()
	return nil
}

// readDomain takes the cluster domain from kube-system/skiff-cluster
// (key clusterDomain), keeping the default if it is absent or invalid.
func (s *Server) readDomain(ctx context.Context) {
	cm, err := s.opts.Client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, clusterConfigMap, metav1.GetOptions{})
	if err != nil {
		s.log.Warn("cluster settings unreadable; using the default cluster domain", "domain", DefaultDomain, "err", err)
		return
	}
	d := strings.TrimSuffix(strings.ToLower(cm.Data["clusterDomain"]), ".")
	if d == "" {
		return
	}
	if errs := validation.IsDNS1123Subdomain(d); len(errs) > 0 {
		s.log.Warn("invalid clusterDomain in cluster settings; using the default", "clusterDomain", d, "err", strings.Join(errs, "; "))
		return
	}
	s.mu.Lock()
	s.domain = d
	s.mu.Unlock()
}

// startCatalog starts cluster-wide informers and waits for their sync:
// answering before would give NXDOMAIN for names that exist.
func (s *Server) startCatalog(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(s.opts.Client, 0)
	svcs := factory.Core().V1().Services().Informer()
	slices := factory.Discovery().V1().EndpointSlices().Informer()
	pods := factory.Core().V1().Pods().Informer()
	nss := factory.Core().V1().Namespaces().Informer()
	if err := pods.SetTransform(func(o any) (any, error) {
		if p, ok := o.(*corev1.Pod); ok {
			return slimPod(p), nil
		}
		return o, nil
	}); err != nil {
		return err
	}
	for inf, idx := range map[cache.SharedIndexInformer]cache.Indexers{svcs: serviceIndexers, slices: sliceIndexers, pods: podIndexers} {
		if err := inf.AddIndexers(idx); err != nil {
			return err
		}
	}
	s.changed.Store(time.Now().Unix())
	touch := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.changed.Store(time.Now().Unix()) },
		UpdateFunc: func(any, any) { s.changed.Store(time.Now().Unix()) },
		DeleteFunc: func(any) { s.changed.Store(time.Now().Unix()) },
	}
	for _, inf := range []cache.SharedIndexInformer{svcs, slices, nss} {
		if _, err := inf.AddEventHandler(touch); err != nil {
			return err
		}
	}
	s.catalog = &catalog{services: svcs.GetIndexer(), slices: slices.GetIndexer(), pods: pods.GetIndexer(), namespaces: nss.GetStore()}
	factory.Start(ctx.Done())
	// Bounded, so that an API that refuses these lists costs this node its
	// cluster DNS, not its start.
	syncCtx, cancel := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), svcs.HasSynced, slices.HasSynced, pods.HasSynced, nss.HasSynced) {
		return fmt.Errorf("cluster DNS caches not in sync: %w", context.Cause(syncCtx))
	}
	return nil
}

// serve runs miekg/dns servers on the sockets until ctx ends.
func (s *Server) serve(ctx context.Context, pc net.PacketConn, ln net.Listener, h dns.HandlerFunc) {
	servers := []*dns.Server{
		{PacketConn: pc, Handler: h, UDPSize: dns.MaxMsgSize},
		{Listener: ln, Handler: h},
	}
	for _, srv := range servers {
		go func() {
			if err := srv.ActivateAndServe(); err != nil && ctx.Err() == nil {
				s.log.Error("DNS server stopped", "err", err)
			}
		}()
	}
	go func() {
		<-ctx.Done()
		for _, srv := range servers {
			if srv.Shutdown() != nil {
				// Not started yet: closing the socket makes it fail to.
				if srv.PacketConn != nil {
					_ = srv.PacketConn.Close()
				} else {
					_ = srv.Listener.Close()
				}
			}
		}
	}()
}

// handle answers a pod (or the host). A query from an address that is no
// pod of this cluster may be another cluster's pod that the kernel handed
// to this agent: it is relayed to those agents first.
func (s *Server) handle(w dns.ResponseWriter, req *dns.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	network := w.LocalAddr().Network()
	if client, ok := remoteAddr(w); ok && s.relay != nil && !s.ownsClient(client) {
		if resp := s.relay.ask(ctx, req, client, network); resp != nil {
			resp.Id = req.Id
			_ = w.WriteMsg(resp)
			return
		}
	}
	_ = w.WriteMsg(s.resolver.Answer(ctx, req, network))
}

// handleRelayed answers a query relayed by an agent of another cluster:
// only if the client is one of this cluster's pods; otherwise REFUSED so
// the relaying agent takes another answer.
func (s *Server) handleRelayed(w dns.ResponseWriter, req *dns.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	network := w.LocalAddr().Network()
	orig, client, ok := unrelayed(req)
	if !ok || len(s.catalog.podsByIP(client)) == 0 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeRefused)
		_ = w.WriteMsg(m)
		return
	}
	_ = w.WriteMsg(s.resolver.Answer(ctx, orig, network))
}

// ownsClient reports whether a client is this cluster's to answer: one of
// its pods, or the host itself (host-network pods, the agent's own
// checks), which no other cluster can claim either.
func (s *Server) ownsClient(client netip.Addr) bool {
	if client.IsLoopback() || client.String() == s.opts.Address {
		return true
	}
	return len(s.catalog.podsByIP(client)) > 0
}

func remoteAddr(w dns.ResponseWriter) (netip.Addr, bool) {
	var ip net.IP
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return netip.Addr{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	return addr.Unmap(), ok
}

// startRelay opens this agent's loopback relay sockets and registers them
// for agents of other clusters on the same address. Without it DNS still
// works for a host with one cluster, so failures are only logged.
func (s *Server) startRelay(ctx context.Context, listen string) {
	pc, ln, err := listenLoopbackPair()
	if err != nil {
		s.log.Warn("cluster DNS relay unavailable; pods of other clusters on this engine may get this cluster's answers", "err", err)
		return
	}
	r := &relay{dir: s.opts.PeerDir, log: s.log, self: peerRecord{
		Cluster: s.opts.ClusterID, Node: s.opts.NodeName, PID: os.Getpid(), Listen: listen, Relay: pc.LocalAddr().String(),
	}}
	if err := r.register(); err != nil {
		s.log.Warn("cannot register for cluster DNS relaying; pods of other clusters on this engine may get this cluster's answers", "dir", r.dir, "err", err)
		pc.Close()
		ln.Close()
		return
	}
	s.relay = r
	r.peers() // sweeps the files of agents that died without deregistering
	// Deregister, then close the sockets a moment later: a peer that read
	// the directory just before still gets an answer rather than waiting
	// on a socket that is open but no longer read.
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	s.serve(relayCtx, pc, ln, s.handleRelayed)
	go func() {
		<-ctx.Done()
		r.unregister()
		time.Sleep(relayGrace)
		stopRelay()
	}()
}

// listenLoopbackPair binds UDP and TCP on one free loopback port.
func listenLoopbackPair() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("no free loopback port for both UDP and TCP: %w", lastErr)
}

// isLocalAddress reports whether addr is assigned to an interface here.
func isLocalAddress(addr netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == addr {
				return true
			}
		}
	}
	return false
}
