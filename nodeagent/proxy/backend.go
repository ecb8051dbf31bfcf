package proxy

import (
	"context"
	"net/netip"
)

// Proxy modes.
const (
	// ModeIPTables programs NAT rules with iptables-restore (default).
	ModeIPTables = "iptables"
	// ModeUserspace relays connections through the agent: the fallback
	// where iptables cannot be used.
	ModeUserspace = "userspace"
)

// backend turns service ports into something that carries traffic.
type backend interface {
	name() string
	// prepare readies the host once before the first sync.
	prepare(ctx context.Context) error
	// sync makes the node serve exactly ports. force asks for a full
	// rewrite rather than an incremental one.
	sync(ctx context.Context, ports []servicePort, force bool) (syncStats, error)
	// check returns an error if the host drifted from the last sync (the
	// next sync is then a full one).
	check(ctx context.Context) error
	// close releases what the backend holds in this process (listeners);
	// it leaves the host's rules in place, so Services keep answering
	// while the agent restarts.
	close()
}

// syncStats describe one sync.
type syncStats struct {
	// Full is true for a full rewrite.
	Full bool
	// Chains is how many chains (iptables) or listeners (userspace)
	// were written.
	Chains int
}

// flowFilter selects conntrack entries of UDP flows to delete. Zero
// fields match anything.
type flowFilter struct {
	// OrigDst and OrigDstPort are where the client sent the flow.
	OrigDst     netip.Addr
	OrigDstPort uint16
	// LocalDst restricts OrigDst to the host's own addresses (NodePorts).
	LocalDst bool
	// ReplySrc is the endpoint the flow was NATed to.
	ReplySrc netip.Addr
	// Unnated matches only flows that were not NATed (the reply comes
	// from where the client sent to): those created while the service
	// port had no rule. Flows already NATed to a live endpoint are kept.
	Unnated bool
}

// flowCleaner deletes conntrack entries.
type flowCleaner interface {
	deleteUDP(filters []flowFilter) (int, error)
}

// staleUDPFlows lists the UDP flows to forget after going from prev to
// next, as kube-proxy does: flows NATed to an endpoint that no longer
// takes traffic (they would keep going to it), and flows to a service
// port that had no endpoint (created while nothing answered).
func staleUDPFlows(prev, next []servicePort) []flowFilter {
	type portEPs struct {
		sp  *servicePort
		eps map[string]endpoint
	}
	index := func(ports []servicePort) map[string]portEPs {
		m := map[string]portEPs{}
		for i := range ports {
			sp := &ports[i]
			if sp.Name.Protocol != "UDP" {
				continue
			}
			eps := map[string]endpoint{}
			for _, e := range append(sp.internalEndpoints(), sp.externalEndpoints()...) {
				eps[e.String()] = e
			}
			m[sp.Name.key()] = portEPs{sp: sp, eps: eps}
		}
		return m
	}
	before, after := index(prev), index(next)
	var out []flowFilter
	destinations := func(sp *servicePort, replySrc netip.Addr) {
		unnated := !replySrc.IsValid()
		if a, err := netip.ParseAddr(sp.ClusterIP); err == nil {
			out = append(out, flowFilter{OrigDst: a, OrigDstPort: uint16(sp.Port), ReplySrc: replySrc, Unnated: unnated})
		}
		if sp.NodePort != 0 {
			out = append(out, flowFilter{LocalDst: true, OrigDstPort: uint16(sp.NodePort), ReplySrc: replySrc, Unnated: unnated})
		}
		for _, ip := range sp.ExternalIPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				out = append(out, flowFilter{OrigDst: a, OrigDstPort: uint16(sp.Port), ReplySrc: replySrc, Unnated: unnated})
			}
		}
	}
	for key, b := range before {
		a := after[key]
		for k, e := range b.eps {
			if _, ok := a.eps[k]; ok {
				continue
			}
			if ip, err := netip.ParseAddr(e.IP); err == nil {
				destinations(b.sp, ip)
			}
		}
	}
	for key, a := range after {
		if b, ok := before[key]; ok && len(b.eps) > 0 || len(a.eps) == 0 {
			continue
		}
		destinations(a.sp, netip.Addr{})
	}
	return out
}
