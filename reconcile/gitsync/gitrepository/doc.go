// Package gitrepository is Skiff's source-controller: it reconciles Flux's
// source.toolkit.fluxcd.io/v1 GitRepository by fetching the source
// (reconcile/gitsync/source) into local artifact storage and writing the
// result into status as Flux's source-controller does, so Kustomizations
// (reconcile/gitsync/kustomization) and `kubectl wait` see the same thing
// they would on real Flux.
//
// # Storage
//
// Artifacts are unpacked directories, not tarballs, under
// <data-dir>/gitsync/artifacts/<namespace>/<name>/<digest hex>/. Only the
// latest artifact of each object is kept: a new one replaces the old,
// and the directory of a deleted GitRepository is removed. status.artifact
// is Flux's shape: path is relative to the storage root
// ("<namespace>/<name>/<digest hex>"), url is a file:// URL of the
// directory. Unlike Flux's http URL it is local to the server's file
// system: it is meaningful only to controllers in the same process (which
// read Path under their own storage root and never follow the URL).
//
// # Reconcile
//
// One reconcile, level-triggered on the object's key:
//
//  1. suspended: nothing is done and status is not touched (Flux's rule).
//  2. unsupported fields set (verify, include, recurseSubmodules,
//     sparseCheckout, proxySecretRef, serviceAccountName, a provider other
//     than generic): NotSupported=True naming them, Ready=False and
//     Stalled=True with reason NotSupported; nothing is fetched, since each
//     changes what the artifact would hold or how it is trusted.
//  3. the secretRef's Secret is read (client-go, not cached); a missing
//     one is Ready=False AuthenticationFailed, retried with back-off.
//  4. source.Fetch with spec.ref, spec.ignore, spec.timeout and the
//     previous revision, so an unmoved remote head downloads nothing.
//     Failures: FetchFailed=True and Ready=False with reason
//     GitOperationFailed (AuthenticationFailed for auth and host-key
//     errors; URLInvalid and Stalled=True for a request that can never
//     succeed), Reconciling=True ProgressingWithRetry; the previous
//     artifact stays in storage and in status.
//  5. success: ArtifactInStorage=True and Ready=True, reason Succeeded,
//     "stored artifact for revision '<revision>'", a NewArtifact event
//     when the revision is new; the key is requeued after spec.interval
//     (plus up to 5% jitter, so many objects do not poll in lockstep).
//
// Status is written once per reconcile, and only when it changed, so a
// resync that finds the same revision writes nothing. A changed
// reconcile.fluxcd.io/requestedAt annotation queues a reconcile and is
// recorded in status.lastHandledReconcileAt.
//
// A file:// URL (local repository or plain folder) is also watched with
// source.Watch while the object exists with that URL: a commit, or a saved
// file in a folder, queues a reconcile at once. The interval remains the
// safety net (events are lost past the inotify limits). When a watch ends
// on its own (the watched root was removed), the object is queued, and
// the next successful reconcile starts a new watch.
//
// Boundaries: talks to the API server through client-go only (dynamic
// client for GitRepositories, typed for Secrets); reads and writes the
// storage root and nothing else under the data dir.
package gitrepository
