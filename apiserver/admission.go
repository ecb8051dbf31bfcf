package apiserver

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiff-dev/skiff/apiserver/podsecurity"
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

// admitCreate admits a new object before it is validated and stored:
// DefaultTolerationSeconds (pods get bounded tolerations of the not-ready
// and unreachable taints), NamespaceLifecycle (its namespace must exist and must not be
// terminating) and PodSecurity (the namespace's pod security labels must
// be valid; a pod must meet its namespace's enforce level; pods and pod
// templates that miss its warn level draw a warning).
func (s *Server) admitCreate(ctx context.Context, res *resource, obj runtime.Object) error {
	if ns, ok := obj.(*corev1.Namespace); ok {
		return s.admitNamespaceLabels(ctx, res, ns, nil)
	}
	if !res.t.Namespaced {
		return nil
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		s.addDefaultTolerations(pod)
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
	return s.admitPodSecurity(ctx, res, ns, obj, nil)
}

// podSubresourcesWithoutSpec are the pod subresources that cannot change
// what pod security checks; any other (ephemeralcontainers) is evaluated,
// so a new spec-changing subresource fails safe.
var podSubresourcesWithoutSpec = []string{"status", "binding"}

// admitUpdate admits a change: no new finalizers on an object that is
// being deleted, as kube-apiserver; and PodSecurity — valid labels on a
// namespace, with warnings about its pods when enforce tightens; pods
// re-checked when the update is significant; pod templates warned about.
// Subresources other than a pod's spec-changing ones are not evaluated.
func (s *Server) admitUpdate(ctx context.Context, res *resource, subresource string, obj, old runtime.Object) error {
	nm, _ := meta.Accessor(obj)
	om, _ := meta.Accessor(old)
	if om.GetDeletionTimestamp() != nil {
		added := sets.New(nm.GetFinalizers()...).Difference(sets.New(om.GetFinalizers()...))
		if added.Len() > 0 {
			return apierrors.NewForbidden(res.gr(), nm.GetName(), fmt.Errorf("no new finalizers can be added if the object is being deleted, found new finalizers %q", sets.List(added)))
		}
	}
	switch o := obj.(type) {
	case *corev1.Namespace:
		if subresource != "" {
			return nil
		}
		return s.admitNamespaceLabels(ctx, res, o, old.(*corev1.Namespace))
	case *corev1.Pod:
		if slices.Contains(podSubresourcesWithoutSpec, subresource) || !podsecurity.SignificantPodUpdate(o, old.(*corev1.Pod)) {
			return nil
		}
	default:
		// Checking the kind first spares the namespace read for the many
		// kinds without a pod template.
		if _, _, ok := podsecurity.PodTemplate(obj); !ok || subresource != "" {
			return nil
		}
	}
	ns, err := s.namespace(ctx, nm.GetNamespace())
	if err != nil {
		return err
	}
	return s.admitPodSecurity(ctx, res, ns, obj, old)
}

// admitPodSecurity applies the namespace's pod security policy to a pod
// (enforce and warn) or a workload's pod template (warn only: its pods are
// refused when a controller creates them, as upstream).
func (s *Server) admitPodSecurity(ctx context.Context, res *resource, ns *corev1.Namespace, obj, old runtime.Object) error {
	cfg := podsecurity.DefaultConfig()
	var d podsecurity.Decision
	if pod, ok := obj.(*corev1.Pod); ok {
		oldPod, _ := old.(*corev1.Pod)
		d = cfg.AdmitPod(ns, pod, oldPod)
	} else {
		d = cfg.AdmitWorkload(ns, obj)
	}
	if d.Forbidden != "" {
		m, _ := meta.Accessor(obj)
		return apierrors.NewForbidden(res.gr(), m.GetName(), errors.New(d.Forbidden))
	}
	addAdmissionWarnings(ctx, d.Warnings...)
	return nil
}

// admitNamespaceLabels refuses invalid pod security labels (422 Invalid,
// as upstream) and, when an update tightens enforce, warns about the
// namespace's existing pods that the new level would refuse.
func (s *Server) admitNamespaceLabels(ctx context.Context, res *resource, ns, old *corev1.Namespace) error {
	errs, warnings := podsecurity.DefaultConfig().AdmitNamespace(ns, old, func() ([]*corev1.Pod, error) {
		return s.podsIn(ctx, ns.Name)
	})
	if len(errs) > 0 {
		return apierrors.NewInvalid(res.t.GroupVersionKind.GroupKind(), ns.Name, errs)
	}
	addAdmissionWarnings(ctx, warnings...)
	return nil
}

// podsIn lists a namespace's pods from the watch cache: a namespace label
// change only warns, so the cache's view is fresh enough and costs no etcd
// read. The pods are shared with the cache and must not be modified.
func (s *Server) podsIn(ctx context.Context, namespace string) ([]*corev1.Pod, error) {
	pods := s.resourceByKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	entries, _, err := pods.cache.List(ctx, storage.Predicate{Namespace: namespace}, storage.Freshness{})
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, 0, len(entries))
	for _, e := range entries {
		obj, err := e.Object()
		if err != nil {
			return nil, err
		}
		if pod, ok := obj.(*corev1.Pod); ok {
			out = append(out, pod)
		}
	}
	return out, nil
}

// admissionWarnings collects the warnings admission raises while one
// request is handled, for the handler to send as Warning headers once it
// succeeds. A request is handled by one goroutine, so no lock is needed.
type admissionWarnings struct{ msgs []string }

type admissionWarningsKey struct{}

// withAdmissionWarnings returns a context that collects admission warnings.
func withAdmissionWarnings(ctx context.Context) (context.Context, *admissionWarnings) {
	aw := &admissionWarnings{}
	return context.WithValue(ctx, admissionWarningsKey{}, aw), aw
}

// addAdmissionWarnings records warnings, once each: a create retried for a
// generated name, or an update retried after a conflict, runs admission
// again. Without a collector (internal writes) they are dropped.
func addAdmissionWarnings(ctx context.Context, msgs ...string) {
	aw, _ := ctx.Value(admissionWarningsKey{}).(*admissionWarnings)
	if aw == nil {
		return
	}
	for _, m := range msgs {
		if !slices.Contains(aw.msgs, m) {
			aw.msgs = append(aw.msgs, m)
		}
	}
}

// list returns the warnings collected so far.
func (aw *admissionWarnings) list() []string { return aw.msgs }

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
