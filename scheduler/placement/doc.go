// Package placement is the scheduler's decision core: given a pod and a
// snapshot of the cluster, it picks the node the pod goes on, or says why
// none can take it.
//
// Place runs the filters over the nodes (all of them on small clusters;
// on large ones it stops after kube-scheduler's adaptive share of
// feasible nodes, starting where the previous decision stopped so every
// node gets its turn), scores the feasible ones and returns the best.
// When no node fits it returns a *filter.FitError whose message is the
// one kubectl users know from kube-scheduler.
//
// Place is a pure function of its Input: no I/O, no clock, no hidden
// state. The rotation index comes in and goes out in the Result, and ties
// between equally good nodes are broken by the injected Tiebreak (the
// alphabetically first node when it is nil, which keeps tests and golden
// scenarios deterministic). Filtering and scoring may fan out over
// Parallelism goroutines.
//
// Golden scenario tests live in testdata/: each file describes nodes,
// existing pods and a pod, and records the decision, every node's filter
// verdict and the per-plugin scores. Run `go test ./scheduler/placement
// -update` to rewrite the recorded part after an intended change.
package placement
