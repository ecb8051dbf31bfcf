package proxy

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Cleanup removes everything the proxy of one node put in iptables: its
// chains and its jump rules in the built-in chains. Other nodes' rules
// (agents sharing the host) are left alone. It is for tests; an agent
// that stops keeps its rules, so Services keep answering until it is back.
func Cleanup(clusterID, nodeName string) error {
	return cleanupPrefix(NodeChainPrefix(clusterID, nodeName))
}

// CleanupCluster removes the iptables rules of every node of one cluster,
// those without pods included: what `skiff reset` does. Other clusters'
// rules on the same host are left alone.
func CleanupCluster(clusterID string) error {
	return cleanupPrefix(ClusterChainPrefix(clusterID))
}

// CleanupAll removes every Skiff proxy chain and jump rule on the host,
// whatever node made them, and the ClusterIPs the userspace mode added to
// the loopback device.
func CleanupAll() error {
	err := cleanupPrefix(strings.TrimSuffix(ChainPrefix, "-"))
	if _, lerr := exec.LookPath("ip"); lerr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if aerr := (loopbackAddrs{}).sync(ctx, nil); aerr != nil {
			err = errors.Join(err, fmt.Errorf("remove ClusterIPs from the loopback device: %w", aerr))
		}
	}
	return err
}

func cleanupPrefix(prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		return nil // no iptables: nothing can have been written
	}
	ipt, err := newExecIPTables(ctx)
	if err != nil {
		return fmt.Errorf("remove the proxy rules of %s: %w", prefix, err)
	}
	return cleanupWith(ctx, ipt, prefix)
}

func cleanupWith(ctx context.Context, ipt iptables, prefix string) error {
	host, err := readHost(ctx, ipt, prefix)
	if err != nil {
		return err
	}
	text := cleanupRestore(host)
	if len(text) == 0 {
		return nil
	}
	if err := ipt.Restore(ctx, text); err != nil {
		return fmt.Errorf("remove the proxy rules of %s: %w", prefix, err)
	}
	return nil
}
