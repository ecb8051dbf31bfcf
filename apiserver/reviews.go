package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/manifests"
)

// serveReview answers the self reviews (the registry's types that are
// not stored): a POST carries a question about the caller, the answer
// comes back in the object's status with 201, as from kube-apiserver, and
// nothing is kept. The policy they report is authorize's (authorize.go).
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, info *requestInfo, u User) {
	gr := info.typ.GroupResource()
	if info.verb != "create" || info.subresource != "" || info.name != "" || info.namespace != "" {
		// A review is a question, not an object: there is nothing to
		// read, change or delete, and it is asked at the collection.
		err := apierrors.NewMethodNotSupported(gr, strings.ToUpper(r.Method))
		err.ErrStatus.Message = fmt.Sprintf("%s %s is not supported: a %s is asked with a POST to /%s and answered at once, never stored",
			strings.ToUpper(r.Method), r.URL.Path, info.typ.GroupVersionKind.Kind, collectionPath(info.typ))
		s.writeError(w, r, err, gr, info.name)
		return
	}
	p, err := s.parseWriteParams(r)
	if err != nil {
		s.writeError(w, r, err, gr, "")
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err, gr, "")
		return
	}
	obj, warnings, err := s.decodeObject(body, requestMediaType(r), info.typ.GroupVersionKind, p.fv)
	if err != nil {
		s.writeError(w, r, err, gr, "")
		return
	}
	if errs := info.typ.Validate(obj); len(errs) > 0 {
		s.writeError(w, r, apierrors.NewInvalid(info.typ.GroupVersionKind.GroupKind(), "", errs), gr, "")
		return
	}
	answerReview(obj, u, s.registry)
	obj.GetObjectKind().SetGroupVersionKind(info.typ.GroupVersionKind)
	addWarnings(w, warnings)
	s.writeObject(w, r, http.StatusCreated, obj)
}

// answerReview fills in a review's status for user u.
func answerReview(obj runtime.Object, u User, reg *manifests.Registry) {
	switch o := obj.(type) {
	case *authorizationv1.SelfSubjectAccessReview:
		a := access{}
		if ra := o.Spec.ResourceAttributes; ra != nil {
			a = access{verb: ra.Verb, group: ra.Group, resource: ra.Resource, subresource: ra.Subresource, namespace: ra.Namespace, name: ra.Name}
		} else if nra := o.Spec.NonResourceAttributes; nra != nil {
			a = access{verb: nra.Verb, nonResource: true, path: nra.Path}
		}
		allowed, reason := authorize(u, a)
		// Denied stays false, as RBAC leaves it: no rule denies, some
		// allow.
		o.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: allowed, Reason: reason}
	case *authorizationv1.SelfSubjectRulesReview:
		resources, nonResources := rulesFor(u, reg)
		o.Status = authorizationv1.SubjectRulesReviewStatus{ResourceRules: resources, NonResourceRules: nonResources}
	case *authenticationv1.SelfSubjectReview:
		o.Status.UserInfo = authenticationv1.UserInfo{Username: u.Name, Groups: append([]string(nil), u.Groups...)}
	}
}

// collectionPath is where a cluster-scoped type's objects are posted.
func collectionPath(t *manifests.Type) string {
	gv := t.GroupVersionKind.GroupVersion()
	if gv.Group == "" {
		return "api/" + gv.Version + "/" + t.Resource
	}
	return "apis/" + gv.String() + "/" + t.Resource
}
