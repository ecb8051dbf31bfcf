package prober

import "net"

// probeDialer is the kubelet's probe dialer (pkg/probe/dialer_others.go):
// sockets linger 1 s on close instead of sitting in TIME-WAIT for a minute,
// which thousands of probes a minute would otherwise pile up
// (kubernetes#89898).
func probeDialer() *net.Dialer {
	return &net.Dialer{Control: lingerControl}
}
