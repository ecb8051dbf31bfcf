// Package diff is `kubectl skiff diff NAME`: what applying a
// Kustomization's source would change in the cluster, as a unified diff
// per object, like `kubectl diff` and `flux diff kustomization`.
//
// The tree rendered is the revision the GitRepository last fetched: its
// stored artifact, read in place when this machine can read it (the
// plugin beside `skiff up`), else the same commit fetched again with
// reconcile/gitsync/source — the built-in remote's repositories over the
// API server's https endpoint with the kubeconfig's token. --path renders
// a local directory instead (it stands for spec.path; a git work tree
// around it is the root, so ../base resolves).
//
// Rendering is the controller's: reconcile/gitsync/render with the options
// fluxobj.RenderOptions builds from the spec, and the owner labels the
// controller adds. Each object is compared through a server-side apply
// dry run (dryRun=All, field manager kustomize-controller, forced) with
// the live object, both normalised (managedFields, resourceVersion,
// generation, uid, creationTimestamp, status and kubectl's
// last-applied annotation dropped), so an unchanged object shows nothing
// and a field another manager owns is not reported as drift. With
// spec.prune, objects of status.inventory that left the revision and that
// the controller would delete are shown as removed. Secret values are
// masked as kubectl diff masks them.
//
// Exit status is kubectl diff's: 0 when nothing would change, 1 when
// something would, 2 on error (*ExitError carries it to main).
//
// Boundaries: reads through the API (and dry runs, which write nothing);
// reads the local file system and, with --fetch or when the artifact is
// not here, the git repository.
package diff
