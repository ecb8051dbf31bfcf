// Package replicaset is the ReplicaSet controller: it keeps as many live
// pods for every ReplicaSet as spec.replicas asks, and reports what it
// sees in status, behaving as kube-controller-manager's replicaset
// controller does so that Deployments (and users) built for Kubernetes
// find the same pods, names, events and status here.
//
// Inputs are the ReplicaSet and Pod informers of the shared factory;
// outputs are pod creations and deletions, owner-reference patches that
// adopt matching orphans and release pods that stopped matching, status
// updates and events. Reconcile(ctx, key) is level-triggered: it reads
// the cache, takes one step and returns, and a retry is just another call.
//
// What it does, in the order a sync does it:
//
//   - Claim: active pods (not terminal, not being deleted) whose labels
//     match the selector and that have no controller are adopted; owned
//     pods that no longer match are released (reconcile/ownerref).
//   - Manage: too few pods → create the missing ones (at most 500 per
//     sync) in slow-start batches of 1, 2, 4, … so that a failure (a
//     quota, a webhook) stops after one request instead of five hundred;
//     too many → delete the surplus, preferring unscheduled, then
//     pending, then not-ready pods, then pods with the lower
//     pod-deletion-cost, pods doubled up on a node with their siblings,
//     the most recently ready, the most restarted and the newest.
//     Expectations (reconcile/expectations) hold the next sync back until
//     the informer has shown those creations and deletions, so a sync
//     never counts a stale cache and acts twice.
//   - Status: replicas, fullyLabeledReplicas, readyReplicas,
//     availableReplicas (ready for minReadySeconds), observedGeneration
//     and the ReplicaFailure condition when creating or deleting failed.
//
// Pods are named <replicaset>-<5 random characters> by generateName, carry
// the template's labels, annotations and finalizers and a controller
// owner reference that blocks the owner's foreground deletion. Events are
// worded as upstream's: SuccessfulCreate "Created pod: web-abcde",
// SuccessfulDelete "Deleted pod: …", FailedCreate "Error creating: …",
// FailedDelete "Error deleting: …".
//
// It imports only client-go and the shared reconcile packages; the
// deployment controller drives it solely through ReplicaSet objects.
package replicaset
