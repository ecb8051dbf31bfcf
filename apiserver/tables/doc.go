// Package tables is the API server's server-side printing: for each kind
// Skiff serves it says which columns `kubectl get` shows and what goes in
// each cell, so that the output reads exactly as it does against a real
// Kubernetes cluster.
//
// kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`
// and prints whatever columns the server returns, hiding those of priority 1
// unless it runs with `-o wide`. The columns, their names, types, formats,
// descriptions and priorities, and the cell values and their Go types
// (string or int64, as JSON carries them) follow Kubernetes'
// pkg/printers/internalversion/printers.go as of 1.33, rewritten here for the
// versioned k8s.io/api types the API server stores. Like the Kubernetes API
// server, every printer always produces the wide cells; kubectl drops them.
//
// Inputs and outputs: For(gvk) returns a Printer, whose Columns are the
// table's column definitions and whose Row turns one object (typed, or
// unstructured of that kind) into its cells. The current time is passed in so
// that AGE and the other durations are pure functions of their inputs. Kinds
// without a printer of their own get the generic one Kubernetes uses
// (NAME, CREATED AT); so does autoscaling/v1 Scale, which Skiff does not
// print.
//
// Boundaries: the package builds neither the metav1.Table nor its rows'
// objects (PartialObjectMetadata), list metadata or watch framing; the
// caller does. It does no I/O and holds no state. Only the apiserver
// package imports it.
package tables
