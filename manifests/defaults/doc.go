// Package defaults fills the fields that the Kubernetes API server fills
// when a client leaves them out (restartPolicy, imagePullPolicy, strategy,
// protocol, …), so that an object read back from Skiff looks like the same
// object read back from Kubernetes. Each function mutates its argument and
// is idempotent.
package defaults
