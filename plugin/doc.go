// Package plugin is `kubectl skiff`: the kubectl plugin for cluster
// lifecycle and GitOps. Each command lives in its own subpackage with a
// NewCommand(streams, flags) constructor (kind's layout); this package
// assembles the root command with kubectl's own flags (--kubeconfig,
// --context, -n, …) from k8s.io/cli-runtime.
//
// The plugin talks to the cluster only through the Kubernetes API.
package plugin
