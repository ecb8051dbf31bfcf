package apiserver

import (
	"context"
	"net"
	"syscall"
)

// listenFreebind listens on addr even when no interface holds its address
// yet (IP_FREEBIND): the pod network's bridge, and so its gateway address,
// appears only when the first node agent creates it, which may be after
// the server starts. Connections arrive once it exists.
func listenFreebind(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_FREEBIND, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(ctx, "tcp4", addr)
}
