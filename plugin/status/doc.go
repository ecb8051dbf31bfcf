// Package status is `kubectl skiff status`: one screen with the health of
// the control plane (API server readiness and version, etcd members,
// leader and database size, the controller manager's and scheduler's
// leader leases), the nodes (Ready, pods against capacity) and the GitOps
// sources (revision and Ready condition), with an exit code that says
// whether anything is unhealthy.
//
// What it reads, all through the API server: /readyz?verbose and
// /version; /metrics for etcd's own gauges (etcd_server_is_leader,
// etcd_server_has_leader, etcd_network_known_peers,
// etcd_mvcc_db_total_size_in_bytes, …), which the embedded etcd registers
// in the default Prometheus registry the server also serves — an external
// etcd's gauges are not there, and status then says so instead of
// guessing; the Leases kube-system/skiff-controller-manager and
// kube-system/kube-scheduler; Nodes and Pods; GitRepositories and
// Kustomizations in every namespace.
//
// Unhealthy means: the API server not ready, etcd without a leader, a
// leader lease missing or not renewed within its duration, a node not
// Ready, or a source whose Ready condition is not True (suspended sources
// are shown but not counted). No nodes at all is a warning.
//
// Boundaries: reads only; the gathering (gather.go) is separate from the
// rendering (render.go) so each is tested on its own.
package status
