// Package kubeconfig is `kubectl skiff kubeconfig`: it prints the Skiff
// server's kubeconfig — one cluster, one user, one context, named by
// --context-name (default "skiff"), certificates inlined — or, with
// --merge, writes it into the kubeconfig file `kubectl config` writes to
// ($KUBECONFIG's first existing file, else ~/.kube/config; --kubeconfig
// names the source, not the target), replacing entries of
// the same name and keeping every other one; the file is replaced
// atomically (write a temporary file beside it, fsync, rename).
//
// The source is <data-dir>/kubeconfig when --data-dir (or
// $SKIFF_DATA_DIR) is given, else the current context of the kubeconfig
// kubectl would use (--kubeconfig, --context, …), else
// ~/.skiff/kubeconfig.
//
// Boundaries: files only; it makes no API call.
package kubeconfig
