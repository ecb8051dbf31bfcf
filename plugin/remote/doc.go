// Package remote is `kubectl skiff remote add|remove` and `kubectl skiff
// credential-helper`: deploying a repository by pushing it to the API
// server's built-in git remote (https://<server>/git/<ns>/<name>.git).
//
// remote add creates the GitRepository and Kustomization a first push
// would create — the very objects, from flux.NewGitRemoteObjects, which
// the server uses too — reading the server's directory of repositories
// from kube-system/skiff-cluster. It then adds the git remote with the
// git CLI and configures, for that URL only, this plugin as git's
// credential helper (with the kubeconfig and context in use) and, when
// the system does not trust the server's certificate, the kubeconfig's CA
// written under the git directory. remote remove undoes both, deleting
// the Kustomization first and waiting for it to go (its finalizer prunes)
// before the GitRepository; objects without the git-remote label are not
// touched.
//
// credential-helper speaks git's credential protocol (gitcredentials(7)):
// "get" answers the kubeconfig's bearer token as the password for a
// request to the kubeconfig's server and nothing for any other; "store"
// and "erase" are accepted and do nothing.
//
// Boundaries: the API through client-go; git through the git command in
// the user's work tree. RepoDir, URL, Token and CAData are shared with
// plugin/diff, which fetches built-in repositories the same way.
package remote
