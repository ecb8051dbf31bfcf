// Package kustomization is Skiff's kustomize-controller: it reconciles
// Flux's kustomize.toolkit.fluxcd.io/v1 Kustomization by rendering a path
// of its GitRepository's stored artifact (reconcile/gitsync/render) and
// applying the objects with server-side apply, as Flux does, with Flux's
// status, conditions and events.
//
// # Reconcile
//
//  1. Deleted: with spec.prune (deletionPolicy MirrorPrune, the default)
//     or deletionPolicy Delete, the inventory's objects are deleted, then
//     the finalizer (finalizers.fluxcd.io, added on first reconcile) is
//     removed. A suspended Kustomization, or deletionPolicy Orphan, leaves
//     them.
//  2. Suspended: nothing is done.
//  3. Unsupported fields: NotSupported=True names them. Fields that change
//     what is applied (decryption, postBuild, kubeConfig,
//     serviceAccountName, driftIgnoreRules, ignoreMissingComponents,
//     dependsOn[].readyExpr, a sourceRef kind other than GitRepository)
//     also stop the reconcile: Ready=False and Stalled=True, reason
//     NotSupported, nothing applied. The others (healthCheckExprs,
//     deletionPolicy WaitForTermination) are only reported.
//  4. dependsOn: each dependency must be Ready=True for its current
//     generation and, when it has the same source, at the source's current
//     revision; otherwise Ready=False DependencyNotReady and a retry at
//     retryInterval. A dependency's status change queues its dependents at
//     once (an index on spec.dependsOn).
//  5. The source's artifact is read from the GitRepository controller's
//     storage (status.artifact.path under <data-dir>/gitsync/artifacts);
//     missing → Ready=False ArtifactFailed.
//  6. Render (spec.path, targetNamespace, namePrefix/nameSuffix,
//     commonMetadata, patches, images, components); errors → Ready=False
//     BuildFailed with the render error (file:line for manifest errors).
//     Every object gets Flux's ownership labels
//     kustomize.toolkit.fluxcd.io/name and /namespace.
//  7. Validate the whole revision: every object is applied with
//     dryRun=All. If any fails, nothing is applied: Ready=False
//     ReconciliationFailed naming the object, its file:line and the API
//     server's reason and message. Objects whose namespace the revision
//     itself creates cannot be dry-run before it exists; they are
//     validated after the definitions stage is applied (as Flux's staged
//     apply does), so a failure there leaves only Namespaces applied.
//     The dry run also tells created / configured / unchanged apart
//     (dry-run result against the live object, ignoring managedFields
//     and resourceVersion), so unchanged objects are not written.
//  8. Apply with server-side apply, field manager "kustomize-controller",
//     forcing field ownership (as Flux does), in render.Stages order and
//     kind after kind (the objects of one kind concurrently); Namespaces
//     of the first stage are waited for when they were just applied. With spec.force, an
//     object whose dry run fails as Invalid because of an immutable field
//     is deleted and created again.
//  9. Prune (spec.prune): objects of the previous status.inventory absent
//     from the new one are deleted in render.Diff order, except those
//     annotated kustomize.toolkit.fluxcd.io/prune: disabled. Nothing is
//     pruned unless the whole revision applied.
//  10. A Progressing event lists the changes ("Deployment/default/web
//     configured"), one per line, when there are any.
//  11. Health (spec.wait: every applied object; else spec.healthChecks)
//     is polled until spec.timeout (default: the interval): Deployments,
//     StatefulSets and DaemonSets rolled out, Jobs complete, Pods ready,
//     PVCs bound, LoadBalancer Services with an ingress, anything else
//     present (and not Ready=False). Healthy=True/False reports it (on
//     timeout: "timeout waiting for: [Deployment/default/web status:
//     'InProgress' (…)]", as Flux words it); the condition is removed when
//     there is nothing to check. lastAppliedRevision moves only once the
//     revision is healthy.
//  12. Ready=True ReconciliationSucceeded "Applied revision: <rev>",
//     lastAppliedRevision, status.inventory; requeue after spec.interval.
//     Failures requeue after spec.retryInterval (default: interval) with
//     Reconciling=True ProgressingWithRetry.
//
// # Resyncs of the same revision
//
// What a successful reconcile rendered and applied is kept in memory,
// keyed by everything that decides the render: the Kustomization's UID
// and generation and the artifact's path, revision and digest (the
// render reads nothing else; postBuild substitutions are refused). A
// resync with the same inputs (the interval, a requestedAt annotation, a
// dependency's change) neither renders nor dry-runs: each object kept
// remembers the resourceVersion at which it was last seen to hold what
// was applied, and one metadata-only LIST per resource and namespace,
// selected by the ownership labels, tells which objects were written
// since. Those are read in full and are unchanged if every field and
// value the revision applies is still there (fields set by others,
// status and server defaults are not looked at); the rest (a `kubectl
// scale` of replicas the revision sets, a `kubectl edit` of its image, a
// deleted or relabelled object) go through the dry run and apply of step
// 7 and 8 as in a new revision. Health checks skip objects still at the
// resourceVersion they were found healthy at. Any failure drops the kept
// revision, so the retry renders and dry-runs everything again; so does a
// restart. For 500 objects this makes a no-op resync four LISTs and no
// writes instead of a render and a GET and dry run per object.
//
// When a new revision (or a new generation) is being reconciled, Ready is
// first set to Unknown/Progressing, so `kubectl wait --for=condition=Ready`
// waits for the new revision rather than seeing the previous one. A
// resync that finds nothing to change writes nothing: no apply, no
// status update (a new requestedAt is recorded as
// status.lastHandledReconcileAt, as Flux does: one status write).
//
// # Not done
//
// Objects without a namespace whose kind is namespaced fail validation
// unless spec.targetNamespace is set, as in Flux. CRDs are applied like
// any object; Skiff serves none yet, so custom kinds of a revision fail
// validation as unknown kinds. Flux's status.history is not kept.
//
// Boundaries: talks to the API server through client-go (dynamic client
// and discovery); reads artifacts, never writes them.
package kustomization
