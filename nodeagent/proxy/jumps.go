package proxy

import (
	"strings"
)

// jumpRule is a rule in a built-in chain that sends traffic into one of
// Skiff's chains. These are the only rules Skiff adds outside its own
// chains.
type jumpRule struct {
	Table, Chain string
	// Spec is the rule after "-A CHAIN", written exactly as iptables-save
	// prints it, so that the rules found on the host compare equal.
	Spec string
}

// target is the chain the rule jumps to.
func (j jumpRule) target() string {
	f := strings.Fields(j.Spec)
	return f[len(f)-1]
}

// jumpRules are one node's jump rules, in the order they should appear at
// the top of each built-in chain: before Docker's (nat PREROUTING and
// OUTPUT jump to DOCKER for published ports; filter FORWARD has
// DOCKER-USER, the isolation chains and a DROP policy), as kube-proxy
// prepends its own.
func jumpRules(prefix string) []jumpRule {
	n := chainNames{prefix: prefix}
	return []jumpRule{
		// nat: every packet from pods (PREROUTING) and from the host
		// (OUTPUT) meets the service portals; masquerading at the end.
		{tableNAT, "PREROUTING", `-m comment --comment "skiff service portals" -j ` + n.services()},
		{tableNAT, "OUTPUT", `-m comment --comment "skiff service portals" -j ` + n.services()},
		{tableNAT, "POSTROUTING", `-m comment --comment "skiff postrouting rules" -j ` + n.postrouting()},
		// filter: reject Services without endpoints at once, accept
		// forwarded service traffic despite Docker's DROP policy, and
		// guard route_localnet.
		{tableFilter, "INPUT", `-m conntrack --ctstate NEW -m comment --comment "skiff externally-visible service portals" -j ` + n.extServices()},
		{tableFilter, "INPUT", `-m comment --comment "skiff firewall" -j ` + n.firewall()},
		{tableFilter, "FORWARD", `-m comment --comment "skiff forwarding rules" -j ` + n.forward()},
		{tableFilter, "FORWARD", `-m conntrack --ctstate NEW -m comment --comment "skiff service portals" -j ` + n.filterServices()},
		{tableFilter, "FORWARD", `-m conntrack --ctstate NEW -m comment --comment "skiff externally-visible service portals" -j ` + n.extServices()},
		{tableFilter, "OUTPUT", `-m conntrack --ctstate NEW -m comment --comment "skiff service portals" -j ` + n.filterServices()},
		{tableFilter, "OUTPUT", `-m comment --comment "skiff firewall" -j ` + n.firewall()},
	}
}

// isBuiltin reports whether chain is one of the built-in chains of table
// that jump rules may live in.
func isBuiltin(table, chain string) bool {
	switch chain {
	case "PREROUTING", "POSTROUTING":
		return table == tableNAT
	case "INPUT", "OUTPUT":
		return true
	case "FORWARD":
		return table == tableFilter
	}
	return false
}
