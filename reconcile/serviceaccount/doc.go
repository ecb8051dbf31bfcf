// Package serviceaccount is Skiff's ServiceAccount controller: it makes
// sure every active namespace has a ServiceAccount named "default", and
// recreates it when it is deleted, as kube-controller-manager's
// ServiceAccountsController does. Pods that name no service account run
// as "default", so manifests written for Kubernetes expect it to exist.
//
// It creates no token Secrets: Kubernetes stopped creating them in 1.24.
//
// Inputs: Namespaces and ServiceAccounts through the shared informers.
// Output: ServiceAccount creates through the API. A namespace that is not
// Active (being deleted) gets nothing: the namespace controller is
// emptying it.
package serviceaccount
