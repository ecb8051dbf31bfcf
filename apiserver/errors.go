package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/apiserver/storage"
	"github.com/skiff-dev/skiff/manifests"
)

// toStatusError turns any error into the Kubernetes Status a client should
// see. Storage errors map to the codes kube-apiserver uses for them.
func toStatusError(err error, gr schema.GroupResource, name string) *apierrors.StatusError {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return se
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, storage.ErrAlreadyExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.Is(err, storage.ErrConflict):
		return apierrors.NewConflict(gr, name, errors.New(conflictMessage))
	case errors.Is(err, storage.ErrExpired):
		return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %v", err))
	case errors.Is(err, storage.ErrTooLargeResourceVersion):
		se := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %v", err), 1)
		se.ErrStatus.Details = &metav1.StatusDetails{
			RetryAfterSeconds: 1,
			Causes:            []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}},
		}
		return se
	case errors.Is(err, storage.ErrNoSpace):
		return apierrors.NewInternalError(fmt.Errorf("etcd backend quota exceeded (database space exceeded): writes are refused until space is freed: %w", err))
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, storage.ErrStopped):
		return apierrors.NewServiceUnavailable(err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError("request did not complete within the allowed duration", 0)
	case errors.Is(err, context.Canceled):
		return apierrors.NewTimeoutError("request was cancelled", 0)
	}
	return apierrors.NewInternalError(err)
}

const conflictMessage = "the object has been modified; please apply your changes to the latest version and try again"

func notFoundPath(r *http.Request) error {
	se := apierrors.NewNotFound(schema.GroupResource{}, "")
	se.ErrStatus.Message = fmt.Sprintf("the server could not find the requested resource (path %q)", r.URL.Path)
	se.ErrStatus.Details = nil
	return se
}

func notFoundResource(gv schema.GroupVersion, resource string) error {
	se := apierrors.NewNotFound(schema.GroupResource{Group: gv.Group, Resource: resource}, "")
	where := "version \"" + gv.Version + "\""
	if gv.Group != "" {
		where = fmt.Sprintf("group %q version %q", gv.Group, gv.Version)
	}
	se.ErrStatus.Message = fmt.Sprintf("the server could not find the requested resource: no resource %q in %s", resource, where)
	return se
}

func notFoundSubresource(t *manifests.Type, sub string) error {
	se := apierrors.NewNotFound(t.GroupResource(), "")
	se.ErrStatus.Message = fmt.Sprintf("the server could not find the requested resource: %s has no subresource %q", t.GroupResource(), sub)
	return se
}

func methodNotSupported(info *requestInfo, method string) error {
	return apierrors.NewMethodNotSupported(info.typ.GroupResource(), method)
}

// notImplemented is the answer for a request Skiff recognises but does
// not serve yet: 501, never a silent success.
func notImplemented(what string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotImplemented,
		Reason:  "NotImplemented",
		Message: what + " is not implemented by this Skiff server",
	}}
}
