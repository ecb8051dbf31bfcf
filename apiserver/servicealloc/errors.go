package servicealloc

import (
	"errors"
	"fmt"
)

// The allocators' errors, with upstream's messages (they reach users inside
// 422 and 500 Status messages). Test for them with errors.Is / errors.As.
var (
	// ErrFull: no address is left in the range.
	ErrFull = errors.New("range is full")
	// ErrIPAllocated: the requested cluster IP is held by another Service.
	ErrIPAllocated = errors.New("provided IP is already allocated")
	// ErrPortAllocated: the requested node port is held by another Service.
	ErrPortAllocated = errors.New("provided port is already allocated")
)

// IPNotInRangeError: a requested cluster IP outside the service CIDR.
type IPNotInRangeError struct {
	IP, ValidRange string
}

func (e *IPNotInRangeError) Error() string {
	return fmt.Sprintf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", e.IP, e.ValidRange)
}

// PortNotInRangeError: a requested node port outside the node port range.
type PortNotInRangeError struct {
	ValidPorts string
}

func (e *PortNotInRangeError) Error() string {
	return fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", e.ValidPorts)
}
