//go:build unix

package prober

import "syscall"

// lingerControl sets SO_LINGER to 1 s. It is best effort, as in the
// kubelet: a socket that keeps the default is still a working probe.
func lingerControl(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		_ = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
	})
}
