package dns

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The limits of a pod's resolv.conf, from Kubernetes' API validation
// (MaxDNSNameservers, MaxDNSSearchPaths, MaxDNSSearchListChars) and the
// longest DNS name (a longer search domain makes glibc 2.28 abort).
const (
	MaxNameservers     = 3
	MaxSearchDomains   = 32
	MaxSearchLineChars = 2048
	maxSearchDomainLen = 253
)

// defaultPodOptions are the options of a ClusterFirst pod: with ndots:5 a
// name with fewer than five dots is tried against the search path first,
// so "web" and "web.other-ns" find Services.
var defaultPodOptions = []string{"ndots:5"}

// PodDNSInputs is what, beside the pod, its resolv.conf is composed from.
type PodDNSInputs struct {
	// Domain is the cluster domain ("cluster.local").
	Domain string
	// Servers are the addresses pods reach cluster DNS on; empty when this
	// node serves none.
	Servers []string
	// Host is the node's resolv.conf (the agent's --resolv-conf).
	Host ResolvConf
}

// Event is a warning recorded while composing a pod's resolv.conf, with
// the kubelet's reasons.
type Event struct {
	// OnNode marks an event about the node rather than the pod.
	OnNode  bool
	Reason  string
	Message string
}

// PodResolvConf composes a pod's resolv.conf as the kubelet does
// (pkg/kubelet/network/dns GetPodDNS):
//
//   - ClusterFirst (the default): only the cluster DNS servers, the search
//     path <ns>.svc.<domain> svc.<domain> <domain> followed by the node's
//     search domains, and options ndots:5. A hostNetwork pod gets Default
//     instead, unless it asks for ClusterFirstWithHostNet. Without cluster
//     DNS the pod falls back to Default, with MissingClusterDNS events.
//   - Default: the node's resolv.conf.
//   - None: nothing but the pod's dnsConfig.
//
// The pod's dnsConfig is then merged in: name servers and search domains
// appended (duplicates dropped), options overriding by name. Finally the
// kubelet's limits apply, dropping what does not fit with a
// DNSConfigForming warning: 3 name servers; 32 search domains of at most
// 253 characters, 2,048 characters in all.
//
// One deviation: a pod in its own network namespace cannot reach the
// node's loopback resolvers (systemd-resolved's 127.0.0.53, a local
// dnsmasq), so with Default those are left out, and if none remain the pod
// is given the cluster DNS servers, which forward to them from the node.
// Docker and k3s make the same substitution; the kubelet copies the
// unreachable address.
func PodResolvConf(pod *corev1.Pod, in PodDNSInputs) (ResolvConf, []Event) {
	var events []Event
	rc := ResolvConf{
		Nameservers: append([]string{}, in.Host.Nameservers...),
		Searches:    append([]string{}, in.Host.Searches...),
		Options:     append([]string{}, in.Host.Options...),
	}
	useHost := false
	switch policyOf(pod) {
	case corev1.DNSNone:
		rc = ResolvConf{}
	case corev1.DNSDefault:
		useHost = true
	default: // cluster DNS
		if len(in.Servers) > 0 {
			rc.Nameservers = append([]string{}, in.Servers...)
			rc.Searches = clusterSearches(pod.Namespace, in.Domain, in.Host.Searches)
			rc.Options = append([]string{}, defaultPodOptions...)
			break
		}
		msg := fmt.Sprintf("the node agent serves no cluster DNS and cannot create Pod using %q policy. Falling back to %q policy.", corev1.DNSClusterFirst, corev1.DNSDefault)
		events = append(events,
			Event{OnNode: true, Reason: "MissingClusterDNS", Message: msg},
			Event{Reason: "MissingClusterDNS", Message: fmt.Sprintf("pod: %q. %s", pod.Name+"_"+pod.Namespace+"("+string(pod.UID)+")", msg)})
		useHost = true
	}
	if useHost && !pod.Spec.HostNetwork {
		rc.Nameservers = reachableFromPods(rc.Nameservers)
		if len(rc.Nameservers) == 0 {
			rc.Nameservers = append(rc.Nameservers, in.Servers...)
		}
	}
	if c := pod.Spec.DNSConfig; c != nil {
		rc.Nameservers = withoutDuplicates(append(rc.Nameservers, c.Nameservers...))
		rc.Searches = withoutDuplicates(append(rc.Searches, c.Searches...))
		rc.Options = mergeOptions(rc.Options, c.Options)
	}
	if len(rc.Nameservers) > MaxNameservers {
		rc.Nameservers = rc.Nameservers[:MaxNameservers]
		events = append(events, Event{Reason: "DNSConfigForming",
			Message: "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: " + strings.Join(rc.Nameservers, " ")})
	}
	var cut bool
	if rc.Searches, cut = fitSearchLimits(rc.Searches); cut {
		events = append(events, Event{Reason: "DNSConfigForming",
			Message: "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: " + strings.Join(rc.Searches, " ")})
	}
	return rc, events
}

// policyOf is the pod's effective policy: Default for a hostNetwork pod
// with ClusterFirst, and ClusterFirst for an unknown policy (the kubelet
// logs and does the same; the API server rejects unknown policies).
func policyOf(pod *corev1.Pod) corev1.DNSPolicy {
	switch p := pod.Spec.DNSPolicy; p {
	case corev1.DNSNone, corev1.DNSDefault:
		return p
	case corev1.DNSClusterFirstWithHostNet:
		return corev1.DNSClusterFirst
	case corev1.DNSClusterFirst, "":
		if pod.Spec.HostNetwork {
			return corev1.DNSDefault
		}
	}
	return corev1.DNSClusterFirst
}

// clusterSearches is <ns>.svc.<domain> svc.<domain> <domain>, then the
// node's own search domains.
func clusterSearches(namespace, domain string, host []string) []string {
	domain = strings.TrimSuffix(domain, ".")
	if domain == "" {
		return append([]string{}, host...)
	}
	s := []string{namespace + ".svc." + domain, "svc." + domain, domain}
	return withoutDuplicates(append(s, host...))
}

// reachableFromPods drops loopback name servers.
func reachableFromPods(servers []string) []string {
	var out []string
	for _, s := range servers {
		if a, err := netip.ParseAddr(s); err == nil && a.IsLoopback() {
			continue
		}
		out = append(out, s)
	}
	return out
}

// fitSearchLimits applies the kubelet's search line limits in its order:
// the domain count, then overlong domains, then the line's length, cut
// from the end. It reports whether anything was dropped.
func fitSearchLimits(searches []string) ([]string, bool) {
	cut := false
	if len(searches) > MaxSearchDomains {
		searches, cut = searches[:MaxSearchDomains], true
	}
	kept := searches[:0:0]
	for _, s := range searches {
		if len(s) > maxSearchDomainLen {
			cut = true
			continue
		}
		kept = append(kept, s)
	}
	for len(kept) > 0 && len(strings.Join(kept, " ")) > MaxSearchLineChars {
		kept, cut = kept[:len(kept)-1], true
	}
	return kept, cut
}

// mergeOptions overrides options by name ("ndots:2" replaces "ndots:5"),
// keeping the order they first appeared in so the file is stable (the
// kubelet's map makes its order random).
func mergeOptions(base []string, overrides []corev1.PodDNSConfigOption) []string {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, o := range base {
		name, value, _ := strings.Cut(o, ":")
		set(name, value)
	}
	for _, o := range overrides {
		v := ""
		if o.Value != nil {
			v = *o.Value
		}
		set(o.Name, v)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if v := values[n]; v != "" {
			out = append(out, n+":"+v)
		} else {
			out = append(out, n)
		}
	}
	return out
}

func withoutDuplicates(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
