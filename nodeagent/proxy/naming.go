package proxy

import (
	"crypto/sha256"
	"encoding/base32"
)

// ChainPrefix starts the name of every iptables chain Skiff's proxy
// creates. Nothing else on a host uses it, so CleanupAll can find them all.
const ChainPrefix = "SKIFF-"

// maxChainName is iptables' limit on a chain name (XT_EXTENSION_MAXNAMELEN
// minus the terminating NUL).
const maxChainName = 28

// clusterTagLen and nodeTagLen are the lengths of the per-cluster and
// per-node parts of chain names: three base32 characters (15 bits) each.
// A host carries a handful of clusters and, per cluster, a handful of
// agents, so they do not collide in practice, and the longest name still
// fits in 28 characters: "SKIFF-" + 3 + "-" + 3 + "-SVC-" + 10 = 28.
const (
	clusterTagLen = 3
	nodeTagLen    = 3
)

// hashLen is the length of the per-service and per-endpoint hash in chain
// names: 50 bits, what the 28-character limit leaves after the prefix.
const hashLen = 10

// ClusterChainPrefix is the prefix every chain of one cluster's proxies
// starts with: "SKIFF-" and a short hash of the cluster's identity (the
// one its containers are labelled with). `skiff reset` removes a
// cluster's rules by it, whichever of its nodes made them.
func ClusterChainPrefix(clusterID string) string {
	return ChainPrefix + hash32(clusterID, clusterTagLen)
}

// NodeChainPrefix is the prefix of one node's chains: the cluster's prefix
// and a short hash of the node name. Several agents on one Docker engine,
// of one cluster or of several (whose node names may well be the same,
// the host's name), share the host's iptables; each owns only the chains
// under its own prefix, so no agent ever deletes another's rules.
func NodeChainPrefix(clusterID, nodeName string) string {
	return ClusterChainPrefix(clusterID) + "-" + hash32(nodeName, nodeTagLen)
}

func hash32(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(h[:])[:n]
}

// chainNames are the names of one node's chains.
type chainNames struct {
	prefix string
}

// Top-level chains, jumped to from the built-in chains.
func (c chainNames) services() string       { return c.prefix + "-SERVICES" }
func (c chainNames) nodePorts() string      { return c.prefix + "-NODEPORTS" }
func (c chainNames) postrouting() string    { return c.prefix + "-POSTROUTING" }
func (c chainNames) markMasq() string       { return c.prefix + "-MARK-MASQ" }
func (c chainNames) extServices() string    { return c.prefix + "-EXT-SERVICES" }
func (c chainNames) forward() string        { return c.prefix + "-FORWARD" }
func (c chainNames) firewall() string       { return c.prefix + "-FIREWALL" }
func (c chainNames) filterServices() string { return c.prefix + "-SERVICES" }

// Per service port (kube-proxy's KUBE-SVC-, KUBE-SVL-, KUBE-EXT-) and per
// endpoint (KUBE-SEP-) chains. The hash covers the service port's name and
// protocol (and the endpoint), so a chain's name changes exactly when what
// it stands for does.
func (c chainNames) svc(sp servicePortName) string {
	return c.prefix + "-SVC-" + hash32(sp.key(), hashLen)
}
func (c chainNames) svl(sp servicePortName) string {
	return c.prefix + "-SVL-" + hash32(sp.key(), hashLen)
}
func (c chainNames) ext(sp servicePortName) string {
	return c.prefix + "-EXT-" + hash32(sp.key(), hashLen)
}
func (c chainNames) sep(sp servicePortName, ep endpoint) string {
	return c.prefix + "-SEP-" + hash32(sp.key()+ep.String(), hashLen)
}
