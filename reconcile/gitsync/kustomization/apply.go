package kustomization

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
	"github.com/skiff-dev/skiff/reconcile/gitsync/render"
)

// FieldManager is the server-side apply manager, Flux's.
const FieldManager = fluxobj.KustomizeFieldManager

// Ownership labels and the prune opt-out, Flux's.
const (
	NameLabel       = fluxobj.KustomizeNameLabel
	NamespaceLabel  = fluxobj.KustomizeNSLabel
	PruneAnnotation = fluxobj.KustomizePruneAnnotation
	PruneDisabled   = fluxobj.KustomizePruneDisabled
)

// Changeset actions, as Flux's ssa package spells them.
const (
	Created    = "created"
	Configured = "configured"
	Unchanged  = "unchanged"
	Deleted    = "deleted"
)

// dryRunParallelism and applyParallelism bound the concurrent requests
// of one revision.
const (
	dryRunParallelism = 8
	applyParallelism  = 16
)

// item is one rendered object on its way to the API server.
type item struct {
	obj        *unstructured.Unstructured
	src        render.Source
	gvr        schema.GroupVersionResource
	namespaced bool
	action     string
	// recreate: spec.force and the dry run hit an immutable field.
	recreate bool
	// deferred: its namespace is created by this revision and does not
	// exist yet, so it is validated after the definitions stage.
	deferred bool
	// healthyRV is the resourceVersion at which the health check last
	// found the object Current: its status cannot have changed since.
	healthyRV string
	// liveRV is the live object's resourceVersion when it was last known
	// to hold what this item applies (after the apply, or when the dry
	// run or the drift check found it unchanged); checkDrift trusts an
	// object not written since.
	liveRV string
}

// reset clears what one reconcile decided, keeping liveRV, so a cached
// item can be judged again.
func (it *item) reset() {
	it.action, it.recreate, it.deferred = "", false, false
}

// ref names an object as Flux's changeset lines do: Kind/namespace/name,
// or Kind/name for cluster-scoped objects.
func ref(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return u.GetKind() + "/" + ns + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetName()
}

// ObjectError is a failure of one object, located in the source.
type ObjectError struct {
	Object string
	Source render.Source
	Op     string // "dry-run", "apply", "delete"
	Err    error
}

func (e *ObjectError) Error() string {
	loc := ""
	if e.Source.File != "" {
		loc = " (" + e.Source.String() + ")"
	}
	return fmt.Sprintf("%s%s %s failed: %s", e.Object, loc, e.Op, apiMessage(e.Err))
}

func (e *ObjectError) Unwrap() error { return e.Err }

// apiMessage is the API server's reason and message for a status error.
func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		if st.Reason != "" {
			return fmt.Sprintf("%s: %s", st.Reason, st.Message)
		}
		return st.Message
	}
	return err.Error()
}

// applier applies rendered objects through the dynamic client.
type applier struct {
	dyn    dynamic.Interface
	mapper meta.ResettableRESTMapper
	// versions lists live resourceVersions for the drift check.
	versions liveVersions
}

// resolve finds the resource of an object's kind, refreshing discovery
// once if the kind is unknown (served kinds rarely change, so the cache is
// kept otherwise).
func (a *applier) resolve(it *item) error {
	gvk := it.obj.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		a.mapper.Reset()
		m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return &ObjectError{Object: ref(it.obj), Source: it.src, Op: "dry-run", Err: fmt.Errorf("unknown kind %s: %w", gvk, err)}
	}
	it.gvr = m.Resource
	it.namespaced = m.Scope.Name() == meta.RESTScopeNameNamespace
	switch {
	case it.namespaced && it.obj.GetNamespace() == "":
		return &ObjectError{Object: ref(it.obj), Source: it.src, Op: "dry-run",
			Err: errors.New("namespace not specified: set metadata.namespace or spec.targetNamespace")}
	case !it.namespaced:
		it.obj.SetNamespace("")
	}
	return nil
}

func (a *applier) client(it *item) dynamic.ResourceInterface {
	if it.namespaced {
		return a.dyn.Resource(it.gvr).Namespace(it.obj.GetNamespace())
	}
	return a.dyn.Resource(it.gvr)
}

// dryRun validates one object and works out what applying it would do.
func (a *applier) dryRun(ctx context.Context, it *item, force bool, newNamespaces map[string]bool) error {
	c := a.client(it)
	live, err := c.Get(ctx, it.obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return &ObjectError{Object: ref(it.obj), Source: it.src, Op: "dry-run", Err: err}
	}
	res, err := c.Apply(ctx, it.obj.GetName(), it.obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	switch {
	case err == nil:
	case live == nil && it.namespaced && newNamespaces[it.obj.GetNamespace()] && apierrors.IsNotFound(err):
		it.deferred, it.action = true, Created
		return nil
	case force && live != nil && fluxobj.IsImmutableFieldError(err):
		it.recreate, it.action = true, Created
		return nil
	default:
		return &ObjectError{Object: ref(it.obj), Source: it.src, Op: "dry-run", Err: err}
	}
	switch {
	case live == nil:
		it.action = Created
	case drifted(live, res):
		it.action = Configured
	default:
		it.action, it.liveRV = Unchanged, live.GetResourceVersion()
	}
	return nil
}

// drifted compares the live object with the dry-run result of applying
// the revision's, ignoring bookkeeping that changes on every write.
func drifted(live, dry *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
		unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(c.Object, "metadata", "generation")
		return c.Object
	}
	return !apiequality.Semantic.DeepEqual(strip(live), strip(dry))
}

// dryRunAll dry-runs the items, in parallel, and returns every failure.
func (a *applier) dryRunAll(ctx context.Context, items []*item, force bool, newNamespaces map[string]bool) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, dryRunParallelism)
	)
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := a.dryRun(ctx, it, force, newNamespaces); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// applyAll applies items in their order, kind after kind: the objects of
// one kind are applied concurrently (a few hundred one-by-one applies
// are most of a large first sync), but none before every object of the
// kinds ahead of it (a ServiceAccount before the Deployment using it, as
// Flux orders them). It stops at the first kind with a failure and
// returns the failures, in item order.
func (a *applier) applyAll(ctx context.Context, items []*item, timeout time.Duration) error {
	for start := 0; start < len(items); {
		end := start + 1
		gk := items[start].obj.GroupVersionKind().GroupKind()
		for end < len(items) && items[end].obj.GroupVersionKind().GroupKind() == gk {
			end++
		}
		run := items[start:end]
		errs := make([]error, len(run))
		var wg sync.WaitGroup
		sem := make(chan struct{}, applyParallelism)
		for i, it := range run {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				errs[i] = a.apply(ctx, it, timeout)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// apply writes one object (deleting it first when it must be recreated).
func (a *applier) apply(ctx context.Context, it *item, timeout time.Duration) error {
	c := a.client(it)
	if it.recreate {
		if err := a.deleteAndWait(ctx, c, it.obj.GetName(), timeout); err != nil {
			return &ObjectError{Object: ref(it.obj), Source: it.src, Op: "recreate", Err: err}
		}
	}
	res, err := c.Apply(ctx, it.obj.GetName(), it.obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return &ObjectError{Object: ref(it.obj), Source: it.src, Op: "apply", Err: err}
	}
	it.liveRV = res.GetResourceVersion()
	return nil
}

func (a *applier) deleteAndWait(ctx context.Context, c dynamic.ResourceInterface, name string, timeout time.Duration) error {
	fg := metav1.DeletePropagationForeground
	if err := c.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := c.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// waitPresent waits until the definitions just applied can be used:
// Namespaces exist and are not terminating.
func (a *applier) waitPresent(ctx context.Context, items []*item, timeout time.Duration) error {
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, it := range items {
			live, err := a.client(it).Get(ctx, it.obj.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			if it.obj.GetKind() == "Namespace" {
				if phase, _, _ := unstructured.NestedString(live.Object, "status", "phase"); phase == "Terminating" {
					return false, nil
				}
			}
		}
		return true, nil
	})
}

// prune deletes objects that left the revision and returns the changeset
// lines of those deleted. Objects no longer labelled as this
// Kustomization's, or annotated prune: disabled, are left alone.
func (a *applier) prune(ctx context.Context, gone []*unstructured.Unstructured, owner map[string]string) ([]string, error) {
	var lines []string
	var errs []error
	for _, g := range gone {
		it := &item{obj: g}
		gvk := g.GroupVersionKind()
		m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			continue // the kind is no longer served: nothing to delete
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ref(g), err))
			continue
		}
		it.gvr, it.namespaced = m.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace
		c := a.client(it)
		live, err := c.Get(ctx, g.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, &ObjectError{Object: ref(g), Op: "prune", Err: err})
			continue
		}
		if live.GetAnnotations()[PruneAnnotation] == PruneDisabled || live.GetDeletionTimestamp() != nil {
			continue
		}
		owned := true
		for k, v := range owner {
			if live.GetLabels()[k] != v {
				owned = false
			}
		}
		if !owned {
			continue
		}
		bg := metav1.DeletePropagationBackground
		if err := c.Delete(ctx, g.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, &ObjectError{Object: ref(g), Op: "prune", Err: err})
			continue
		}
		lines = append(lines, ref(g)+" "+Deleted)
	}
	return lines, errors.Join(errs...)
}
