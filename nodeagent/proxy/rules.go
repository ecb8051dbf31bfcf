package proxy

import (
	"fmt"
	"strconv"
	"strings"
)

// masqueradeMark is the packet mark bit meaning "masquerade this at
// POSTROUTING": kube-proxy's 0x4000, so the two agree if they ever meet.
// Several agents on one host share it; whichever agent's POSTROUTING
// chain sees a marked packet first masquerades it and clears the bit.
const masqueradeMark = "0x4000"

// Table names.
const (
	tableNAT    = "nat"
	tableFilter = "filter"
)

// Chain is one of Skiff's chains and its rules, each a complete
// iptables-restore line ("-A NAME ...").
type Chain struct {
	Name  string
	Rules []string
}

// Table is Skiff's chains in one iptables table, in a stable order.
type Table struct {
	Name   string
	Chains []Chain
}

// Ruleset is everything one node's proxy writes to iptables, apart from
// the jump rules in the built-in chains (jumpRules).
type Ruleset struct {
	Tables []Table
}

// chains maps "table/chain" to the chain's rules.
func (r *Ruleset) chains() map[string][]string {
	m := map[string][]string{}
	for _, t := range r.Tables {
		for _, c := range t.Chains {
			m[t.Name+"/"+c.Name] = c.Rules
		}
	}
	return m
}

// ruleParams are the node and cluster facts the rules depend on.
type ruleParams struct {
	// Prefix is NodeChainPrefix(node).
	Prefix string
	// ClusterCIDR is the pod network ("" if unknown: then all ClusterIP
	// traffic is masqueraded, kube-proxy's --masquerade-all).
	ClusterCIDR string
	// ServiceCIDR is where ClusterIPs come from ("" to leave it alone).
	ServiceCIDR string
}

// chainBuilder collects the rules of one table.
type chainBuilder struct {
	order []string
	rules map[string][]string
}

func newChainBuilder() *chainBuilder { return &chainBuilder{rules: map[string][]string{}} }

// chain declares a chain (so it exists even without rules).
func (b *chainBuilder) chain(name string) {
	if _, ok := b.rules[name]; !ok {
		b.order = append(b.order, name)
		b.rules[name] = nil
	}
}

// add appends a rule built from args to chain.
func (b *chainBuilder) add(chain string, args ...string) {
	b.chain(chain)
	b.rules[chain] = append(b.rules[chain], "-A "+chain+" "+strings.Join(args, " "))
}

func (b *chainBuilder) table(name string) Table {
	t := Table{Name: name}
	for _, c := range b.order {
		t.Chains = append(t.Chains, Chain{Name: c, Rules: b.rules[c]})
	}
	return t
}

// comment renders an iptables comment match. Comments are quoted always;
// Kubernetes names never hold a double quote.
func comment(text string) string { return `-m comment --comment "` + text + `"` }

// protoArgs are the protocol match and destination port match.
func protoArgs(proto string, port int32) string {
	return "-p " + proto + " -m " + proto + " --dport " + strconv.Itoa(int(port))
}

// probability is the share of traffic the i-th of n endpoints takes of
// what the rules before it left: 1/(n-i), written as kube-proxy does.
func probability(n int) string { return fmt.Sprintf("%0.10f", 1.0/float64(n)) }

// buildRuleset renders the rules for a set of service ports, following
// kube-proxy's iptables mode chain for chain (see doc.go).
func buildRuleset(p ruleParams, ports []servicePort) *Ruleset {
	names := chainNames{prefix: p.Prefix}
	nat, filter := newChainBuilder(), newChainBuilder()

	// Fixed chains first, so the golden files and iptables-save read
	// top-down.
	nat.chain(names.services())
	nat.chain(names.nodePorts())
	nat.add(names.postrouting(), "-m mark ! --mark "+masqueradeMark+"/"+masqueradeMark, "-j RETURN")
	// Clear the bit, so a packet re-traversing (e.g. through another
	// agent's chain or a tunnel) is not masqueraded twice.
	nat.add(names.postrouting(), "-j MARK --xor-mark "+masqueradeMark)
	nat.add(names.postrouting(), comment("skiff service traffic requiring SNAT"), "-j MASQUERADE --random-fully")
	nat.add(names.markMasq(), "-j MARK --or-mark "+masqueradeMark)

	filter.chain(names.filterServices())
	filter.chain(names.extServices())
	filter.add(names.forward(), comment("skiff forwarding rules"), "-m mark --mark "+masqueradeMark+"/"+masqueradeMark, "-j ACCEPT")
	if p.ClusterCIDR != "" {
		// Unmasqueraded service traffic (external traffic policy Local)
		// forwarded to a pod: Docker's FORWARD policy is DROP and its
		// DOCKER chain accepts only published ports.
		filter.add(names.forward(), "-d "+p.ClusterCIDR, comment("skiff service traffic to pods"), "-m conntrack --ctstate DNAT", "-j ACCEPT")
	}
	filter.add(names.forward(), comment("skiff forwarding conntrack rule"), "-m conntrack --ctstate RELATED,ESTABLISHED", "-j ACCEPT")
	// route_localnet=1 (for NodePorts on 127.0.0.1) would let other hosts
	// reach 127.0.0.0/8 services; kube-proxy drops such packets too.
	filter.add(names.firewall(), "! -s 127.0.0.0/8 -d 127.0.0.0/8", comment("block incoming localnet connections"),
		"-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT", "-j DROP")

	for i := range ports {
		writeServicePort(nat, filter, names, p, &ports[i])
	}

	// Last: a new connection to a service IP that no rule above took
	// (no such Service, or no such port) is refused here rather than
	// routed out of the host towards the default gateway, as kube-proxy's
	// nftables mode does. Local addresses are left alone: an agent in
	// userspace mode on the same host serves its ClusterIPs as local
	// addresses.
	if p.ServiceCIDR != "" {
		filter.add(names.filterServices(), "-d "+p.ServiceCIDR, comment("skiff unallocated service IPs; NOTE: this must be the last rule in this chain"),
			"-m addrtype ! --dst-type LOCAL", rejectTarget("REJECT"))
	}

	// Last: anything to a local address not matched above may be a
	// NodePort.
	nat.add(names.services(), comment("skiff service nodeports; NOTE: this must be the last rule in this chain"),
		"-m addrtype --dst-type LOCAL", "-j "+names.nodePorts())

	return &Ruleset{Tables: []Table{nat.table(tableNAT), filter.table(tableFilter)}}
}

// writeServicePort writes the chains of one service port.
func writeServicePort(nat, filter *chainBuilder, names chainNames, p ruleParams, sp *servicePort) {
	proto := strings.ToLower(string(sp.Name.Protocol))
	name := sp.Name.String()
	clusterEPs, localEPs := sp.clusterEndpoints(), sp.localEndpoints()
	internalEPs, externalEPs := sp.internalEndpoints(), sp.externalEndpoints()
	hasAny := len(clusterEPs) > 0

	svcChain, svlChain, extChain := names.svc(sp.Name), names.svl(sp.Name), names.ext(sp.Name)
	usesSVC := hasAny && sp.usesClusterEndpoints()
	usesSVL := len(localEPs) > 0 && sp.usesLocalEndpoints()
	internalChain, externalChain := svcChain, svcChain
	if sp.InternalLocal {
		internalChain = svlChain
	}
	if sp.ExternalLocal {
		externalChain = svlChain
	}

	// ClusterIP.
	dst := "-d " + sp.ClusterIP + "/32"
	if len(internalEPs) > 0 {
		nat.add(names.services(), dst, "-p "+proto, comment(name+" cluster IP"), "-m "+proto+" --dport "+itoa(sp.Port), "-j "+internalChain)
	} else {
		target, why := "REJECT", "has no endpoints"
		if sp.InternalLocal && hasAny {
			// Upstream drops rather than rejects: the Service has
			// endpoints, just none this node may use.
			target, why = "DROP", "has no local endpoints"
		}
		filter.add(names.filterServices(), dst, "-p "+proto, comment(name+" "+why), "-m "+proto+" --dport "+itoa(sp.Port), rejectTarget(target))
	}

	// NodePort and external IPs go through the EXT chain.
	if sp.externallyAccessible() {
		if len(externalEPs) > 0 || (sp.ExternalLocal && usesSVC) {
			if sp.NodePort != 0 {
				nat.add(names.nodePorts(), "-p "+proto, comment(name), "-m "+proto+" --dport "+itoa(sp.NodePort), "-j "+extChain)
			}
			for _, ip := range sp.ExternalIPs {
				nat.add(names.services(), "-d "+ip+"/32", "-p "+proto, comment(name+" external IP"), "-m "+proto+" --dport "+itoa(sp.Port), "-j "+extChain)
			}
			if sp.ExternalLocal {
				if usesSVC {
					// Pods and the host itself reaching a Local
					// NodePort are served by any endpoint: there is
					// no client address to preserve (kube-proxy's
					// short-circuit).
					if p.ClusterCIDR != "" {
						nat.add(extChain, "-s "+p.ClusterCIDR, comment("pod traffic for "+name+" external destinations"), "-j "+svcChain)
					}
					nat.add(extChain, comment("masquerade LOCAL traffic for "+name+" external destinations"), "-m addrtype --src-type LOCAL", "-j "+names.markMasq())
					nat.add(extChain, comment("route LOCAL traffic for "+name+" external destinations"), "-m addrtype --src-type LOCAL", "-j "+svcChain)
				}
			} else {
				nat.add(extChain, comment("masquerade traffic for "+name+" external destinations"), "-j "+names.markMasq())
			}
			if len(externalEPs) > 0 {
				nat.add(extChain, "-j "+externalChain)
			}
		}
		if len(externalEPs) == 0 {
			target, why := "REJECT", "has no endpoints"
			if sp.ExternalLocal && hasAny {
				target, why = "DROP", "has no local endpoints"
			}
			if sp.NodePort != 0 {
				filter.add(names.extServices(), "-p "+proto, comment(name+" "+why), "-m addrtype --dst-type LOCAL", "-m "+proto+" --dport "+itoa(sp.NodePort), rejectTarget(target))
			}
			for _, ip := range sp.ExternalIPs {
				filter.add(names.extServices(), "-d "+ip+"/32", "-p "+proto, comment(name+" "+why), "-m "+proto+" --dport "+itoa(sp.Port), rejectTarget(target))
			}
		}
	}

	// The load-balancing chains.
	masq := func(chain string) {
		// Traffic to the ClusterIP from outside the pod network (the
		// host, another host) is masqueraded so replies come back here.
		if p.ClusterCIDR != "" {
			nat.add(chain, "! -s "+p.ClusterCIDR, dst, "-p "+proto, comment(name+" cluster IP"), "-m "+proto+" --dport "+itoa(sp.Port), "-j "+names.markMasq())
		} else {
			nat.add(chain, dst, "-p "+proto, comment(name+" cluster IP"), "-m "+proto+" --dport "+itoa(sp.Port), "-j "+names.markMasq())
		}
	}
	if usesSVC {
		if !sp.InternalLocal {
			masq(svcChain)
		}
		writeBalancer(nat, names, sp, svcChain, clusterEPs)
	}
	if usesSVL {
		if sp.InternalLocal {
			masq(svlChain)
		}
		writeBalancer(nat, names, sp, svlChain, localEPs)
	}

	// Endpoint chains, for every endpoint some chain above sends to.
	seen := map[string]bool{}
	var eps []endpoint
	if usesSVC {
		eps = append(eps, clusterEPs...)
	}
	if usesSVL {
		eps = append(eps, localEPs...)
	}
	for _, ep := range eps {
		sep := names.sep(sp.Name, ep)
		if seen[sep] {
			continue
		}
		seen[sep] = true
		// Hairpin: a pod reaching itself through its Service must see
		// the reply come from the Service, so the flow is masqueraded.
		nat.add(sep, "-s "+ep.IP+"/32", comment(name), "-j "+names.markMasq())
		affinity := ""
		if sp.StickySeconds > 0 {
			affinity = " -m recent --set --name " + sep + " --mask 255.255.255.255 --rsource"
		}
		nat.add(sep, "-p "+proto, comment(name)+affinity, "-m "+proto, "-j DNAT --to-destination "+ep.String())
	}
}

// writeBalancer writes a chain choosing one endpoint at random (and, with
// ClientIP affinity, the endpoint the client used last if it is still
// there): kube-proxy's statistic-match cascade.
func writeBalancer(nat *chainBuilder, names chainNames, sp *servicePort, chain string, eps []endpoint) {
	name := sp.Name.String()
	if sp.StickySeconds > 0 {
		for _, ep := range eps {
			sep := names.sep(sp.Name, ep)
			nat.add(chain, comment(name+" -> "+ep.String()),
				"-m recent --name "+sep+" --rcheck --seconds "+itoa(sp.StickySeconds)+" --reap", "-j "+sep)
		}
	}
	for i, ep := range eps {
		sep := names.sep(sp.Name, ep)
		if i == len(eps)-1 {
			nat.add(chain, comment(name+" -> "+ep.String()), "-j "+sep)
			continue
		}
		nat.add(chain, comment(name+" -> "+ep.String()), "-m statistic --mode random --probability "+probability(len(eps)-i), "-j "+sep)
	}
}

func rejectTarget(target string) string {
	if target == "REJECT" {
		// A TCP client gets "connection refused" at once (not a
		// timeout), a UDP client an ICMP error.
		return "-j REJECT --reject-with icmp-port-unreachable"
	}
	return "-j " + target
}

func itoa[T ~int32 | ~int](n T) string { return strconv.Itoa(int(n)) }
