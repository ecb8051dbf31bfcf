//go:build !amd64 && !arm64

package main

// sysUserfaultfd is 0 where Skiff does not know the system call's number:
// fault-around stays on there.
const sysUserfaultfd = 0
