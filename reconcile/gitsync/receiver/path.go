package receiver

import (
	"crypto/sha256"
	"encoding/hex"
)

// WebhookPathPrefix is where the API server serves Receivers' webhooks, as
// Flux's ReceiverWebhookPath.
const WebhookPathPrefix = "/hook/"

// WebhookPath is the path a Receiver's webhook is served under: Flux's
// Receiver.GetWebhookPath, the prefix followed by the hex SHA-256 of the
// token, the Receiver's name and its namespace, concatenated in that
// order. The token makes the path unguessable; name and namespace make two
// Receivers sharing a token differ.
func WebhookPath(token, name, namespace string) string {
	sum := sha256.Sum256([]byte(token + name + namespace))
	return WebhookPathPrefix + hex.EncodeToString(sum[:])
}
