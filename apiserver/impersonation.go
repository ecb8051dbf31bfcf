package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// refuseImpersonation returns, for a request that asks to act as another
// user (kubectl --as / --as-group / --as-uid, client-go's Impersonate
// config), the error kube-apiserver gives a user who may not
// impersonate; nil for any other request.
//
// Skiff has no RBAC: there are two credentials, the admin's and the nodes'.
// Running the request as the caller while it asked to run as someone else
// would be a silent lie — `kubectl --as=bob delete pod x` would succeed as
// the admin, and someone testing what bob may do would learn the wrong
// answer — so the request is refused and nothing is done.
func refuseImpersonation(u User, h http.Header) error {
	if user := h.Get(authenticationv1.ImpersonateUserHeader); user != "" {
		if ns, sa, ok := serviceAccountUser(user); ok {
			// kube-apiserver checks "impersonate serviceaccounts" in the
			// account's namespace for these names.
			return apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, sa,
				fmt.Errorf("User %q cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace %q: %s", u.Name, ns, noImpersonation))
		}
		return apierrors.NewForbidden(schema.GroupResource{Resource: "users"}, user,
			fmt.Errorf("User %q cannot impersonate resource \"users\" in API group \"\" at the cluster scope: %s", u.Name, noImpersonation))
	}
	for k := range h {
		// An empty Impersonate-User alone asks for nothing, as on
		// kube-apiserver.
		if strings.HasPrefix(k, "Impersonate-") && k != authenticationv1.ImpersonateUserHeader {
			// kube-apiserver refuses these without a user too.
			return apierrors.NewBadRequest(fmt.Sprintf("%s without %s: impersonating groups, a UID or extra fields needs a user to impersonate (and %s)",
				k, authenticationv1.ImpersonateUserHeader, noImpersonation))
		}
	}
	return nil
}

// noImpersonation is why Skiff refuses every impersonation.
const noImpersonation = "Skiff has no RBAC, so a request cannot run as another user; send it without impersonation (kubectl: without --as, --as-group or --as-uid)"

// serviceAccountUser splits a service account's user name,
// system:serviceaccount:<namespace>:<name>.
func serviceAccountUser(user string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	return namespace, name, ok && namespace != "" && name != ""
}
