package sync

import (
	"context"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
)

// waiter follows one object at a time until it has handled the request
// token, drawing the progress line and printing its Ready changes.
type waiter struct {
	c        fluxapi.Client
	token    string
	out      io.Writer
	progress io.Writer
	terminal bool
	tick     time.Duration
	start    time.Time

	lastSeen map[string]string // kind/name → last condition line printed
	drawn    bool              // a progress line is on screen (terminal)
}

// observed is what the waiter reads from one version of an object.
type observed struct {
	handled            string
	generation, obsGen int64
	conds              []metav1.Condition
	revision           string
}

func observe(r ref, u *unstructured.Unstructured) (observed, error) {
	if r.kind == "gitrepository" {
		var repo flux.GitRepository
		if err := fluxapi.FromUnstructured(u, &repo); err != nil {
			return observed{}, err
		}
		rev := ""
		if repo.Status.Artifact != nil {
			rev = repo.Status.Artifact.Revision
		}
		return observed{repo.Status.LastHandledReconcileAt, repo.Generation, repo.Status.ObservedGeneration, repo.Status.Conditions, rev}, nil
	}
	var ks flux.Kustomization
	if err := fluxapi.FromUnstructured(u, &ks); err != nil {
		return observed{}, err
	}
	return observed{ks.Status.LastHandledReconcileAt, ks.Generation, ks.Status.ObservedGeneration, ks.Status.Conditions, ks.Status.LastAppliedRevision}, nil
}

// judge decides whether an object has finished handling token: the
// request is acknowledged, the status is of the current spec, and Ready
// is True (ok) or False. Flux keeps Reconciling=True with reason
// ProgressingWithRetry on a failure, so only a Reconciling condition with
// another reason means the reconcile is still running.
func judge(o observed, token string) (done, ok bool) {
	if o.handled != token || o.obsGen < o.generation {
		return false, false
	}
	if c := findCondition(o.conds, "Reconciling"); c != nil && c.Status == metav1.ConditionTrue && c.Reason != "ProgressingWithRetry" {
		return false, false
	}
	ready := fluxapi.Ready(o.conds)
	if ready == nil {
		return false, false
	}
	switch ready.Status {
	case metav1.ConditionTrue:
		return true, true
	case metav1.ConditionFalse:
		return true, false
	}
	return false, false
}

func findCondition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// waitFor follows r until it handled the token: its last status when
// Ready, a *FailedError when it failed or was deleted, or the context's
// error with the last condition seen.
func (w *waiter) waitFor(ctx context.Context, r ref) (observed, error) {
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	updates := make(chan *unstructured.Unstructured)
	go follow(fctx, w.c, r, updates)
	w.drawn = false
	w.draw(r)
	t := time.NewTicker(w.tick)
	defer t.Stop()
	var last *metav1.Condition
	for {
		select {
		case <-ctx.Done():
			w.clear()
			state := "no status for this request yet"
			if last != nil {
				state = fmt.Sprintf("Ready=%s %s: %s", last.Status, last.Reason, last.Message)
			}
			return observed{}, fmt.Errorf("timed out after %s waiting for %s (%s): %w", time.Since(w.start).Truncate(time.Second), r, state, ctx.Err())
		case <-t.C:
			if w.terminal {
				w.draw(r)
			}
		case u := <-updates:
			if u == nil {
				w.clear()
				return observed{}, failed("%s was deleted while waiting", r)
			}
			o, err := observe(r, u)
			if err != nil {
				continue // not decodable yet; the next version may be
			}
			if o.handled != w.token {
				continue // conditions from before this request are not its progress
			}
			last = fluxapi.Ready(o.conds)
			w.note(r, last)
			done, ok := judge(o, w.token)
			if !done {
				continue
			}
			w.clear()
			if !ok {
				return o, failed("%s failed after %s (%s): %s", r, time.Since(w.start).Truncate(time.Second), last.Reason, last.Message)
			}
			return o, nil
		}
	}
}

// note prints the Ready condition when it changed since last printed.
func (w *waiter) note(r ref, c *metav1.Condition) {
	if c == nil {
		return
	}
	line := fmt.Sprintf("  %s: Ready=%s %s: %s", r, c.Status, c.Reason, c.Message)
	if w.lastSeen[r.String()] == line {
		return
	}
	w.lastSeen[r.String()] = line
	w.clear()
	fmt.Fprintln(w.progress, line)
	w.draw(r)
}

// draw shows the progress line: rewritten in place on a terminal, once
// per object otherwise (a log file gets no stream of carriage returns).
func (w *waiter) draw(r ref) {
	line := progressLine(r, time.Since(w.start))
	if w.terminal {
		fmt.Fprint(w.progress, "\r\x1b[K"+line)
		w.drawn = true
		return
	}
	if !w.drawn {
		fmt.Fprintln(w.progress, line)
		w.drawn = true
	}
}

// clear removes the progress line from a terminal before other output.
func (w *waiter) clear() {
	if w.terminal && w.drawn {
		fmt.Fprint(w.progress, "\r\x1b[K")
		w.drawn = false
	}
}

// follow sends every version of one object until ctx ends, and nil if it
// is deleted: a get, then a watch from its resourceVersion, again after
// the server ends a watch.
func follow(ctx context.Context, c fluxapi.Client, r ref, out chan<- *unstructured.Unstructured) {
	send := func(u *unstructured.Unstructured) bool {
		select {
		case out <- u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	ri := c.Dynamic.Resource(r.gvr).Namespace(r.ns)
	for ctx.Err() == nil {
		obj, err := ri.Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				send(nil)
				return
			}
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		if !send(obj) {
			return
		}
		wi, err := ri.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", r.name).String(),
			ResourceVersion: obj.GetResourceVersion(),
		})
		if err != nil {
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		for ev := range wi.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || u.GetName() != r.name {
				continue
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if !send(u) {
					wi.Stop()
					return
				}
			case watch.Deleted:
				wi.Stop()
				send(nil)
				return
			}
		}
		wi.Stop()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
