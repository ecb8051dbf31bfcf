// Package apiserver is Skiff's Kubernetes API server: HTTPS with bearer-token
// authentication, discovery, OpenAPI, and one generic REST implementation
// (get, list, watch, create, update, patch, delete, deletecollection and the
// status, scale, binding, finalize and ephemeralcontainers subresources)
// parameterised by the types in package manifests, over the etcd store and
// watch cache in apiserver/storage.
//
// Request flow: ServeHTTP → metrics and panic recovery → authentication →
// impersonation refused (impersonation.go) → routing (requestInfo) → the
// resource handler, which decodes the body
// (JSON, YAML or protobuf, with fieldValidation), applies the type's
// strategy (system fields, status/spec separation, generation), admission
// (namespace lifecycle), defaulting and validation, and performs one etcd
// transaction. Responses are negotiated from Accept: JSON, YAML, protobuf,
// meta.k8s.io Table or PartialObjectMetadata. PATCH with
// application/apply-patch+yaml is server-side apply (apply.go), and every
// write records managedFields (managedfields.go). pods/exec, attach and
// portforward are upgraded streams proxied to the node agent (streams.go).
// The self reviews (kubectl auth can-i, auth whoami) are answered, not
// stored (reviews.go), from the one authorization policy (authorize.go)
// that the stream handlers enforce.
//
// Two paths are routed before token authentication, because they carry
// their own: /hook/<digest> (receiver.go), Flux Receiver webhooks, checked
// against the Receiver's secret; and /git/<ns>/<name>.git (gitremote*.go),
// the built-in git remote (git smart HTTP), which takes the same tokens as
// HTTP Basic or Bearer credentials. A push there creates or annotates the
// GitRepository and Kustomization of that name — gitsync learns of it
// through the API, never by a call.
//
// Services get cluster IPs and node ports here (servicealloc), not in a
// controller, so that no two Services ever share one.
//
// Boundaries: apiserver imports manifests (types, defaults, validation) and
// embedded-etcd only through cmd's wiring; controllers, the scheduler and
// the node agent never import it — they use the API through client-go.
package apiserver
