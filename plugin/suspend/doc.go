// Package suspend is `kubectl skiff suspend` and `kubectl skiff resume`:
// they set and clear spec.suspend on a Kustomization (the default kind)
// or a GitRepository, and with --source on the GitRepository the
// Kustomization reads from too, as `flux suspend kustomization` and
// `flux suspend source git` do. Resume also asks for a reconcile at once
// (reconcile.fluxcd.io/requestedAt), as flux resume does, so what changed
// while suspended is applied without waiting for the interval.
//
// Boundaries: merge patches through plugin/fluxapi; no waiting.
package suspend
