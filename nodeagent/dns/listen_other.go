//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package dns

import (
	"context"
	"errors"
	"net"
)

// listenShared needs SO_REUSEPORT, which this platform lacks.
func listenShared(context.Context, string) (net.PacketConn, net.Listener, error) {
	return nil, nil, errors.New("cluster DNS needs SO_REUSEPORT, which this platform does not have")
}
