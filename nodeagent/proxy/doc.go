// Package proxy makes Services reachable on a node: it is the node agent's
// kube-proxy.
//
// # Inputs and outputs
//
// A Proxier watches Services, EndpointSlices and Nodes through client-go
// informers and reads the cluster's network settings from the
// kube-system/skiff-cluster ConfigMap (clusterCIDR; serviceCIDR and
// serviceNodePortRange, defaulting to 10.96.0.0/16 and 30000-32767). Its
// output is host state: iptables rules (the default mode) or, in the
// userspace mode, listening sockets and ClusterIPs on the loopback device.
// It imports nothing of the API server; it is a client like any other.
//
// Traffic that works once the node is synced:
//
//   - ClusterIP:port from pods and from the host;
//   - NodePort on every host address, 127.0.0.1 included;
//   - spec.externalIPs and a LoadBalancer's status.loadBalancer.ingress IPs
//     on the Service port;
//
// each balanced at random across the usable endpoints, TCP, UDP (and SCTP
// in iptables mode), with sessionAffinity: ClientIP, the Local external and
// internal traffic policies, and hairpin traffic (a pod reaching itself
// through its Service). A port without a usable endpoint is refused at once
// (ICMP port unreachable, "connection refused" for TCP), never left to time
// out; so is a new connection to an address of the service CIDR that no
// Service holds (and that is not a local address), so that it never leaves
// the host.
//
// Usable endpoints are chosen as kube-proxy does: the ready ones; if none is
// ready, the ones still serving while terminating. "Local" endpoints are
// those on this node and on nodes sharing its host (a Node whose InternalIP
// is one of this node's addresses): agents on one Docker engine share one
// network namespace, so for them "local" means "on this host".
//
// # The iptables mode
//
// The rules follow kube-proxy's iptables mode chain for chain, in Skiff's
// own chains (names start with "SKIFF-" and a 5-character hash of the node
// name, so several agents sharing a host never touch each other's rules):
//
//	nat PREROUTING, OUTPUT → SKIFF-<n>-SERVICES   ClusterIP, external IPs, then NodePorts
//	SKIFF-<n>-NODEPORTS                           NodePort → EXT chain
//	SKIFF-<n>-SVC-<hash>  (KUBE-SVC)              Cluster policy: random choice of endpoints
//	SKIFF-<n>-SVL-<hash>  (KUBE-SVL)              Local policy: this host's endpoints
//	SKIFF-<n>-EXT-<hash>  (KUBE-EXT)              external traffic: masquerade or Local short-circuit
//	SKIFF-<n>-SEP-<hash>  (KUBE-SEP)              one endpoint: hairpin masquerade, DNAT
//	nat POSTROUTING → SKIFF-<n>-POSTROUTING       MASQUERADE what carries mark 0x4000
//	filter FORWARD, OUTPUT → SKIFF-<n>-SERVICES   REJECT ports without endpoints, unallocated IPs
//	filter INPUT, FORWARD → SKIFF-<n>-EXT-SERVICES  REJECT/DROP NodePorts without (local) endpoints
//	filter FORWARD → SKIFF-<n>-FORWARD            accept service traffic Docker's DROP policy would drop
//	filter INPUT, OUTPUT → SKIFF-<n>-FIREWALL     drop martian 127/8 traffic (route_localnet)
//
// The only rules outside Skiff's chains are the jumps into them, inserted at
// the top of the built-in chains (before Docker's, whose chains are never
// touched). Rules are written with iptables-restore --noflush, one atomic
// transaction per table. The first sync after start is full: every chain is
// rewritten, this node's chains that are no longer wanted are deleted, and
// the jump rules are made exactly one of each (duplicates and jumps of an
// older layout removed) — so a restarted agent, even after kill -9, rebuilds
// without duplicates or stale entries. Later syncs write only the chains
// whose rules changed and delete the chains that went (kube-proxy's
// MinimizeIPTablesRestore), computed by diffing the rendered rules against
// those last applied. Syncs are at least MinSyncInterval apart (100 ms), so
// a burst of changes is applied by one sync. Every SyncPeriod (30 s) the
// host is checked (chains and jump rules present); drift, a failed restore
// or an hour without one triggers a full sync.
//
// Stopping the agent leaves the rules in place: Services keep answering
// while it restarts. Cleanup(node) removes one node's rules (skiff reset,
// tests); CleanupAll every Skiff proxy rule on the host.
//
// NodePorts on 127.0.0.1 need net.ipv4.conf.all.route_localnet=1, which the
// proxy sets as kube-proxy does (and, as kube-proxy, it drops packets from
// other hosts to 127.0.0.0/8 that the setting would otherwise let in). When
// an endpoint of a UDP port goes, its conntrack entries are deleted through
// ctnetlink, so a long-lived UDP client moves to a live endpoint. Hairpin
// traffic (a pod reaching itself through its Service) is DNATed back into
// the port of the bridge it came from, which the bridge allows only in
// hairpin mode: each sync turns it on for the ports of the pod bridge, as
// the kubelet's --hairpin-mode=hairpin-veth does (Docker leaves it off).
//
// Rule generation (buildRuleset) is a pure function of the service ports
// and two CIDRs, tested with golden files in testdata/; the applier is
// tested against an in-memory iptables that enforces restore's semantics;
// e2e/proxy_test.go runs it against the real iptables and Docker.
//
// # The userspace mode
//
// Where iptables cannot be used (no binary, no privilege) or with
// --proxy-mode=userspace, the agent relays connections itself: it listens
// on 0.0.0.0:<nodePort> for NodePorts and on ClusterIP:port for ClusterIPs,
// after adding each ClusterIP to the loopback device (as kube-proxy's IPVS
// mode binds ClusterIPs to a dummy device; that needs CAP_NET_ADMIN — where
// it fails, the Service gets a Warning event and only its NodePort is
// served). TCP is copied with splice(2) (io.Copy between *net.TCPConn); UDP
// flows are tracked per client with an idle timeout. Ports without
// endpoints have no listener, so clients are refused at once. Unlike the
// iptables mode, the userspace mode stops serving while the agent is down,
// and the endpoint sees the agent as the client.
//
// # Differences from kube-proxy
//
//   - Chains carry a per-node prefix (several agents on one host).
//   - Local traffic policies count endpoints of co-located nodes as local.
//   - SKIFF-<n>-FORWARD also accepts DNATed traffic to the pod network, so a
//     Local-policy NodePort works despite Docker's FORWARD DROP policy.
//   - Unallocated service IPs are rejected in iptables mode (kube-proxy's
//     nftables mode does this; its iptables mode does not).
//   - Hairpin mode on the bridge ports is set by the proxy (the kubelet's
//     job upstream; Skiff's runtime leaves the ports as Docker makes them).
//   - Not supported: spec.loadBalancerSourceRanges (such a Service gets a
//     Warning event, LoadBalancerSourceRangesIgnored, and answers every
//     source), topology-aware routing hints, IPv6 and dual-stack (IPv4
//     only).
//   - Clusters sharing a host share its iptables and, by default, the
//     service CIDR: two clusters' Services at the same ClusterIP collide
//     (the agent whose jump rules come first, usually the one started
//     last, wins), as two kube-proxies on one host would.
package proxy
