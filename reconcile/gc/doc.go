// Package gc is Skiff's garbage collector: it deletes objects whose
// owners are gone and carries out the Foreground and Orphan deletion
// policies, with kube-controller-manager's semantics.
//
// Inputs: discovery (every resource that supports list, watch and delete,
// asked again every 30 s so new types are collected), a metadata-only
// informer per resource, and live reads through the metadata client.
// Output: deletes and patches through the metadata client. Nothing else.
//
// The collector keeps a graph of owner → dependents by ownerReference UID
// (graph.go, pure and table-tested). An owner named by a dependent but
// not shown by any informer is a virtual node until a live read says
// whether it exists. Every informer event yields the UIDs whose state may
// call for work; Reconcile then takes one step for one UID:
//
//   - a dependent whose owners are all gone is deleted (Background unless
//     its own finalizers ask otherwise), with UID and resourceVersion
//     preconditions; references to gone owners beside a live one are
//     removed instead. "Gone" is always confirmed by a live read (or a
//     deletion the informer reported), never by a stale cache, and an
//     owner recreated with another UID counts as gone;
//   - Foreground: an owner with a deletionTimestamp and the
//     foregroundDeletion finalizer has its dependents deleted (those that
//     have dependents of their own in the foreground) and loses the
//     finalizer once no dependent with blockOwnerDeletion remains;
//   - Orphan: an owner with a deletionTimestamp and the orphan finalizer
//     has its references removed from every dependent, then loses the
//     finalizer.
//
// The graph lives in memory only: after a restart the informers' initial
// lists rebuild it, dangling references become virtual owners, and live
// reads find them absent, so dependents of an owner deleted while the
// collector was down are still collected.
package gc
