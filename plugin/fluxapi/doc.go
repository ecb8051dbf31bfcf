// Package fluxapi reads and changes Flux's GitRepository and Kustomization
// objects for the plugin's GitOps commands (sources, suspend, resume, sync,
// status). It goes through client-go's dynamic client, as a plugin must
// for resources outside client-go's typed clientset, and converts to the
// Go types of manifests/flux with runtime.DefaultUnstructuredConverter.
//
// Boundaries: API reads and merge patches only; no printing, no waiting.
package fluxapi
