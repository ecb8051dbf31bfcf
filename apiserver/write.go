package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/apiserver/servicealloc"
	"github.com/skiff-dev/skiff/apiserver/storage"
)

// maxConflictRetries bounds the read-modify-write loop of an update that
// carries no resourceVersion precondition (each retry re-reads the object).
const maxConflictRetries = 16

// writeParams are the query parameters every write takes.
type writeParams struct {
	dryRun bool
	fv     fieldValidation
}

func (s *Server) parseWriteParams(r *http.Request) (writeParams, error) {
	var p writeParams
	var err error
	if p.dryRun, err = parseDryRun(r.URL.Query()["dryRun"]); err != nil {
		return p, err
	}
	if p.fv, err = parseFieldValidation(r); err != nil {
		return p, err
	}
	return p, checkFieldManager(r)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	switch info.subresource {
	case "":
	case "binding":
		s.bind(w, r, res, info)
		return
	default:
		s.writeError(w, r, methodNotSupported(info, "create "+info.subresource), res.gr(), info.name)
		return
	}
	if info.name != "" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.gr(), "POST to a named object"), res.gr(), info.name)
		return
	}
	p, err := s.parseWriteParams(r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	f, err := negotiate(r, false)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	obj, warnings, err := s.decodeObject(body, requestMediaType(r), res.t.GroupVersionKind, p.fv)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	ctx, aw := withAdmissionWarnings(r.Context())
	ctx = withFieldOwner(ctx, requestFieldOwner(r))
	e, err := s.createObject(ctx, res, info.namespace, obj, p.dryRun)
	if err != nil {
		m, _ := meta.Accessor(obj)
		s.writeError(w, r, err, res.gr(), m.GetName())
		return
	}
	addWarnings(w, append(warnings, aw.list()...))
	s.writeEntry(w, r, res, http.StatusCreated, e, f)
}

// createObject runs a new object through defaulting, the strategy,
// admission and validation, and stores it.
func (s *Server) createObject(ctx context.Context, res *resource, namespace string, obj runtime.Object, dryRun bool) (*storage.Entry, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if res.t.Namespaced {
		switch m.GetNamespace() {
		case "":
			m.SetNamespace(namespace)
		case namespace:
		default:
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	for attempt := 0; ; attempt++ {
		if generated {
			m.SetName(generateName(m.GetGenerateName()))
		}
		e, err := s.createOnce(ctx, res, obj, m, dryRun)
		if generated && errors.Is(err, storage.ErrAlreadyExists) && attempt < 8 {
			continue
		}
		return e, err
	}
}

// generateName appends five random characters to a generateName prefix,
// cut to 58 characters first so the name fits a 63-character label, as
// kube-apiserver's SimpleNameGenerator does.
func generateName(prefix string) string {
	const maxPrefix = 63 - 5
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix + rand.String(5)
}

func (s *Server) createOnce(ctx context.Context, res *resource, obj runtime.Object, m metav1.Object, dryRun bool) (_ *storage.Entry, retErr error) {
	res.t.Default(obj)
	managed, tracked := s.trackCreate(ctx, res, obj)
	res.prepareForCreate(obj, s.now())
	if tracked {
		setManagedFields(obj, managed)
	}
	if err := s.admitCreate(ctx, res, obj); err != nil {
		return nil, err
	}
	if errs := res.t.Validate(obj); len(errs) > 0 {
		return nil, apierrors.NewInvalid(res.t.GroupVersionKind.GroupKind(), m.GetName(), errs)
	}
	if svc, ok := obj.(*corev1.Service); ok {
		// Cluster IP and node ports are reserved before the Service is
		// stored, and given back if it is not (kube-apiserver's service
		// storage BeginCreate).
		change, err := s.services.Create(ctx, svc, dryRun)
		if err != nil {
			return nil, err
		}
		defer func() { change.Finish(ctx, retErr == nil) }()
	}
	stored, err := res.toStored(obj)
	if err != nil {
		return nil, err
	}
	raw, err := res.encodeStored(stored)
	if err != nil {
		return nil, err
	}
	key := res.key(m.GetNamespace(), m.GetName())
	if dryRun {
		if _, _, err := s.store.Get(ctx, key); err == nil {
			return nil, apierrors.NewAlreadyExists(res.gr(), m.GetName())
		}
		return res.cache.Entry(key, 0, raw), nil
	}
	rev, err := s.store.Create(ctx, key, raw, res.ttl)
	if err != nil {
		return nil, err
	}
	return res.entryFor(key, rev, raw, stored), nil
}

// tryUpdateFunc computes the new object from the current one (a private,
// modifiable copy in the served type) and its stored entry.
type tryUpdateFunc func(cur runtime.Object, e *storage.Entry) (runtime.Object, error)

// guaranteedUpdate is the read-modify-write loop behind PUT and PATCH: read
// the object, compute the new one, and write it with a precondition on the
// revision read. A lost race re-reads and recomputes; a resourceVersion
// the client sent is checked by tryUpdate and yields 409 on mismatch.
// Writing an identical object is a no-op that keeps the resourceVersion.
func (s *Server) guaranteedUpdate(ctx context.Context, res *resource, namespace, name, subresource string, dryRun bool, tryUpdate tryUpdateFunc) (_ *storage.Entry, retErr error) {
	key := res.key(namespace, name)
	// What a Service update reserves is given back if the write fails or
	// is retried; what it drops is released once it is written.
	var svcChange *servicealloc.Change
	defer func() { svcChange.Finish(ctx, retErr == nil) }()
	for attempt := 0; ; attempt++ {
		svcChange.Revert(ctx)
		svcChange = nil
		raw, rev, err := s.store.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		e := res.cache.Entry(key, rev, raw)
		cur, err := res.mutableExternal(e)
		if err != nil {
			return nil, err
		}
		old, err := res.mutableExternal(e)
		if err != nil {
			return nil, err
		}
		next, err := tryUpdate(cur, e)
		if err != nil {
			return nil, err
		}
		nm, _ := meta.Accessor(next)
		if nm.GetName() != name {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", nm.GetName(), name))
		}
		if res.t.Namespaced && nm.GetNamespace() != namespace {
			if nm.GetNamespace() != "" {
				return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
			}
			nm.SetNamespace(namespace)
		}
		switch rv := nm.GetResourceVersion(); rv {
		case revString(rev):
		case "":
			// An unconditional update: it applies to the revision read.
			nm.SetResourceVersion(revString(rev))
		default:
			return nil, apierrors.NewConflict(res.gr(), name, errors.New(conflictMessage))
		}
		if subresource == "" || subresource == "ephemeralcontainers" {
			// A pods/ephemeralcontainers body is a Pod, defaulted as on
			// kube-apiserver (its new containers get their defaults).
			res.t.Default(next)
		}
		managed, tracked := s.trackUpdate(ctx, res, subresource, old, next)
		next = res.prepareForUpdate(next, old, subresource)
		if tracked {
			setManagedFields(next, managed)
		}
		if err := s.admitUpdate(ctx, res, subresource, next, old); err != nil {
			return nil, err
		}
		validate := res.t.ValidateUpdate
		if sub, ok := res.t.Subresource(subresource); ok && sub.ValidateUpdate != nil {
			validate = sub.ValidateUpdate
		}
		if subresource == "binding" {
			// Binding checks its own preconditions; pod update validation
			// would refuse the change of spec.nodeName it exists to make.
		} else if errs := validate(next, old); len(errs) > 0 {
			return nil, apierrors.NewInvalid(res.t.GroupVersionKind.GroupKind(), name, errs)
		}
		if svc, ok := next.(*corev1.Service); ok && subresource == "" {
			if svcChange, err = s.services.Update(ctx, svc, old.(*corev1.Service), dryRun); err != nil {
				return nil, err
			}
		}
		stored, err := res.toStored(next)
		if err != nil {
			return nil, err
		}
		newRaw, err := res.encodeStored(stored)
		if err != nil {
			return nil, err
		}
		if shouldDeleteDuringUpdate(next) {
			if dryRun {
				return e, nil
			}
			if _, err := s.store.Delete(ctx, key, rev); err != nil {
				if errors.Is(err, storage.ErrConflict) && attempt < maxConflictRetries {
					continue
				}
				return nil, err
			}
			svcChange.Revert(ctx)
			svcChange = nil
			s.releaseDeleted(ctx, old)
			return res.cache.Entry(key, rev, newRaw), nil
		}
		if bytes.Equal(newRaw, raw) {
			return e, nil
		}
		if dryRun {
			return res.cache.Entry(key, rev, newRaw), nil
		}
		newRev, err := s.store.Update(ctx, key, newRaw, rev, res.ttl)
		if errors.Is(err, storage.ErrConflict) && attempt < maxConflictRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return res.entryFor(key, newRev, newRaw, stored), nil
	}
}

// shouldDeleteDuringUpdate: an object marked for deletion goes once its
// last finalizer is removed and no grace period is pending.
func shouldDeleteDuringUpdate(obj runtime.Object) bool {
	m, _ := meta.Accessor(obj)
	if m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 {
		return false
	}
	if g := m.GetDeletionGracePeriodSeconds(); g != nil && *g > 0 {
		return false
	}
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		return false
	}
	return true
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	if info.subresource == "scale" {
		s.updateScale(w, r, res, info, nil)
		return
	}
	p, err := s.parseWriteParams(r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	f, err := negotiate(r, false)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	obj, warnings, err := s.decodeObject(body, requestMediaType(r), res.t.GroupVersionKind, p.fv)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	if m, _ := meta.Accessor(obj); m.GetName() != info.name {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), info.name)), res.gr(), info.name)
		return
	}
	ctx, aw := withAdmissionWarnings(r.Context())
	ctx = withFieldOwner(ctx, requestFieldOwner(r))
	e, err := s.guaranteedUpdate(ctx, res, info.namespace, info.name, info.subresource, p.dryRun,
		func(cur runtime.Object, _ *storage.Entry) (runtime.Object, error) { return obj.DeepCopyObject(), nil })
	code := http.StatusOK
	if errors.Is(err, storage.ErrNotFound) && res.t.AllowCreateOnUpdate && info.subresource == "" {
		e, err = s.createObject(ctx, res, info.namespace, obj, p.dryRun)
		code = http.StatusCreated
	}
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	addWarnings(w, append(warnings, aw.list()...))
	s.writeEntry(w, r, res, code, e, f)
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	p, err := s.parseWriteParams(r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	f, err := negotiate(r, false)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	pt := requestMediaType(r)
	if err := checkPatchType(pt); err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	opts, err := parsePatchOptions(r, pt)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	if isApplyPatch(pt) {
		s.serverSideApply(w, r, res, info, p, opts, f, body)
		return
	}
	if info.subresource == "scale" {
		s.updateScale(w, r, res, info, &scalePatch{typ: pt, body: body})
		return
	}
	var warnings []string
	ctx, aw := withAdmissionWarnings(r.Context())
	ctx = withFieldOwner(ctx, requestFieldOwner(r))
	e, err := s.guaranteedUpdate(ctx, res, info.namespace, info.name, info.subresource, p.dryRun,
		func(cur runtime.Object, e *storage.Entry) (runtime.Object, error) {
			curJSON, err := res.objectJSON(e)
			if err != nil {
				return nil, err
			}
			patched, err := applyPatch(pt, curJSON, body, res.t.New())
			if err != nil {
				return nil, err
			}
			obj, w, err := s.decodeObject(patched, mediaJSON, res.t.GroupVersionKind, p.fv)
			warnings = w
			return obj, err
		})
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	addWarnings(w, append(warnings, aw.list()...))
	s.writeEntry(w, r, res, http.StatusOK, e, f)
}

// deleteOptions reads DeleteOptions from the body and the query (the query
// wins for the fields it sets, as in Kubernetes).
func (s *Server) deleteOptions(w http.ResponseWriter, r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := s.decodeOptions(body, requestMediaType(r), opts); err != nil {
			return nil, err
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid gracePeriodSeconds %q", v))
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		pp := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &pp
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := isTrue(v)
		opts.OrphanDependents = &b
	}
	if v := q["dryRun"]; len(v) > 0 {
		opts.DryRun = v
	}
	var errs field.ErrorList
	if _, err := parseDryRun(opts.DryRun); err != nil {
		errs = append(errs, field.NotSupported(field.NewPath("dryRun"), strings.Join(opts.DryRun, ","), []string{"All"}))
	}
	if opts.OrphanDependents != nil && opts.PropagationPolicy != nil {
		errs = append(errs, field.Invalid(field.NewPath("propagationPolicy"), *opts.PropagationPolicy, "orphanDependents and deletionPropagation cannot be both set"))
	}
	if pp := opts.PropagationPolicy; pp != nil && *pp != metav1.DeletePropagationBackground && *pp != metav1.DeletePropagationForeground && *pp != metav1.DeletePropagationOrphan {
		errs = append(errs, field.NotSupported(field.NewPath("propagationPolicy"), *pp, []string{"Background", "Foreground", "Orphan"}))
	}
	if g := opts.GracePeriodSeconds; g != nil && *g < 0 {
		// Kubernetes treats a negative grace period as 1 second.
		one := int64(1)
		opts.GracePeriodSeconds = &one
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("DeleteOptions").GroupKind(), "", errs)
	}
	return opts, nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	if info.subresource != "" {
		s.writeError(w, r, methodNotSupported(info, "delete "+info.subresource), res.gr(), info.name)
		return
	}
	f, err := negotiate(r, false)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	opts, err := s.deleteOptions(w, r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	e, pending, err := s.deleteObject(r.Context(), res, info.namespace, info.name, opts)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	code := http.StatusOK
	if pending {
		code = http.StatusAccepted
	}
	s.writeEntry(w, r, res, code, e, f)
}

// gcFinalizers are the finalizers through which the garbage collector
// carries out foreground and orphan deletion.
const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

// deleteObject deletes one object, or marks it for deletion when
// finalizers or a grace period must run first (pending = true).
func (s *Server) deleteObject(ctx context.Context, res *resource, namespace, name string, opts *metav1.DeleteOptions) (*storage.Entry, bool, error) {
	dryRun := len(opts.DryRun) > 0
	key := res.key(namespace, name)
	if res.t.GroupVersionKind.Kind == "Namespace" && res.t.GroupVersionKind.Group == "" && immortalNamespaces[name] {
		return nil, false, apierrors.NewForbidden(res.gr(), name, errors.New("this namespace may not be deleted"))
	}
	for attempt := 0; ; attempt++ {
		raw, rev, err := s.store.Get(ctx, key)
		if err != nil {
			return nil, false, err
		}
		e := res.cache.Entry(key, rev, raw)
		obj, err := res.mutableExternal(e)
		if err != nil {
			return nil, false, err
		}
		m, _ := meta.Accessor(obj)
		if pc := opts.Preconditions; pc != nil {
			if pc.UID != nil && *pc.UID != m.GetUID() {
				return nil, false, apierrors.NewConflict(res.gr(), name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *pc.UID, m.GetUID()))
			}
			if pc.ResourceVersion != nil && *pc.ResourceVersion != revString(rev) {
				return nil, false, apierrors.NewConflict(res.gr(), name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *pc.ResourceVersion, rev))
			}
		}
		grace := gracePeriod(obj, opts)
		finalizers := deletionFinalizers(m.GetFinalizers(), opts)
		pendingNS := false
		if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
			pendingNS = true
		}
		if len(finalizers) == 0 && grace == 0 && !pendingNS {
			if dryRun {
				return e, false, nil
			}
			delRev, err := s.store.Delete(ctx, key, rev)
			if errors.Is(err, storage.ErrConflict) && attempt < maxConflictRetries {
				continue
			}
			if err != nil {
				return nil, false, err
			}
			_ = delRev
			s.releaseDeleted(ctx, obj)
			return e, false, nil
		}
		// Deletion must wait: record it on the object.
		now := s.now()
		changed := false
		if dt := m.GetDeletionTimestamp(); dt == nil {
			t := metav1.NewTime(now.Add(time.Duration(grace) * time.Second).Truncate(time.Second))
			m.SetDeletionTimestamp(&t)
			m.SetDeletionGracePeriodSeconds(&grace)
			if g := m.GetGeneration(); g > 0 {
				m.SetGeneration(g + 1)
			}
			changed = true
		} else if cur := m.GetDeletionGracePeriodSeconds(); cur != nil && grace < *cur {
			// A shorter grace period (e.g. --grace-period=0) shortens it.
			t := metav1.NewTime(now.Add(time.Duration(grace) * time.Second).Truncate(time.Second))
			if t.Before(dt) {
				m.SetDeletionTimestamp(&t)
			}
			m.SetDeletionGracePeriodSeconds(&grace)
			changed = true
		}
		if !equalStrings(finalizers, m.GetFinalizers()) {
			m.SetFinalizers(finalizers)
			changed = true
		}
		if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase != corev1.NamespaceTerminating {
			ns.Status.Phase = corev1.NamespaceTerminating
			changed = true
		}
		if shouldDeleteDuringUpdate(obj) {
			if dryRun {
				return e, false, nil
			}
			if _, err := s.store.Delete(ctx, key, rev); err != nil {
				if errors.Is(err, storage.ErrConflict) && attempt < maxConflictRetries {
					continue
				}
				return nil, false, err
			}
			s.releaseDeleted(ctx, obj)
			return e, false, nil
		}
		if !changed {
			return e, true, nil
		}
		stored, err := res.toStored(obj)
		if err != nil {
			return nil, false, err
		}
		newRaw, err := res.encodeStored(stored)
		if err != nil {
			return nil, false, err
		}
		if dryRun {
			return res.cache.Entry(key, rev, newRaw), true, nil
		}
		newRev, err := s.store.Update(ctx, key, newRaw, rev, res.ttl)
		if errors.Is(err, storage.ErrConflict) && attempt < maxConflictRetries {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		return res.cache.Entry(key, newRev, newRaw), true, nil
	}
}

// releaseDeleted gives back the cluster IPs and node ports of a Service
// just deleted from storage (kube-apiserver's service storage
// AfterDelete). A release lost to a crash is done by repair.
func (s *Server) releaseDeleted(ctx context.Context, obj runtime.Object) {
	if svc, ok := obj.(*corev1.Service); ok {
		s.services.Release(ctx, svc)
	}
}

// gracePeriod is how long a deleted object lingers: only pods on a node
// get one (their terminationGracePeriodSeconds, or the request's), so the
// node agent can stop their containers.
func gracePeriod(obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return 0
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		return *opts.GracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return corev1.DefaultTerminationGracePeriodSeconds
}

// deletionFinalizers adds or removes the garbage collector's finalizers
// according to the propagation policy.
func deletionFinalizers(existing []string, opts *metav1.DeleteOptions) []string {
	orphan, foreground := false, false
	switch {
	case opts.PropagationPolicy != nil:
		orphan = *opts.PropagationPolicy == metav1.DeletePropagationOrphan
		foreground = *opts.PropagationPolicy == metav1.DeletePropagationForeground
	case opts.OrphanDependents != nil:
		orphan = *opts.OrphanDependents
	default:
		// No policy: keep what the object already asks for.
		return existing
	}
	out := make([]string, 0, len(existing)+1)
	for _, f := range existing {
		if f == finalizerOrphan || f == finalizerForeground {
			continue
		}
		out = append(out, f)
	}
	if orphan {
		out = append(out, finalizerOrphan)
	}
	if foreground {
		out = append(out, finalizerForeground)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	f, err := negotiate(r, true)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	opts, err := s.deleteOptions(w, r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	lo, err := s.parseListOptions(r, res, &requestInfo{verb: "list", namespace: info.namespace})
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	entries, _, err := res.cache.List(r.Context(), lo.pred, storage.Freshness{Latest: true})
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	deleted := make([]*storage.Entry, 0, len(entries))
	for _, e := range entries {
		obj, err := e.Object()
		if err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
		m, _ := meta.Accessor(obj)
		d, _, err := s.deleteObject(r.Context(), res, m.GetNamespace(), m.GetName(), opts)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			s.writeError(w, r, err, res.gr(), m.GetName())
			return
		}
		deleted = append(deleted, d)
	}
	rev, _ := s.store.CurrentRevision(r.Context())
	s.writeList(w, r, res, deleted, metav1.ListMeta{ResourceVersion: revString(rev)}, f)
}
