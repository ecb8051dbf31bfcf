package filter

import (
	"fmt"
	"sort"
	"strings"
)

// Plugin names a filter; the names are kube-scheduler's plugin names.
type Plugin uint8

// The filters, in the order they run.
const (
	NodeUnschedulable Plugin = iota
	TaintToleration
	NodeAffinity
	NodePorts
	NodeResourcesFit
	PodTopologySpread
	InterPodAffinity
	numPlugins
)

var pluginNames = [numPlugins]string{
	NodeUnschedulable: "NodeUnschedulable",
	TaintToleration:   "TaintToleration",
	NodeAffinity:      "NodeAffinity",
	NodePorts:         "NodePorts",
	NodeResourcesFit:  "NodeResourcesFit",
	PodTopologySpread: "PodTopologySpread",
	InterPodAffinity:  "InterPodAffinity",
}

func (p Plugin) String() string {
	if p < numPlugins {
		return pluginNames[p]
	}
	return fmt.Sprintf("Plugin(%d)", p)
}

// PluginSet is a set of filters, used to remember which filters rejected
// a pod so that only cluster events that could change their verdict
// retry it.
type PluginSet uint16

// Of returns the set holding ps.
func Of(ps ...Plugin) PluginSet {
	var s PluginSet
	for _, p := range ps {
		s |= 1 << p
	}
	return s
}

// Has reports whether p is in s.
func (s PluginSet) Has(p Plugin) bool { return s&(1<<p) != 0 }

// HasAny reports whether s and o share a plugin.
func (s PluginSet) HasAny(o PluginSet) bool { return s&o != 0 }

func (s PluginSet) String() string {
	var names []string
	for p := Plugin(0); p < numPlugins; p++ {
		if s.Has(p) {
			names = append(names, p.String())
		}
	}
	return "[" + strings.Join(names, " ") + "]"
}

// Code says whether a rejection could be resolved by preemption; Skiff
// does not preempt, but the codes are kept as upstream defines them so
// the message semantics match.
type Code uint8

const (
	// Unschedulable: the node could fit the pod if pods were removed.
	Unschedulable Code = iota + 1
	// UnschedulableAndUnresolvable: removing pods would not help.
	UnschedulableAndUnresolvable
)

// Status is why one node cannot run the pod.
type Status struct {
	Code    Code
	Plugin  Plugin
	Reasons []string
}

func newStatus(code Code, p Plugin, reasons ...string) *Status {
	return &Status{Code: code, Plugin: p, Reasons: reasons}
}

func (s *Status) String() string {
	return s.Plugin.String() + ": " + strings.Join(s.Reasons, ", ")
}

// Failure reasons, verbatim from kube-scheduler.
const (
	ReasonUnschedulable          = "node(s) were unschedulable"
	ReasonNodeAffinity           = "node(s) didn't match Pod's node affinity/selector"
	ReasonNodeAffinityConflict   = "pod affinity terms conflict"
	ReasonPorts                  = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods            = "Too many pods"
	ReasonSpread                 = "node(s) didn't match pod topology spread constraints"
	ReasonSpreadMissingLabel     = ReasonSpread + " (missing required label)"
	ReasonPodAffinity            = "node(s) didn't match pod affinity rules"
	ReasonPodAntiAffinity        = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinity   = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonInsufficientFmt        = "Insufficient %s"
	reasonUntoleratedTaintFmt    = "node(s) had untolerated taint {%s: %s}"
	reasonNotInPreFilterNodesFmt = "node(s) didn't satisfy plugin(s) [%s]"
)

// FitError says why no node can run a pod. Its message is the one
// kube-scheduler writes into the PodScheduled condition and the
// FailedScheduling event.
type FitError struct {
	NumAllNodes int
	// PreFilterMsg is set when the pod was rejected before any node was
	// looked at; it then replaces the per-node histogram.
	PreFilterMsg string
	// Statuses holds the rejection of every node that was checked.
	Statuses map[string]*Status
	// Unchecked, when set, is the rejection of every node that was not
	// checked because the pod's node affinity names other nodes.
	Unchecked *Status
	// RejectedBy is every filter that rejected the pod somewhere.
	RejectedBy PluginSet
}

// Error renders "0/N nodes are available: <reasons>.", the reasons being
// a histogram "count reason" sorted as strings, as kube-scheduler does.
// Skiff has no preemption (no PostFilter plugin), and kube-scheduler adds
// no "preemption: ..." suffix in that configuration, so neither does this.
func (e *FitError) Error() string {
	msg := fmt.Sprintf("0/%d nodes are available:", e.NumAllNodes)
	if e.PreFilterMsg != "" {
		return msg + " " + e.PreFilterMsg + "."
	}
	counts := map[string]int{}
	for _, st := range e.Statuses {
		for _, r := range st.Reasons {
			counts[r]++
		}
	}
	if e.Unchecked != nil && len(e.Statuses) < e.NumAllNodes {
		for _, r := range e.Unchecked.Reasons {
			counts[r] += e.NumAllNodes - len(e.Statuses)
		}
	}
	hist := make([]string, 0, len(counts))
	for r, n := range counts {
		hist = append(hist, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(hist)
	if len(hist) > 0 {
		msg += " " + strings.Join(hist, ", ") + "."
	}
	return msg
}
