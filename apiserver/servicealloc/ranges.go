package servicealloc

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Defaults, as kube-apiserver's (--service-cluster-ip-range 10.0.0.0/24 is
// the upstream default; 10.96.0.0/16 is kubeadm's and what users expect).
const (
	DefaultServiceCIDR   = "10.96.0.0/16"
	DefaultNodePortRange = "30000-32767"
)

// ipRange is the set of addresses a cluster IP may take: the service CIDR
// without its network and broadcast addresses. Offsets count from the
// first usable address.
type ipRange struct {
	prefix netip.Prefix
	first  uint32
	size   int
	// band is the size of the lower band, left to requested addresses
	// while the upper band has room (KEP-3070).
	band int
}

// parseIPRange reads a service CIDR. Only IPv4 is supported; the mask must
// be /12 to /30, as kube-apiserver requires at least 2 usable addresses and
// refuses ranges larger than /12.
func parseIPRange(cidr string) (ipRange, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return ipRange{}, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	p = p.Masked()
	if !p.Addr().Is4() {
		return ipRange{}, fmt.Errorf("service CIDR %q: only IPv4 service CIDRs are supported", cidr)
	}
	switch bits := p.Bits(); {
	case bits < 12:
		return ipRange{}, fmt.Errorf("service CIDR %q is too large: the mask must be /12 or longer", cidr)
	case bits > 30:
		return ipRange{}, fmt.Errorf("service CIDR %q is too small: the mask must be /30 or shorter", cidr)
	}
	total := 1 << (32 - p.Bits())
	r := ipRange{prefix: p, first: addrToUint(p.Addr()) + 1, size: total - 2}
	r.band = rangeBand(total, 16, 256, 16)
	return r, nil
}

// rangeBand is upstream's calculateRangeOffset: min(max(lo, size/step), hi),
// or 0 for ranges too small to split.
func rangeBand(size, lo, hi, step int) int {
	if size <= lo {
		return 0
	}
	return min(max(lo, size/step), hi)
}

func addrToUint(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func uintToAddr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// offset is the position of ip in the range, if it is in it.
func (r ipRange) offset(ip netip.Addr) (int, bool) {
	if !ip.Is4() {
		return 0, false
	}
	v := addrToUint(ip)
	if v < r.first || v >= r.first+uint32(r.size) {
		return 0, false
	}
	return int(v - r.first), true
}

func (r ipRange) addr(offset int) netip.Addr { return uintToAddr(r.first + uint32(offset)) }

// portRange is the node port range.
type portRange struct {
	utilnet.PortRange
	band int
}

func parsePortRange(s string) (portRange, error) {
	pr, err := utilnet.ParsePortRange(s)
	if err != nil {
		return portRange{}, fmt.Errorf("node port range %q: %w", s, err)
	}
	if pr.Base < 1 || pr.Size < 1 {
		return portRange{}, fmt.Errorf("node port range %q: ports must be between 1 and 65535", s)
	}
	return portRange{PortRange: *pr, band: rangeBand(pr.Size, 16, 128, 32)}, nil
}

func (r portRange) offset(port int) (int, bool) {
	if !r.Contains(port) {
		return 0, false
	}
	return port - r.Base, true
}

func (r portRange) port(offset int) int { return r.Base + offset }

// pool is one kind of reservation — cluster IPs or node ports — as
// offsets 0..size-1, each the key prefix+name(offset) in etcd.
type pool struct {
	// what names the values in errors: "serviceIP" or "nodePort".
	what   string
	prefix string
	size   int
	band   int
	name   func(offset int) string
	parse  func(name string) (int, bool)
}

func newIPPool(keyPrefix string, r ipRange) *pool {
	return &pool{
		what: "serviceIP", prefix: keyPrefix + "clusterips/", size: r.size, band: r.band,
		name: func(off int) string { return r.addr(off).String() },
		parse: func(name string) (int, bool) {
			ip, err := netip.ParseAddr(name)
			if err != nil {
				return 0, false
			}
			return r.offset(ip)
		},
	}
}

func newPortPool(keyPrefix string, r portRange) *pool {
	return &pool{
		what: "nodePort", prefix: keyPrefix + "nodeports/", size: r.Size, band: r.band,
		name: func(off int) string { return strconv.Itoa(r.port(off)) },
		parse: func(name string) (int, bool) {
			p, err := strconv.Atoi(name)
			if err != nil {
				return 0, false
			}
			return r.offset(p)
		},
	}
}

// FirstAddress is the first usable address of a service CIDR, the
// kubernetes Service's (the API server puts it in its certificate before
// it builds an Allocator).
func FirstAddress(cidr string) (netip.Addr, error) {
	r, err := parseIPRange(cidr)
	if err != nil {
		return netip.Addr{}, err
	}
	return r.addr(0), nil
}
