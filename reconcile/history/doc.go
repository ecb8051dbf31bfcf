// Package history keeps the ControllerRevisions of the DaemonSet and
// StatefulSet controllers: the recorded pod templates behind
// `kubectl rollout history|undo ds/sts`.
//
// A revision is a ControllerRevision named <owner>-<hash>, controlled by
// its owner, labelled with the owner's template labels, and holding in
// .data the strategic merge patch {"spec":{"template":{…,"$patch":"replace"}}}
// that restores the template. kubectl reads exactly that: it lists the
// revisions by the owner's selector, keeps those whose controller
// reference is the owner, orders them by .revision, and for undo sends
// .data back as a strategic merge patch of the owner. So the patch here
// is built byte for byte as kubectl builds it (kubectl compares the bytes
// to print "skipped rollback").
//
// The package offers the pure pieces (hashes, names, the patch, applying
// it, ordering, choosing what to prune) and Store, the I/O against the API
// (claiming revisions by owner reference, creating with name-collision
// detection, renumbering, deleting). Which revision is current, how
// collisions are resolved and how many to keep is each controller's
// policy, as in kube-controller-manager, where the two controllers differ.
//
// Imported by reconcile/daemonset and reconcile/statefulset only; it
// reaches the API through client-go.
package history
