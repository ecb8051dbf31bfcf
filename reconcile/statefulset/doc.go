// Package statefulset is the StatefulSet controller: pods with stable
// identities <set>-0 … <set>-N-1, created, replaced and updated in
// order, as kube-controller-manager's StatefulSet controller does.
//
// Each pod carries its identity: the name, spec.hostname (the name) and
// spec.subdomain (spec.serviceName, so the governing headless Service
// gives it a DNS name), and the statefulset.kubernetes.io/pod-name and
// apps.kubernetes.io/pod-index labels. With podManagementPolicy
// OrderedReady a pod is created only when every lower ordinal is Running
// and Ready (and available for minReadySeconds), and pods beyond
// spec.replicas are deleted highest ordinal first, one at a time; with
// Parallel all are created or deleted at once.
//
// Each template is recorded as a ControllerRevision (package history);
// status.updateRevision names the template in the spec and
// status.currentRevision the one pods below the partition run. A
// RollingUpdate deletes pods not at the update revision from the highest
// ordinal down to spec.updateStrategy.rollingUpdate.partition, at most
// maxUnavailable (default 1) unavailable at a time, and recreates them at
// the update revision; OnDelete waits for the user to delete them. The
// controller-revision-hash label of each pod names its revision, and
// status carries what `kubectl rollout status|history|undo sts` read.
//
// Skiff has no persistent volume storage yet: a StatefulSet with
// volumeClaimTemplates gets no pods, a Warning event and a ReplicaFailure
// condition saying so. persistentVolumeClaimRetentionPolicy is ignored,
// there being no claims.
//
// decide, the decisions of one sync, is a pure function of the set, its
// revisions, its pods and the time; sync does the I/O.
package statefulset
