//go:build !linux

package proxy

func setReuse(uintptr) error { return nil }
