// Package openapi publishes the API's OpenAPI documents: /openapi/v2 (one
// Swagger 2.0 document for every group, as JSON or gnostic protobuf) and
// /openapi/v3 (an index, then one OpenAPI 3.0 document per group-version,
// per group and for /api and /apis, as JSON or protobuf).
//
// Stock kubectl depends on them. Its default --validate=strict for apply,
// create, replace and edit looks for a PATCH operation carrying the
// object's x-kubernetes-group-version-kind and a fieldValidation query
// parameter (v3 from 1.29, v2 protobuf in 1.27 and 1.28); kubectl apply
// computes its strategic merge patch from the schemas' patch strategies
// and merge keys; kubectl explain prints the schemas' descriptions. The
// same schemas, through Definitions, give server-side apply its list and
// map semantics (managedfields.NewTypeConverter).
//
// Everything is generated once, in New, by reflection over the Go types
// the registry serves (k8s.io/api and apimachinery): fields by JSON tag,
// descriptions from SwaggerDoc(), patch metadata from struct tags, names
// from OpenAPIModelName(), list/map semantics from a table of the
// +listType/+mapType/+structType comment markers (markers.go), and paths
// laid out as the upstream API server lays them out. No upstream spec file
// is copied. Requests are answered from the bytes New encoded, with the
// ETag, hash-redirect and caching behaviour of kube-openapi's handler and
// handler3 packages.
//
// Boundaries: this package describes the API; it validates nothing and
// serves nothing but the documents. The apiserver package routes
// /openapi/v2, /openapi/v3 and /openapi/v3/* to Documents.ServeHTTP and
// feeds Definitions to its field manager. It depends only on manifests
// (the type registry) and the Kubernetes libraries.
package openapi
