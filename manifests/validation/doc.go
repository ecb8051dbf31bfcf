// Package validation refuses what the Kubernetes API server refuses: bad
// names, missing required fields, values outside an enum, changes to
// immutable fields. Each function returns every problem at once as a
// field.ErrorList whose paths (spec.template.spec.containers[0].image)
// become the causes of a 422 Invalid Status.
//
// The rules follow kubernetes/pkg/apis/*/validation for the fields Skiff
// serves; they are written here, not imported, because that package is not
// a consumable library.
package validation
