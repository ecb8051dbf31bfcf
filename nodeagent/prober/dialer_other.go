//go:build !unix

package prober

import "syscall"

// lingerControl is nil where SO_LINGER cannot be set the unix way.
var lingerControl func(network, address string, c syscall.RawConn) error
