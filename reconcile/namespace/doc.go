// Package namespace is Skiff's namespace controller: it empties a
// namespace being deleted and then lets the API server delete it, as
// kube-controller-manager's namespace controller does.
//
// Input: namespaces (an informer) with a deletionTimestamp and the
// "kubernetes" entry in spec.finalizers, and discovery of every
// namespaced resource that supports delete. Output: deletions of the
// namespace's objects (deletecollection where served, else one by one,
// with Background propagation; pods on a node are deleted gracefully and
// their node agent completes the deletion), the namespace's status
// conditions (NamespaceDeletionDiscoveryFailure,
// NamespaceDeletionGVParsingFailure, NamespaceDeletionContentFailure,
// NamespaceContentRemaining, NamespaceFinalizersRemaining, with
// upstream's reasons and messages), and finally
// PUT namespaces/<name>/finalize without the "kubernetes" finalizer.
//
// Objects that take time to go (finalizers, graceful termination) make
// the namespace be looked at again with exponential backoff; it is never
// finalized before a pass finds nothing left and nothing failed.
package namespace
