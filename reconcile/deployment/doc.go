// Package deployment is the Deployment controller: it rolls a
// Deployment's pod template out through ReplicaSets, as
// kube-controller-manager's deployment controller does, so that
// `kubectl rollout status|history|undo|restart|pause|resume` and
// `kubectl wait --for=condition=Available` read exactly what they read on
// Kubernetes.
//
// Inputs are the Deployment, ReplicaSet and Pod informers of the shared
// factory; outputs are ReplicaSet creations, scalings (spec.replicas plus
// annotations), adoptions, releases and deletions, Deployment status and
// events. It never touches pods: the replicaset controller does.
//
// # ReplicaSets and revisions
//
// Each pod template gets one ReplicaSet named <deployment>-<hash>, where
// the hash is upstream's ComputeHash (FNV-32a of the spew dump of the
// template, salted with status.collisionCount) and also the
// pod-template-hash label on the ReplicaSet, its selector, its template
// and so its pods. Because the name is a function of the template, a
// controller that restarts half-way through a rollout finds the ReplicaSet
// it created instead of making another; a name taken by a ReplicaSet with
// a different template bumps collisionCount and the next sync hashes anew.
//
// The new ReplicaSet gets deployment.kubernetes.io/revision = the highest
// revision among the old ones + 1. A template brought back (kubectl
// rollout undo patches an old template into the Deployment) reuses its old
// ReplicaSet, which then gets the next revision and keeps its former ones
// in deployment.kubernetes.io/revision-history. The Deployment's other
// annotations (kubernetes.io/change-cause among them) are copied to its
// new ReplicaSet; desired-replicas and max-replicas record the Deployment
// size and size plus surge the ReplicaSet was scaled for, which is how a
// later sync tells a scaling event from a rollout and splits a resize
// proportionally among the ReplicaSets of an unfinished rollout.
//
// # A sync
//
// Reconcile(ctx, key) reads the caches, claims ReplicaSets (adopting
// matching orphans, releasing non-matching owned ones), then either only
// updates status (being deleted), scales without rolling out (paused, or
// spec.replicas changed), or takes one step of the strategy:
//
//   - RollingUpdate: scale the new ReplicaSet up while the pods of all
//     ReplicaSets stay within replicas+maxSurge, else scale old ones down
//     while available pods stay at least replicas-maxUnavailable (surge
//     rounds up, unavailable rounds down, and both zero means one
//     unavailable, as upstream resolves them).
//   - Recreate: scale every old ReplicaSet to 0, wait until none of their
//     pods runs, then create and scale up the new one.
//
// Status: replicas, updatedReplicas, readyReplicas, availableReplicas,
// unavailableReplicas, observedGeneration, collisionCount, and the
// conditions Available (MinimumReplicasAvailable / …Unavailable) and
// Progressing (NewReplicaSetCreated, FoundNewReplicaSet,
// ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded
// after progressDeadlineSeconds without progress, DeploymentPaused,
// DeploymentResumed), plus ReplicaFailure copied from a ReplicaSet.
// Once the rollout is complete, old ReplicaSets beyond
// revisionHistoryLimit that have no pods are deleted, oldest revision first.
//
// One safety margin is stricter than upstream: the surge check counts, for
// each ReplicaSet, the larger of spec.replicas and its live pods in the
// cache, so the new ReplicaSet does not grow while an old one's deletions
// are still pending (after a restart, or when the two controllers race).
package deployment
