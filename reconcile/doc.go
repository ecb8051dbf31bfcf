// Package reconcile holds Skiff's controllers, one subpackage each
// (deployment, replicaset, gc, namespace, nodelifecycle, endpointslice,
// job, cronjob, daemonset, statefulset, serviceaccount, and gitsync), and
// the pieces they share: manager (runs them with leader election),
// ownerref (adoption and release by owner references) and expectations
// (not acting twice on a change the informers have not shown yet).
// This package wires them together: Start runs the controllers
// --controllers selects under one manager, as skiff server (and the
// benchmarks) do.
//
// Every controller is level-triggered: Reconcile(ctx, key) reads the
// current state from informer caches, computes the desired state, takes
// one step and returns; a retry is just another call. Controllers reach
// the API only through client-go, exactly as a third-party controller
// would, so each can be replaced by its upstream counterpart.
package reconcile
