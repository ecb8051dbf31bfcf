// Package fluxobj is what the git-sync controllers share about Flux's
// objects: the resources they are served as, the conversion between the
// dynamic client's unstructured form and the typed structs of
// manifests/flux, Flux's condition types and reasons, the
// reconcile.fluxcd.io/requestedAt annotation, and the NotSupported
// condition Skiff writes for spec fields it does not implement. It also
// says how a Kustomization is built and applied, for the controller and
// for `kubectl skiff diff` alike (kustomize.go): the render.Options of a
// spec, the field manager and owner labels of its applies, and the prune
// opt-out annotation.
//
// The controllers reach GitRepositories and Kustomizations through the
// dynamic client (client-go has no typed client for them and generating
// one would add a clientset for two kinds); this package turns what the
// dynamic client returns into typed objects and back, so the controllers
// work on flux.GitRepository and flux.Kustomization.
//
// Boundaries: no reconciling and no I/O except the one status write
// (UpdateStatus) both controllers do the same way.
package fluxobj
