// Package podstate is the node agent's pod state machine, as pure
// functions: given a pod, the container instances the runtime reports for
// it, what the agent remembers (back-off timers, the last error of each
// container) and the time, Compute returns the next steps (create the
// sandbox, start or restart containers, kill or garbage-collect
// instances) and Status returns the PodStatus a user reads.
//
// It mirrors the kubelet's computePodActions and its status generation:
// init containers run one at a time, in order, before app containers; the
// restart policy (Always, OnFailure, Never) is the agent's to apply,
// never Docker's; a failed container is restarted after a back-off of 10 s
// doubling to 5 min (CrashLoopBackOff), forgotten after 10 min without a
// crash; a lost sandbox means every container of the pod restarts in a new
// one; an ephemeral container (kubectl debug) runs once and is never
// restarted. There is no I/O here: the agent executes a Plan and calls
// again.
package podstate
