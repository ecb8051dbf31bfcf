// Package receiver is the Receiver controller: Skiff's half of Flux's
// notification-controller for `notification.toolkit.fluxcd.io/v1
// Receiver` objects. It decides under which path a Receiver's webhook is
// served; the API server's /hook/ endpoint (apiserver/receiver.go) serves
// it, verifies payloads and annotates the Receiver's resources with
// reconcile.fluxcd.io/requestedAt.
//
// Inputs: Receivers, through a dynamic informer (client-go has no typed
// clientset for Flux's types; objects are converted into manifests/flux
// types), and each Receiver's Secret, read through the API on every
// reconcile as Flux does (token rotation is seen at the next interval).
//
// Output: the Receiver's status subresource, written as Flux writes it:
//   - status.webhookPath = "/hook/" + hex(sha256(token + name + namespace)),
//     Flux's Receiver.GetWebhookPath;
//   - Ready True, reason Succeeded, "Receiver initialized for path: …";
//   - Ready False, reason TokenNotFound, when the Secret or its "token" key
//     is missing (webhookPath cleared, retried with back-off);
//   - Ready False + Stalled, reason NotSupported, for a type Skiff does not
//     serve (anything but generic, generic-hmac, github and gitlab) or a
//     spec.resourceFilter (Skiff has no CEL evaluator for it);
//   - Ready False + Stalled, reason ValidationFailed, for a resource
//     reference no webhook could ever annotate (name "*" without
//     matchLabels, or a kind without apiVersion that has no Flux default):
//     Flux finds these only when a hook arrives; Skiff says so up front;
//   - observedGeneration, and lastHandledReconcileAt from the
//     reconcile.fluxcd.io/requestedAt annotation.
//
// A suspended Receiver is left as it is (only lastHandledReconcileAt is
// recorded); the API server refuses its hooks with 503. A healthy Receiver
// is requeued every spec.interval (default 10m) to re-read its Secret.
//
// Unlike Flux, no finalizer is added: Flux's only serves its event
// bookkeeping, which Skiff does not do.
//
// The package talks to the API only through client-go; it does not import
// the API server.
package receiver
