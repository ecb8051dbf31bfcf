// Package daemonset is the DaemonSet controller: one pod of a DaemonSet
// on every node that should run it, as kube-controller-manager's daemon
// set controller does.
//
// A node should run the daemon when the template's nodeName (if any),
// nodeSelector and required node affinity select it and its taints are
// tolerated by the template's tolerations plus the daemon tolerations
// upstream adds (not-ready and unreachable NoExecute; disk, memory and
// PID pressure and unschedulable NoSchedule; network-unavailable
// NoSchedule for host-network pods). A pod already running stays on a
// node that gained an untolerated NoSchedule taint; only an untolerated
// NoExecute taint or a selector change removes it.
//
// Pods are created unbound, with their required node affinity replaced by
// "metadata.name In [node]": the scheduler binds them, so resources,
// ports and the scheduler's other rules apply and an unfit pod stays
// Pending with the scheduler's reason, as on Kubernetes.
//
// Each template is recorded as a ControllerRevision <ds>-<hash> (package
// history) whose hash labels the pods (controller-revision-hash), so
// `kubectl rollout history|undo ds` work. RollingUpdate replaces old pods
// within maxUnavailable, or with maxSurge starts the new pod beside the
// old one and removes the old one once the new one is available; OnDelete
// replaces a pod only when the user deletes it. Status carries the counts
// `kubectl rollout status ds` reads.
//
// The decisions (decideNode, rollingUpdate, computeStatus) are pure
// functions of the DaemonSet, nodes, pods and the time; sync does the
// I/O. Expectations keep a sync from acting on a cache that has not yet
// shown its previous creations and deletions.
package daemonset
