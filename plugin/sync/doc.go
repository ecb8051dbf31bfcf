// Package sync is `kubectl skiff sync NAME`: it asks for a reconcile of a
// Kustomization and of the GitRepository it reads from now, by setting
// reconcile.fluxcd.io/requestedAt (the annotation `flux reconcile` sets
// and the built-in git remote sets on a push). With --wait it goes as
// `flux reconcile kustomization --with-source` does: it asks the
// GitRepository first and waits until it has handled that request
// (status.lastHandledReconcileAt equals the token), then asks the
// Kustomization and waits the same way, until it is Ready — exit 0 — or
// failed — exit 1 with the condition's message, which for a build failure
// names the file and line. Asking the Kustomization only after the fetch
// keeps it from applying the previous revision in a race with the fetch. While it waits it prints a progress
// line (rewritten in place on a terminal) and every change of the
// objects' Ready condition.
//
// Boundaries: a merge patch, then watches (re-established when the
// server closes them); it never writes status.
package sync
