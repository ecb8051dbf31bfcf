// Package sources is `kubectl skiff sources`: every GitRepository and
// Kustomization in one table (KIND NAME REVISION READY MESSAGE AGE), in
// the current namespace or, with -A, in all of them; -o wide adds where
// each one comes from and whether it is suspended, -o json|yaml|name
// print the objects as kubectl get would.
//
// Boundaries: reads only, through plugin/fluxapi.
package sources
