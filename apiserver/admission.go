package apiserver

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiff-dev/skiff/apiserver/storage"
)

// immortalNamespaces may not be deleted (NamespaceLifecycle admission).
var immortalNamespaces = map[string]bool{
	metav1.NamespaceDefault: true,
	metav1.NamespaceSystem:  true,
	metav1.NamespacePublic:  true,
}

// bootstrapNamespaces exist from the start, as on every Kubernetes cluster.
var bootstrapNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// admitCreate is the NamespaceLifecycle admission check for a new object:
// its namespace must exist and must not be terminating.
func (s *Server) admitCreate(ctx context.Context, res *resource, obj runtime.Object) error {
	if !res.t.Namespaced {
		return nil
	}
	m, _ := meta.Accessor(obj)
	ns, err := s.namespace(ctx, m.GetNamespace())
	if err != nil {
		return err
	}
	if ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil {
		se := apierrors.NewForbidden(res.gr(), m.GetName(), fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns.Name))
		se.ErrStatus.Details.Causes = append(se.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Message: fmt.Sprintf("namespace %s is being terminated", ns.Name), Field: "metadata.namespace",
		})
		return se
	}
	return nil
}

// admitUpdate refuses new finalizers on an object that is being deleted,
// as kube-apiserver does.
func (s *Server) admitUpdate(res *resource, obj, old runtime.Object) error {
	nm, _ := meta.Accessor(obj)
	om, _ := meta.Accessor(old)
	if om.GetDeletionTimestamp() == nil {
		return nil
	}
	added := sets.New(nm.GetFinalizers()...).Difference(sets.New(om.GetFinalizers()...))
	if added.Len() > 0 {
		return apierrors.NewForbidden(res.gr(), nm.GetName(), fmt.Errorf("no new finalizers can be added if the object is being deleted, found new finalizers %q", sets.List(added)))
	}
	return nil
}

// namespace reads a namespace, from the cache when it is there (the common
// case) and from etcd otherwise (it may have just been created).
func (s *Server) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	nsRes := s.namespaces
	e, _, err := nsRes.cache.Get(ctx, nsRes.key("", name), storage.Freshness{})
	if errors.Is(err, storage.ErrNotFound) {
		var raw []byte
		var rev int64
		raw, rev, err = s.store.Get(ctx, nsRes.key("", name))
		if err == nil {
			e = nsRes.cache.Entry(nsRes.key("", name), rev, raw)
		}
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, apierrors.NewNotFound(corev1.Resource("namespaces"), name)
	}
	if err != nil {
		return nil, err
	}
	obj, err := e.Object()
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Namespace), nil
}
