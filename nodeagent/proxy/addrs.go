package proxy

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// loopbackLabel marks the addresses Skiff adds to the loopback device
// (userspace mode's ClusterIPs), so it removes only its own.
const loopbackLabel = "lo:skiff"

// addrManager keeps a set of addresses on the host.
type addrManager interface {
	// sync makes the set of Skiff's addresses exactly want.
	sync(ctx context.Context, want map[netip.Addr]bool) error
}

// loopbackAddrs keeps ClusterIPs on the loopback device with the ip
// command (iproute2). The addresses are host state shared by every agent
// on the host (they serve the same Services); an agent removes one only
// when its Service is gone, and CleanupAll removes them all.
type loopbackAddrs struct{}

func (loopbackAddrs) sync(ctx context.Context, want map[netip.Addr]bool) error {
	have, err := listLoopback(ctx)
	if err != nil {
		return err
	}
	var batch strings.Builder
	for a := range want {
		if !have[a] {
			fmt.Fprintf(&batch, "address add %s/32 dev lo label %s scope host\n", a, loopbackLabel)
		}
	}
	for a := range have {
		if !want[a] {
			fmt.Fprintf(&batch, "address del %s/32 dev lo\n", a)
		}
	}
	return ipBatch(ctx, batch.String())
}

// listLoopback lists the addresses labelled as Skiff's.
func listLoopback(ctx context.Context) (map[netip.Addr]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "-4", "-o", "address", "show", "dev", "lo", "label", loopbackLabel).Output()
	if err != nil {
		return nil, fmt.Errorf("ip address show dev lo: %w", err)
	}
	have := map[netip.Addr]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil {
					have[p.Addr()] = true
				}
			}
		}
	}
	return have, nil
}

// ipBatch runs ip -batch; "-force" goes on past a failing line (an
// address another agent added or removed meanwhile) and reports it.
func ipBatch(ctx context.Context, batch string) error {
	if batch == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "-force", "-batch", "-")
	cmd.Stdin = strings.NewReader(batch)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		// Races with another agent on the host are not failures.
		benign := true
		for _, l := range strings.Split(msg, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "File exists") && !strings.Contains(l, "Cannot assign requested address") && !strings.HasPrefix(l, "Command failed") {
				benign = false
			}
		}
		if benign && msg != "" {
			return nil
		}
		return fmt.Errorf("ip -batch: %v: %s", err, msg)
	}
	return nil
}
