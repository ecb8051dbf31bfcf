package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"
)

// fullSyncPeriod bounds how long drift behind the proxy's back (a chain
// edited by hand) can survive: like kube-proxy, a full resync runs at
// least this often even when nothing seems wrong.
const fullSyncPeriod = time.Hour

// routeLocalnet is the sysctl that lets packets from 127.0.0.0/8 be routed
// to a pod, so NodePorts answer on 127.0.0.1.
const routeLocalnet = "/proc/sys/net/ipv4/conf/all/route_localnet"

// iptablesBackend programs Skiff's chains with iptables-restore.
type iptablesBackend struct {
	ipt    iptables
	params ruleParams
	jumps  []jumpRule
	log    *slog.Logger
	flows  flowCleaner
	now    func() time.Time
	// sysctl is the route_localnet file and sysfs the root of
	// /sys (temporary ones in tests).
	sysctl, sysfs string
	// clusterCIDR finds the pod bridge for hairpin mode.
	clusterCIDR netip.Prefix

	// applied is the ruleset the last successful sync wrote; nil means
	// the host's state is unknown and the next sync is a full one.
	applied *Ruleset
	// appliedPorts are the service ports applied is made of (for UDP
	// flow cleanup).
	appliedPorts []servicePort
	lastFull     time.Time
}

func newIPTablesBackend(ipt iptables, params ruleParams, flows flowCleaner, log *slog.Logger) *iptablesBackend {
	return &iptablesBackend{ipt: ipt, params: params, jumps: jumpRules(params.Prefix), log: log, flows: flows, now: time.Now, sysctl: routeLocalnet, sysfs: "/sys"}
}

func (b *iptablesBackend) name() string { return ModeIPTables }

// prepare sets route_localnet (as kube-proxy does) so NodePorts answer on
// 127.0.0.1; without it they still answer on the host's other addresses.
func (b *iptablesBackend) prepare(context.Context) error {
	cur, err := os.ReadFile(b.sysctl)
	if err == nil && strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	if err := os.WriteFile(b.sysctl, []byte("1"), 0o644); err != nil {
		b.log.Warn("cannot set route_localnet: NodePorts will not answer on 127.0.0.1", "sysctl", "net.ipv4.conf.all.route_localnet", "err", err)
		return nil
	}
	b.log.Info("set sysctl for NodePorts on 127.0.0.1", "sysctl", "net.ipv4.conf.all.route_localnet", "value", 1)
	return nil
}

// sync writes the rules for ports: everything when forced, on the first
// sync, after a failure, or once fullSyncPeriod has passed; otherwise only
// the chains that changed.
func (b *iptablesBackend) sync(ctx context.Context, ports []servicePort, force bool) (syncStats, error) {
	next := buildRuleset(b.params, ports)
	full := force || b.applied == nil || b.now().Sub(b.lastFull) >= fullSyncPeriod
	var text []byte
	st := syncStats{Full: full}
	if full {
		host, err := readHost(ctx, b.ipt, b.params.Prefix)
		if err != nil {
			b.applied = nil
			return st, err
		}
		text, st.Chains = fullRestore(next, host, b.jumps)
	} else {
		text, st.Chains = incrementalRestore(b.applied, next)
	}
	if len(text) > 0 {
		if err := b.ipt.Restore(ctx, text); err != nil {
			b.applied = nil
			return st, err
		}
	}
	// Ports of pods started since the last sync need hairpin mode; by
	// the time a pod is an endpoint (and so in the rules) it has one.
	if b.clusterCIDR.IsValid() {
		if n, err := enableHairpin(b.sysfs, b.clusterCIDR); err != nil {
			b.log.Warn("hairpin mode on the pod bridge: a pod reaching itself through its Service may fail", "err", err)
		} else if n > 0 {
			b.log.Debug("hairpin mode enabled", "ports", n)
		}
	}
	prevPorts := b.appliedPorts
	b.applied, b.appliedPorts = next, ports
	if full {
		b.lastFull = b.now()
	}
	// Stale UDP flows: conntrack keeps sending a UDP "connection" to the
	// endpoint it was first NATed to, gone or not. Best effort: a failure
	// only delays recovery until the flow times out.
	if b.flows != nil {
		if filters := staleUDPFlows(prevPorts, ports); len(filters) > 0 {
			if n, err := b.flows.deleteUDP(filters); err != nil {
				b.log.Warn("clearing stale UDP conntrack entries", "err", err)
			} else if n > 0 {
				b.log.Debug("cleared stale UDP conntrack entries", "entries", n)
			}
		}
	}
	return st, nil
}

// check verifies that the jump rules and every chain of the last sync are
// on the host (a firewall reload or an `iptables -F` removes them); an
// error asks for a full sync.
func (b *iptablesBackend) check(ctx context.Context) error {
	if b.applied == nil {
		return fmt.Errorf("no rules applied yet")
	}
	host, err := readHost(ctx, b.ipt, b.params.Prefix)
	if err != nil {
		return err
	}
	for _, t := range b.applied.Tables {
		ht := host[t.Name]
		for _, c := range t.Chains {
			if !ht.Chains[c.Name] {
				return fmt.Errorf("chain %s/%s is missing", t.Name, c.Name)
			}
		}
		if len(ht.Chains) != len(t.Chains) {
			return fmt.Errorf("table %s has %d chains of this node, want %d", t.Name, len(ht.Chains), len(t.Chains))
		}
	}
	count := map[jumpRule]int{}
	for _, ht := range host {
		for _, j := range ht.Jumps {
			count[j]++
		}
	}
	for _, j := range b.jumps {
		if count[j] != 1 {
			return fmt.Errorf("jump rule %s %s found %d times", j.Chain, j.Spec, count[j])
		}
		delete(count, j)
	}
	for j := range count {
		return fmt.Errorf("unexpected jump rule %s %s", j.Chain, j.Spec)
	}
	return nil
}

func (b *iptablesBackend) close() {}
