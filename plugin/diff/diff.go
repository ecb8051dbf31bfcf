package diff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
	"github.com/skiff-dev/skiff/reconcile/gitsync/render"
)

// Exit statuses, kubectl diff's.
const (
	StatusSame    = 0
	StatusDiffers = 1
	StatusFailed  = 2
)

// ExitError ends the command with a status of its own; a nil Err prints
// nothing (the diff has been written).
type ExitError struct {
	Status int
	Err    error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// ExitStatus is the process's exit status.
func (e *ExitError) ExitStatus() int { return e.Status }

func (e *ExitError) Unwrap() error { return e.Err }

func failed(err error) error {
	var ee *ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return &ExitError{Status: StatusFailed, Err: err}
}

// comparison holds one run's inputs.
type comparison struct {
	out     io.Writer
	cluster cluster
	context int
}

// change is one object whose live and would-be states differ.
type change struct {
	name       string // group.version.Kind.namespace.name
	note       string // why it differs beyond a field change
	live, next *unstructured.Unstructured
}

// compare renders t as ks would and writes the diff of every object that
// would change; it returns StatusDiffers (as an *ExitError) when any does.
func (c *comparison) compare(ctx context.Context, ks *flux.Kustomization, t *tree) error {
	opts := fluxobj.RenderOptions(t.root, &ks.Spec)
	opts.Path = t.path
	rendered, err := render.Render(ctx, opts)
	if err != nil {
		return failed(fmt.Errorf("kustomize build failed for %s: %w", t.what, err))
	}
	newNamespaces := map[string]bool{}
	for _, o := range rendered.Objects {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range fluxobj.OwnerLabels(ks) {
			labels[k] = v
		}
		o.SetLabels(labels)
		if o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "" {
			newNamespaces[o.GetName()] = true
		}
	}

	var changes []change
	var errs []error
	for i, o := range rendered.Objects {
		ch, err := c.object(ctx, ks, o, rendered.Sources[i], newNamespaces)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ch != nil {
			changes = append(changes, *ch)
		}
	}
	if ks.Spec.Prune && ks.Status.Inventory != nil {
		pruned, err := c.pruned(ctx, ks, rendered.Objects)
		if err != nil {
			errs = append(errs, err)
		}
		changes = append(changes, pruned...)
	}

	differs := false
	for _, ch := range changes {
		wrote, err := c.write(ch)
		if err != nil {
			return failed(err)
		}
		differs = differs || wrote
	}
	if err := errors.Join(errs...); err != nil {
		return failed(err)
	}
	if differs {
		return &ExitError{Status: StatusDiffers}
	}
	return nil
}

// object works out what applying one rendered object would change: the
// live object against the result of a server-side apply dry run, which
// has the server's defaults and keeps the fields other managers own.
func (c *comparison) object(ctx context.Context, ks *flux.Kustomization, o *unstructured.Unstructured, src render.Source, newNamespaces map[string]bool) (*change, error) {
	located := func(err error) error {
		loc := ""
		if src.File != "" {
			loc = " (" + src.String() + ")"
		}
		return fmt.Errorf("%s%s: %w", ref(o), loc, err)
	}
	gvr, namespaced, err := c.cluster.mapping(o.GroupVersionKind())
	if err != nil {
		return nil, located(fmt.Errorf("unknown kind %s: %w", o.GroupVersionKind(), err))
	}
	switch {
	case namespaced && o.GetNamespace() == "":
		return nil, located(errors.New("namespace not specified: set metadata.namespace or spec.targetNamespace"))
	case !namespaced:
		o.SetNamespace("")
	}
	live, err := c.cluster.get(ctx, gvr, o.GetNamespace(), o.GetName())
	if err != nil {
		return nil, located(err)
	}
	ch := &change{name: fileName(o), live: live}
	next, err := c.cluster.dryRunApply(ctx, gvr, o)
	switch {
	case err == nil:
		ch.next = next
	case live == nil && namespaced && newNamespaces[o.GetNamespace()] && apierrors.IsNotFound(err):
		// Its namespace comes with this revision: the server cannot
		// dry-run it yet, so it shows as written.
		ch.next, ch.note = o, "(its namespace is created by this revision: shown as written, without server defaults)"
	case ks.Spec.Force && live != nil && fluxobj.IsImmutableFieldError(err):
		ch.next, ch.note = o, "would be recreated (an immutable field changes and spec.force is set)"
	default:
		return nil, located(fmt.Errorf("dry-run failed: %s", apiMessage(err)))
	}
	if live == nil && ch.note == "" {
		ch.note = "would be created"
	}
	return ch, nil
}

// pruned lists the objects of the last applied inventory that left the
// revision and that the controller would delete: those still labelled as
// this Kustomization's and not annotated prune: disabled.
func (c *comparison) pruned(ctx context.Context, ks *flux.Kustomization, objs []*unstructured.Unstructured) ([]change, error) {
	gone, err := render.Diff(fluxobj.RenderInventory(ks.Status.Inventory), render.Inventory(objs))
	if err != nil {
		return nil, err
	}
	var out []change
	var errs []error
	for _, g := range gone {
		gvr, _, err := c.cluster.mapping(g.GroupVersionKind())
		if meta.IsNoMatchError(err) {
			continue // the kind is no longer served: nothing to delete
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ref(g), err))
			continue
		}
		live, err := c.cluster.get(ctx, gvr, g.GetNamespace(), g.GetName())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ref(g), err))
			continue
		}
		if live == nil || live.GetDeletionTimestamp() != nil || live.GetAnnotations()[fluxobj.KustomizePruneAnnotation] == fluxobj.KustomizePruneDisabled {
			continue
		}
		owned := true
		for k, v := range fluxobj.OwnerLabels(ks) {
			if live.GetLabels()[k] != v {
				owned = false
			}
		}
		if owned {
			out = append(out, change{name: fileName(live), note: "would be pruned", live: live})
		}
	}
	return out, errors.Join(errs...)
}

// write prints one object's diff, if there is any, and says whether it
// did.
func (c *comparison) write(ch change) (bool, error) {
	var live, next *unstructured.Unstructured
	if ch.live != nil {
		live = normalize(ch.live)
	}
	if ch.next != nil {
		next = normalize(ch.next)
	}
	maskSecrets(live, next)
	a, err := toYAML(live)
	if err != nil {
		return false, err
	}
	b, err := toYAML(next)
	if err != nil {
		return false, err
	}
	if a == b {
		return false, nil
	}
	from, to := "live/"+ch.name, "merged/"+ch.name
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "diff -u -N %s %s\n", from, to)
	if ch.note != "" {
		fmt.Fprintf(&buf, "# %s %s\n", refName(ch), ch.note)
	}
	if live == nil {
		from = "/dev/null"
	}
	if next == nil {
		to = "/dev/null"
	}
	fmt.Fprintf(&buf, "--- %s\n+++ %s\n", from, to)
	if err := writeUnified(&buf, a, b, c.context); err != nil {
		return false, err
	}
	_, err = c.out.Write(buf.Bytes())
	return true, err
}

func refName(ch change) string {
	if ch.live != nil {
		return ref(ch.live)
	}
	return ref(ch.next)
}
