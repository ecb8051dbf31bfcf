package apiserver

import (
	"fmt"
	"net/netip"
)

// podNetworkGateway is the first address of the pod network: the gateway
// node agents give the Docker bridge they attach pods to (see
// runtime.Docker.EnsureNetwork), the host's address as pods see it.
func podNetworkGateway(clusterCIDR string) (netip.Addr, error) {
	if clusterCIDR == "" {
		clusterCIDR = DefaultClusterCIDR
	}
	p, err := netip.ParsePrefix(clusterCIDR)
	if err != nil || !p.Addr().Is4() {
		return netip.Addr{}, fmt.Errorf("--cluster-cidr %q: not an IPv4 CIDR", clusterCIDR)
	}
	return p.Masked().Addr().Next(), nil
}
