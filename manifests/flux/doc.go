// Package flux holds the Go types of the three Flux objects Skiff serves
// as built-in resources, so that a Flux user's manifests apply unchanged
// and a Skiff user's manifests run on real Flux:
//
//   - source.toolkit.fluxcd.io/v1 GitRepository (gitrepositories, gitrepo)
//   - kustomize.toolkit.fluxcd.io/v1 Kustomization (kustomizations, ks)
//   - notification.toolkit.fluxcd.io/v1 Receiver (receivers)
//
// The structs carry the JSON names of Flux's v1 API field for field, spec
// and status alike, written here rather than imported: Flux's API modules
// pull in controller-runtime, which nothing else in Skiff needs. Types that
// Flux shares between its controllers (github.com/fluxcd/pkg/apis/meta and
// .../kustomize: LocalObjectReference, Artifact, Patch, Image, …) live here
// too, under the OpenAPI model names of their Go home.
//
// Beyond the types the package provides what the API server needs to serve
// them like a CustomResourceDefinition would: AddToScheme, deep copies
// (zz_generated.deepcopy.go, made by k8s.io/code-generator's deepcopy-gen),
// field descriptions for OpenAPI and `kubectl explain` (SwaggerDoc),
// defaulting (the CRDs' +kubebuilder:default values) and validation (the
// CRDs' required fields, patterns, enums and CEL rules) that reports
// field.ErrorList with the CRDs' field paths.
//
// Durations are of type Duration, which keeps the string it was written
// as ("1m" reads back "1m", not "1m0s"), as a CRD stores it; otherwise
// `kubectl apply` of an unchanged manifest would report a change each run.
//
// Skiff extension: spec.url of a GitRepository may also be a file:// URL,
// naming a local repository or plain folder. Real Flux refuses it.
//
// NewGitRemoteObjects (gitremote.go) builds the GitRepository and
// Kustomization that deploy a repository of the API server's built-in git
// remote: the server creates them on a first push and `kubectl skiff
// remote add` up front, from this one definition.
//
// Known differences from the CRDs: a required boolean (Kustomization
// spec.prune) cannot be told apart from false once decoded, so a
// Kustomization without spec.prune is accepted as prune: false; the CRDs'
// status default ({observedGeneration: -1}) is not written, since the API
// server resets status on create; CEL expressions (readyExpr,
// healthCheckExprs, resourceFilter) are stored, not compiled.
//
// Boundaries: no I/O, no state, no reconciling; the gitsync controller
// acts on these objects through client-go like any other controller.
//
// +k8s:deepcopy-gen=package
package flux
