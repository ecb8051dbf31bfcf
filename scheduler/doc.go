// Package scheduler assigns pending pods to nodes, as kube-scheduler
// does, inside `skiff server`. It talks to the API only through client-go:
// shared informers on pods, nodes, namespaces, services, ReplicaSets and
// StatefulSets, and the pods/binding and pods/status subresources.
//
// The flow for one pod:
//
//	informer ─► queue (active / backoff / unschedulable)
//	              │ Pop
//	              ▼
//	cache.Snapshot ─► placement.Place (filter + score, pure) ─► node
//	              │ AssumePod: the pod counts on the node at once
//	              ▼
//	goroutine: POST pods/binding ─► Scheduled event
//	           failure: ForgetPod, back to the queue with backoff
//
// A pod no node can take gets the PodScheduled=False condition with
// reason Unschedulable and kube-scheduler's message (patched on the status
// subresource, only when it changes) and a FailedScheduling event, and
// waits in the queue until a cluster event that could help it (see
// hints.go) or five minutes pass.
//
// Scheduling decisions are made one at a time, so each sees the previous
// ones as assumed pods; binds run concurrently so decisions never wait
// for the API server. Pods whose spec.schedulerName is not ours, pods
// already bound, finished pods and terminating pods are left alone.
//
// The decision core lives in the placement, filter, score and framework
// subpackages; this package and queue, cache are the I/O edges. The
// schedperf subpackage measures throughput against a real API server.
package scheduler
