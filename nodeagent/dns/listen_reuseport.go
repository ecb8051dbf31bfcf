//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package dns

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort sets SO_REUSEPORT before bind, so that every agent sharing
// the host's network namespace (several agents on one Docker engine) binds
// the same gateway:53: the kernel spreads queries over the sockets of the
// group, and the sockets of an agent that dies leave the group with it.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}

// listenShared binds UDP and TCP on addr in the SO_REUSEPORT group.
func listenShared(ctx context.Context, addr string) (net.PacketConn, net.Listener, error) {
	lc := net.ListenConfig{Control: reusePort}
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, nil, err
	}
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, l, nil
}
