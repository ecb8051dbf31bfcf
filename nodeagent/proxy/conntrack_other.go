//go:build !linux

package proxy

// newFlowCleaner returns nil off Linux: there is no conntrack to clean.
func newFlowCleaner() flowCleaner { return nil }
