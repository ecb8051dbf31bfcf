//go:build linux

package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// enableHairpin turns on hairpin mode on every port of the pod bridge (the
// bridge holding an address of the cluster CIDR), as the kubelet's
// --hairpin-mode=hairpin-veth does. A pod reaching itself through its
// Service sends a frame into the bridge that br_netfilter DNATs back to
// the same pod; the bridge forwards it out of the port it came in on only
// in hairpin mode. Docker leaves the mode off. It returns how many ports it
// changed.
func enableHairpin(sysfs string, clusterCIDR netip.Prefix) (int, error) {
	if !clusterCIDR.IsValid() {
		return 0, nil
	}
	bridge, err := podBridge(clusterCIDR)
	if err != nil || bridge == "" {
		return 0, err
	}
	dir := filepath.Join(sysfs, "class", "net", bridge, "brif")
	ports, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil // not a bridge
		}
		return 0, err
	}
	changed := 0
	var errs []error
	for _, p := range ports {
		f := filepath.Join(dir, p.Name(), "hairpin_mode")
		cur, err := os.ReadFile(f)
		if err != nil {
			continue // the port went meanwhile
		}
		if strings.TrimSpace(string(cur)) == "1" {
			continue
		}
		if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("hairpin mode on %s: %w", p.Name(), err))
			continue
		}
		changed++
	}
	return changed, errors.Join(errs...)
}

// podBridge finds the interface holding an address of the cluster CIDR
// (Docker's bridge of the pod network, "br-<network id>").
func podBridge(clusterCIDR netip.Prefix) (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ip, ok := netip.AddrFromSlice(n.IP.To4()); ok && clusterCIDR.Contains(ip) {
				return ifc.Name, nil
			}
		}
	}
	return "", nil
}
