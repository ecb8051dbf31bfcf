// Package nodeagent is Skiff's kubelet: it registers a Node, keeps its
// Lease and status current, and runs the pods bound to it as containers
// through a runtime.Runtime (Docker, or a fake for scale tests).
//
// Run bootstraps from a server URL and a node token: it fetches the
// cluster CA and checks it against the hash the token carries, gets a
// serving certificate signed by that CA, and serves container logs to the
// API server over mutually authenticated TLS. It then watches the pods
// bound to its node and syncs each one, level-triggered: read the pod and
// the containers the runtime reports, ask podstate for the next step, do
// it, write the status if it changed. Container events and probe results
// are only hints to sync sooner; a periodic resync catches everything
// else. After a restart the agent adopts the containers it finds by their
// labels (nodeagent/runtime) and removes those of pods that are gone.
//
// Subpackages: runtime (the engine), podstate (the pure pod state
// machine), volume (volumes on the host), prober (probes), streams
// (exec/attach/port-forward), dns (cluster DNS), proxy (Services).
//
// The agent talks to the API only through client-go.
package nodeagent
