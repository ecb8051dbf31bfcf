// Package plugin is `kubectl skiff`: the kubectl plugin for cluster
// lifecycle and GitOps. Each command lives in its own subpackage with a
// NewCommand(streams, flags) constructor (kind's layout): status, nodes,
// sources, suspend (and resume), sync, diff, remote (and the git
// credential-helper), logs, kubeconfig, completion, version.
// They share output (tables, -o json|yaml|name, colours), fluxapi (Flux
// objects through the dynamic client), nodeinfo (kubectl's node columns)
// and datadir (where the server's node token and kubeconfig are). This
// package assembles the root command with kubectl's own flags
// (--kubeconfig, --context, -n, --as, …) from k8s.io/cli-runtime.
//
// The root is named kubectl-skiff, the binary's name, so that completion
// scripts and kubectl_complete-skiff agree; help shows "kubectl skiff".
//
// The plugin talks to the cluster only through the Kubernetes API; `nodes
// add|remove` also starts and stops local `skiff agent` processes, `remote`
// runs the git command in the user's work tree, and `logs` reads files of
// the data directory. Commands that need an exit status other than 1 (diff:
// 1 means "differences", 2 an error) return an error with an
// ExitStatus() int method, which cmd/kubectl-skiff honours.
package plugin
