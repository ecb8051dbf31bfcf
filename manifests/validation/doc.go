// Package validation refuses what the Kubernetes v1.33 API server refuses:
// bad names, missing required fields, values outside an enum, inconsistent
// fields, changes to immutable fields. Each function returns every problem
// at once as a field.ErrorList whose paths
// (spec.template.spec.containers[0].image), types (Required, Invalid,
// NotSupported, …) and messages are those of Kubernetes, because they become
// the causes of a 422 Invalid Status that kubectl prints.
//
// The rules follow kubernetes/pkg/apis/*/validation and the REST strategies
// for the fields Skiff serves; they are written here, not imported, because
// that package is not a consumable library and works on internal types. The
// guiding rule is that a manifest a real cluster accepts must pass: where
// Kubernetes v1.33 relaxes a rule behind a feature gate that is on by
// default (relaxed env var names and DNS search paths, zero-second sleep
// actions, sidecar resize policies), the relaxed rule applies, and on update
// the rules Kubernetes ratchets (pod deletion cost, label values in
// selectors, huge page sizes, …) are not enforced when the stored object
// already broke them.
//
// Inputs are expected to be defaulted (package defaults) first: fields that
// Kubernetes always defaults, such as a container's imagePullPolicy or a
// Deployment's strategy, are required here.
//
// X validates a new object, XUpdate a change to a stored one. XUpdate
// includes the checks of X on the new object, as the Kubernetes strategies
// do, plus the immutability rules and metadata.resourceVersion, so the API
// server calls one or the other, not both. It expects the server to have
// copied the stored UID and creationTimestamp into the new object and, for
// Services, to have run defaults.ServiceForUpdate.
//
// Server-side allocation is not validated as missing: a Service without a
// cluster IP or node port, or a Job without the selector the server
// generates from its UID, passes; a value that is present must be valid.
package validation
