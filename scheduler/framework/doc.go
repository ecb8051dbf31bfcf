// Package framework holds the scheduler's view of the cluster: what a pod
// asks for and what a node offers, computed once and then read by the
// filters and scores.
//
// A PodInfo is a pod with its requests (as Kubernetes computes them:
// max(sum(app containers), max(init containers)), sidecars counted the
// way the SidecarContainers KEP does, pod-level requests, plus overhead),
// its host ports and its parsed node and pod (anti-)affinity. A NodeInfo
// is a node with the pods on it and their totals. A Snapshot is the list
// of NodeInfos one scheduling decision looks at.
//
// All three are immutable once built: NodeInfo.WithPod and friends return
// a new value and share everything that did not change, so the scheduler
// cache can hand a Snapshot to a decision without copying and keep
// mutating its own state. Nothing here does I/O or reads the clock.
//
// Imported by the scheduler's filter, score, placement and cache
// packages. It depends only on the Kubernetes API types and apimachinery.
package framework
