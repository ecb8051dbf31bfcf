// Package datadir finds the Skiff data directory a plugin command works
// with: the directory `skiff server` and `skiff up` keep their kubeconfig
// and node token in (<dir>/kubeconfig, <dir>/node-token), and under which
// `kubectl skiff nodes add` keeps its agents (<dir>/nodes/<name>/).
//
// The plugin reaches the cluster only through the API, but joining a node
// needs the node token, which the API does not serve; so the plugin must
// know the directory. In order, it is:
//
//  1. --data-dir, when given;
//  2. $SKIFF_DATA_DIR, when set;
//  3. the directory of the kubeconfig file in use (--kubeconfig, else the
//     first file of $KUBECONFIG), when it holds a node-token — that is,
//     when the kubeconfig is the one `skiff server` wrote;
//  4. ~/.skiff, the default of `skiff up` and `skiff server`.
//
// Boundaries: path resolution only; it reads no file but a Stat.
package datadir
