// Package cache is the scheduler's memory of the cluster between
// decisions: the nodes, the pods bound to them, the namespaces' labels,
// and the pods it has assumed.
//
// Binding is asynchronous, so a decision must not wait for the API server
// to confirm the previous one. Instead the scheduler assumes its decision
// (AssumePod): the pod counts on its node at once, so a burst of pods
// cannot over-commit a node before the binds land. The informer later
// shows the pod bound (AddPod or UpdatePod), which confirms the
// assumption. A failed bind forgets it (ForgetPod). An assumption whose
// bind succeeded but that the informer never confirms expires after a
// TTL, measured from when the bind finished, so a lost watch event cannot
// hold capacity forever.
//
// Snapshot hands a decision an immutable framework.Snapshot; the cache
// keeps each node's framework.NodeInfo copy-on-write, so taking one costs
// a slice copy, not a deep copy. All methods are safe for concurrent use.
// The cache does no I/O; time comes from the injected clock.
package cache
