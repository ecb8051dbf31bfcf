package sync

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/fluxapi/fluxtest"
)

func cond(t string, s metav1.ConditionStatus) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: "R", Message: "m"}
}

func TestJudge(t *testing.T) {
	const tok = "2026-06-01T12:00:00Z"
	for _, tc := range []struct {
		name     string
		handled  string
		obsGen   int64
		conds    []metav1.Condition
		done, ok bool
	}{
		{name: "request not handled yet", handled: "older", obsGen: 2, conds: []metav1.Condition{cond("Ready", "True")}},
		{name: "status of an older spec", handled: tok, obsGen: 1, conds: []metav1.Condition{cond("Ready", "True")}},
		{name: "still reconciling", handled: tok, obsGen: 2, conds: []metav1.Condition{cond("Ready", "True"), cond("Reconciling", "True")}},
		{name: "no ready condition", handled: tok, obsGen: 2},
		{name: "ready unknown", handled: tok, obsGen: 2, conds: []metav1.Condition{cond("Ready", "Unknown")}},
		{name: "ready", handled: tok, obsGen: 2, conds: []metav1.Condition{cond("Ready", "True"), cond("Reconciling", "False")}, done: true, ok: true},
		{name: "failed", handled: tok, obsGen: 2, conds: []metav1.Condition{cond("Ready", "False")}, done: true},
		{name: "failed, flux retrying", handled: tok, obsGen: 2, conds: []metav1.Condition{cond("Ready", "False"),
			{Type: "Reconciling", Status: "True", Reason: "ProgressingWithRetry"}}, done: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, ok := judge(observed{handled: tc.handled, generation: 2, obsGen: tc.obsGen, conds: tc.conds}, tok)
			if done != tc.done || ok != tc.ok {
				t.Errorf("judge = %v, %v; want %v, %v", done, ok, tc.done, tc.ok)
			}
		})
	}
}

func objects() (*flux.GitRepository, *flux.Kustomization) {
	repo := &flux.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "repo", Generation: 1}}
	ks := &flux.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop", Generation: 1},
		Spec: flux.KustomizationSpec{SourceRef: flux.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "repo"}}}
	return repo, ks
}

// handle plays a controller for one object: it waits for a reconcile
// request, then writes Ready=Unknown (in progress) and the given Ready.
func handle(t *testing.T, c fluxapi.Client, r ref, ready metav1.ConditionStatus, msg string) {
	t.Helper()
	ctx := context.Background()
	ri := c.Dynamic.Resource(r.gvr).Namespace(r.ns)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		u, err := ri.Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		tok := u.GetAnnotations()[fluxapi.ReconcileRequestAnnotation]
		if tok == "" {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		set := func(conds []any) {
			_ = unstructured.SetNestedField(u.Object, tok, "status", "lastHandledReconcileAt")
			_ = unstructured.SetNestedField(u.Object, int64(1), "status", "observedGeneration")
			_ = unstructured.SetNestedSlice(u.Object, conds, "status", "conditions")
			var err error
			if u, err = ri.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
			}
		}
		set([]any{map[string]any{"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "building", "lastTransitionTime": "2026-01-01T00:00:00Z"}})
		time.Sleep(50 * time.Millisecond)
		set([]any{map[string]any{"type": "Ready", "status": string(ready), "reason": "Done", "message": msg, "lastTransitionTime": "2026-01-01T00:00:00Z"}})
		return
	}
	t.Errorf("no reconcile request on %s within 5s", r)
}

var (
	repoRef = ref{kind: "gitrepository", gvr: fluxapi.GitRepositories, ns: "default", name: "repo"}
	ksRef   = ref{kind: "kustomization", gvr: fluxapi.Kustomizations, ns: "default", name: "shop"}
)

// controller plays both controllers: the source fetches, then the
// Kustomization ends with the given Ready.
func controller(t *testing.T, c fluxapi.Client, ready metav1.ConditionStatus, msg string) {
	handle(t, c, repoRef, "True", "stored artifact")
	handle(t, c, ksRef, ready, msg)
}

func runSync(t *testing.T, wait bool, timeout time.Duration, play func(fluxapi.Client)) (string, string, error, fluxapi.Client) {
	t.Helper()
	repo, ks := objects()
	c := fluxapi.Client{Dynamic: fluxtest.NewClient(t, repo, ks)}
	var out, errOut bytes.Buffer
	o := &options{streams: genericiooptions.IOStreams{Out: &out, ErrOut: &errOut}, wait: wait, timeout: timeout, withSource: true, tick: 10 * time.Millisecond}
	if play != nil {
		go play(c)
	}
	err := o.run(context.Background(), c, "default", "shop")
	return out.String(), errOut.String(), err, c
}

func TestSyncRequestsBoth(t *testing.T) {
	_, errOut, err, c := runSync(t, false, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, _ := c.GetGitRepository(ctx, "default", "repo")
	ks, _ := c.GetKustomization(ctx, "default", "shop")
	tok := ks.Annotations[fluxapi.ReconcileRequestAnnotation]
	if tok == "" || repo.Annotations[fluxapi.ReconcileRequestAnnotation] != tok {
		t.Errorf("tokens: kustomization %q, gitrepository %q", tok, repo.Annotations[fluxapi.ReconcileRequestAnnotation])
	}
	if !strings.Contains(errOut, "reconcile requested for gitrepository/repo") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestSyncWaitReady(t *testing.T) {
	out, errOut, err, _ := runSync(t, true, 5*time.Second, func(c fluxapi.Client) { controller(t, c, "True", "Applied") })
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, "✔ kustomization/shop ready") {
		t.Errorf("stdout: %s", out)
	}
	for _, want := range []string{"◎ waiting for gitrepository/repo… (0s)", "gitrepository/repo: Ready=True Done: stored artifact",
		"◎ waiting for kustomization/shop… (0s)", "kustomization/shop: Ready=Unknown Progressing: building", "kustomization/shop: Ready=True Done: Applied"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "\r") {
		t.Errorf("progress rewritten in place on a non-terminal: %q", errOut)
	}
}

func TestSyncWaitFailed(t *testing.T) {
	msg := "kustomize build: deploy/app.yaml:12: spec.replicas: invalid"
	_, _, err, _ := runSync(t, true, 5*time.Second, func(c fluxapi.Client) { controller(t, c, "False", msg) })
	var fe *FailedError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "deploy/app.yaml:12") {
		t.Errorf("err = %v, want a FailedError naming the file and line", err)
	}
}

func TestSyncSourceFailureStops(t *testing.T) {
	_, _, err, c := runSync(t, true, 5*time.Second, func(c fluxapi.Client) { handle(t, c, repoRef, "False", "auth failed") })
	var fe *FailedError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "gitrepository/repo failed") || !strings.Contains(err.Error(), "auth failed") {
		t.Errorf("err = %v, want the source's failure", err)
	}
	ks, _ := c.GetKustomization(context.Background(), "default", "shop")
	if ks.Annotations[fluxapi.ReconcileRequestAnnotation] != "" {
		t.Error("the kustomization was asked to apply although its source failed")
	}
}

func TestSyncWaitTimeout(t *testing.T) {
	_, _, err, _ := runSync(t, true, 200*time.Millisecond, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("err = %v, want a timeout", err)
	}
}

func TestSyncRefusesSuspended(t *testing.T) {
	repo, ks := objects()
	ks.Spec.Suspend = true
	c := fluxapi.Client{Dynamic: fluxtest.NewClient(t, repo, ks)}
	o := &options{streams: genericiooptions.NewTestIOStreamsDiscard(), withSource: true}
	if err := o.run(context.Background(), c, "default", "shop"); err == nil || !strings.Contains(err.Error(), "suspended") {
		t.Errorf("err = %v, want suspended", err)
	}
}

func TestProgressInPlaceOnTerminal(t *testing.T) {
	var b bytes.Buffer
	w := &waiter{progress: &b, terminal: true, start: time.Now(), lastSeen: map[string]string{}}
	w.draw(ksRef)
	w.draw(ksRef)
	w.note(ksRef, &metav1.Condition{Type: "Ready", Status: "False", Reason: "R", Message: "m"})
	got := b.String()
	if strings.Count(got, "\r\x1b[K◎ waiting for kustomization/shop… (0s)") != 3 || !strings.Contains(got, "\r\x1b[K  kustomization/shop: Ready=False R: m\n") {
		t.Errorf("terminal output: %q", got)
	}
}
