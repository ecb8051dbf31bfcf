// Package manifests is the API's knowledge of types: which resources exist,
// under which group, version, kind and plural name, whether they are
// namespaced, how an object of each kind is defaulted and validated, and the
// runtime.Scheme that decodes and encodes them.
//
// It is the one library shared by the API server and the components that
// read manifests from files (the git-sync controller, the kubectl plugin),
// so that a manifest is judged the same way wherever it is read. It does no
// I/O and holds no state beyond the immutable Registry built by NewRegistry.
//
// Subpackages: defaults (what the Kubernetes API server fills in) and
// validation (what it refuses, as field.ErrorList with field paths).
package manifests
