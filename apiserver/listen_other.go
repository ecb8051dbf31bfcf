//go:build !linux

package apiserver

import (
	"context"
	"net"
)

// listenFreebind listens on addr; outside Linux there is no IP_FREEBIND,
// so the address must exist (the pod network's bridge must be up).
func listenFreebind(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp4", addr)
}
