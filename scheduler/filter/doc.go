// Package filter decides which nodes can run a pod, with the rules and
// the messages of kube-scheduler's default filter plugins:
//
//	NodeUnschedulable  spec.unschedulable, unless the pod tolerates
//	                   node.kubernetes.io/unschedulable:NoSchedule
//	TaintToleration    NoSchedule/NoExecute taints (including those a
//	                   node's conditions imply, such as not-ready)
//	NodeAffinity       nodeSelector and required node affinity
//	NodePorts          host port conflicts
//	NodeResourcesFit   cpu, memory, ephemeral-storage, scalar resources
//	                   and the pod count against allocatable
//	PodTopologySpread  whenUnsatisfiable: DoNotSchedule constraints
//	InterPodAffinity   required pod affinity and anti-affinity
//
// The checks run in that order and a node is rejected by the first that
// fails, as in kube-scheduler, so a FitError's histogram ("1 node(s) had
// untolerated taint {dedicated: gpu}, 2 Insufficient memory") reads the
// same as on Kubernetes.
//
// Prepare computes the per-pod state once (the cluster-wide counts the
// spread and affinity rules need); Cycle.Check then judges one node and
// is safe to call from several goroutines. Everything is a pure function
// of a framework.Snapshot and the pod. The placement package drives it;
// the scheduler package also uses NodeLocal to decide which cluster
// events can help a pending pod.
package filter
