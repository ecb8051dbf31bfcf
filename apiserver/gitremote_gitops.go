package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/skiff-dev/skiff/apiserver/storage"
	"github.com/skiff-dev/skiff/manifests/flux"
)

// What the git remote writes on the objects it creates and annotates.
const (
	// GitRemoteLabel marks the GitRepository and Kustomization a push
	// created (flux.NewGitRemoteObjects builds them).
	GitRemoteLabel = flux.GitRemoteLabel
	// gitRemoteManager owns the fields the remote writes (managedFields).
	gitRemoteManager = "skiff-git-remote"
	// gitReportLines bounds each list a push prints (events, inventory).
	gitReportLines = 20
)

// pushPolicy reads what the repository's GitRepository allows a push.
// No GitRepository yet: the defaults (no force, no deletion).
func (g *gitRemote) pushPolicy(ctx context.Context, repo gitRepo) (pushPolicy, error) {
	obj, _, err := g.get(ctx, flux.GitRepositoryKind, repo)
	if errors.Is(err, storage.ErrNotFound) {
		return pushPolicy{}, nil
	}
	if err != nil {
		return pushPolicy{}, fmt.Errorf("read GitRepository %s: %w", repo, err)
	}
	ann := obj.(*flux.GitRepository).Annotations
	return pushPolicy{allowForce: ann[GitAllowForcePushAnnotation] == "true", allowDelete: ann[GitAllowDeleteAnnotation] == "true"}, nil
}

// get reads one object of a kind at the repository's namespace and name.
func (g *gitRemote) get(ctx context.Context, gvk schema.GroupVersionKind, repo gitRepo) (runtime.Object, int64, error) {
	res := g.s.resourceByKind(gvk)
	key := res.key(repo.Namespace, repo.Name)
	raw, rev, err := g.s.store.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	obj, err := res.external(res.cache.Entry(key, rev, raw))
	return obj, rev, err
}

// deploy makes a pushed revision deployed, through the API only: it
// ensures the GitRepository and Kustomization named after the repository
// (created on first use, a user's own left as they are), requests their
// reconciliation with reconcile.fluxcd.io/requestedAt, and, when wait,
// follows the Kustomization until it has attempted the revision, then
// reports the outcome. Failures are reported, not returned: the push
// itself has succeeded.
func (g *gitRemote) deploy(ctx context.Context, repo gitRepo, pushed *receiveResult, wait bool, progress *pushProgress) {
	ctx = withFieldOwner(ctx, fieldOwner{manager: gitRemoteManager})
	var branches []*pushedRef
	for i := range pushed.pushed {
		if pushed.pushed[i].Name.IsBranch() {
			branches = append(branches, &pushed.pushed[i])
		}
	}
	if len(branches) == 0 {
		// Tags alone: a GitRepository following a tag or semver range
		// is asked to look again; nothing is created for them.
		if _, _, err := g.get(ctx, flux.GitRepositoryKind, repo); err == nil {
			if err := g.requestReconcile(ctx, repo, flux.GitRepositoryKind, g.s.now()); err != nil {
				progress.Printf("error: %v", err)
			}
		}
		return
	}
	first := branches[0]
	for _, b := range branches {
		if b.Name == plumbing.Main || b.Name == plumbing.Master {
			first = b
			break
		}
	}
	gr, grCreated, err := g.ensureGitRepository(ctx, repo, first.Name.Short())
	if err != nil {
		progress.Printf("error: cannot set up GitRepository %s: %v", repo, err)
		return
	}
	k, kCreated, err := g.ensureKustomization(ctx, repo)
	if err != nil {
		progress.Printf("error: cannot set up Kustomization %s: %v", repo, err)
		return
	}
	switch {
	case grCreated && kCreated:
		progress.Printf("created GitRepository %s (branch %s) and Kustomization %s (path ./, prune)", repo, first.Name.Short(), repo)
	case grCreated:
		progress.Printf("created GitRepository %s (branch %s)", repo, first.Name.Short())
	case kCreated:
		progress.Printf("created Kustomization %s (path ./, prune)", repo)
	}

	tracked := "master" // Flux's default when spec.ref is empty
	if ref := gr.Spec.Reference; ref != nil {
		switch {
		case ref.Branch != "":
			tracked = ref.Branch
		case ref.Tag != "" || ref.SemVer != "" || ref.Name != "" || ref.Commit != "":
			tracked = ""
		}
	}
	var deployed *pushedRef
	for _, b := range branches {
		if b.Name.Short() == tracked {
			deployed = b
		}
	}
	now := g.s.now()
	token := now.UTC().Format(time.RFC3339Nano)
	if err := g.requestReconcile(ctx, repo, flux.GitRepositoryKind, now); err != nil {
		progress.Printf("error: %v", err)
		return
	}
	if deployed == nil {
		follows := "branch " + tracked
		if tracked == "" {
			follows = "a tag, semver range or commit"
		}
		progress.Printf("GitRepository %s follows %s: the pushed branches are stored, not deployed", repo, follows)
		return
	}
	before := k.DeepCopy()
	kRev, err := g.annotate(ctx, repo, flux.KustomizationKind, token)
	if err != nil {
		progress.Printf("error: %v", err)
		return
	}
	if sr := k.Spec.SourceRef; sr.Kind != "GitRepository" || sr.Name != repo.Name || (sr.Namespace != "" && sr.Namespace != repo.Namespace) {
		progress.Printf("Kustomization %s applies %s %s, not this repository: not waiting", repo, sr.Kind, sr.Name)
		return
	}
	revision := fmt.Sprintf("%s@sha1:%s", tracked, deployed.Hash)
	progress.Printf("applying %s", revision)
	see := "see kubectl get kustomization " + repo.Name + namespaceFlag(repo.Namespace)
	switch {
	case k.Spec.Suspend:
		progress.Printf("Kustomization %s is suspended: nothing is applied until it is resumed; %s", repo, see)
		return
	case !wait:
		progress.Printf("not waiting for the result; %s", see)
		return
	}
	waitCtx, cancel := context.WithTimeout(ctx, g.cfg.PushWait)
	defer cancel()
	// Already at this revision (the branch was moved back to it): only
	// a status that handled this request counts.
	needHandled := before.Status.LastAttemptedRevision == revision
	done, err := g.waitApplied(waitCtx, repo, kRev, revision, token, needHandled)
	switch {
	case err == nil:
		g.reportApplied(ctx, repo, done, revision, kRev, progress)
	case errors.Is(err, context.DeadlineExceeded):
		progress.Printf("not applied yet after %s; %s", shortDuration(g.cfg.PushWait), see)
	default:
		progress.Printf("error: %v; %s", err, see)
	}
}

// shortDuration spells whole seconds as "60s", not "1m0s".
func shortDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}

func namespaceFlag(ns string) string {
	if ns == metav1.NamespaceDefault {
		return ""
	}
	return " -n " + ns
}

// ensureGitRepository returns the repository's GitRepository, creating it
// to follow branch when there is none.
func (g *gitRemote) ensureGitRepository(ctx context.Context, repo gitRepo, branch string) (*flux.GitRepository, bool, error) {
	obj, _, err := g.get(ctx, flux.GitRepositoryKind, repo)
	if err == nil {
		return obj.(*flux.GitRepository), false, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return nil, false, err
	}
	gr, _ := flux.NewGitRemoteObjects(g.cfg.Dir, repo.Namespace, repo.Name, branch)
	obj, created, err := g.create(ctx, flux.GitRepositoryKind, repo, gr)
	if err != nil {
		return nil, false, err
	}
	return obj.(*flux.GitRepository), created, nil
}

// ensureKustomization returns the repository's Kustomization, creating
// one that applies the whole repository when there is none.
func (g *gitRemote) ensureKustomization(ctx context.Context, repo gitRepo) (*flux.Kustomization, bool, error) {
	obj, _, err := g.get(ctx, flux.KustomizationKind, repo)
	if err == nil {
		return obj.(*flux.Kustomization), false, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return nil, false, err
	}
	_, k := flux.NewGitRemoteObjects(g.cfg.Dir, repo.Namespace, repo.Name, "")
	obj, created, err := g.create(ctx, flux.KustomizationKind, repo, k)
	if err != nil {
		return nil, false, err
	}
	return obj.(*flux.Kustomization), created, nil
}

// create stores a new object through the server's own create path
// (defaults, admission, validation, managedFields), as bootstrap objects
// are. Should someone create it meanwhile, theirs is returned (and
// created is false).
func (g *gitRemote) create(ctx context.Context, gvk schema.GroupVersionKind, repo gitRepo, obj runtime.Object) (_ runtime.Object, created bool, _ error) {
	res := g.s.resourceByKind(gvk)
	e, err := g.s.createObject(ctx, res, repo.Namespace, obj, false)
	if errors.Is(err, storage.ErrAlreadyExists) {
		cur, _, err := g.get(ctx, gvk, repo)
		return cur, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create %s %s: %w", gvk.Kind, repo, err)
	}
	out, err := res.external(e)
	return out, err == nil, err
}

// requestReconcile sets reconcile.fluxcd.io/requestedAt on an object.
func (g *gitRemote) requestReconcile(ctx context.Context, repo gitRepo, gvk schema.GroupVersionKind, now time.Time) error {
	_, err := g.annotate(ctx, repo, gvk, now.UTC().Format(time.RFC3339Nano))
	return err
}

// annotate sets reconcile.fluxcd.io/requestedAt to token and returns the
// revision written.
func (g *gitRemote) annotate(ctx context.Context, repo gitRepo, gvk schema.GroupVersionKind, token string) (int64, error) {
	res := g.s.resourceByKind(gvk)
	e, err := g.s.guaranteedUpdate(ctx, res, repo.Namespace, repo.Name, "", false, func(cur runtime.Object, _ *storage.Entry) (runtime.Object, error) {
		m, err := apimeta.Accessor(cur)
		if err != nil {
			return nil, err
		}
		ann := m.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[reconcileRequestAnnotation] = token
		m.SetAnnotations(ann)
		return cur, nil
	})
	if err != nil {
		return 0, fmt.Errorf("request reconciliation of %s %s: %w", gvk.Kind, repo, err)
	}
	return e.Rev, nil
}

// kustomizationAttempted reports whether a Kustomization's status shows it
// attempted revision and reached a verdict (Ready True or False), and
// the Ready condition.
func kustomizationAttempted(k *flux.Kustomization, revision, token string, needHandled bool) (*metav1.Condition, bool) {
	if k.Status.LastAttemptedRevision != revision {
		return nil, false
	}
	if needHandled && k.Status.LastHandledReconcileAt != token {
		return nil, false
	}
	ready := apimeta.FindStatusCondition(k.Status.Conditions, "Ready")
	if ready == nil || ready.Status == metav1.ConditionUnknown {
		return nil, false
	}
	return ready, true
}

// waitApplied watches the Kustomization from revision rev until its
// status shows it attempted the revision, or ctx ends.
func (g *gitRemote) waitApplied(ctx context.Context, repo gitRepo, rev int64, revision, token string, needHandled bool) (*flux.Kustomization, error) {
	res := g.s.resourceByKind(flux.KustomizationKind)
	w, err := res.cache.Watch(ctx, storage.WatchOptions{
		Predicate: storage.Predicate{Namespace: repo.Namespace, Field: fields.OneTermEqualSelector("metadata.name", repo.Name)},
		Rev:       rev,
	})
	if err != nil {
		return nil, fmt.Errorf("watch Kustomization %s: %w", repo, err)
	}
	defer w.Stop()
	// The object as annotated may already answer (a controller faster
	// than this watch is impossible, but the status may have been
	// written with the request, e.g. by a test).
	if obj, _, err := g.get(ctx, flux.KustomizationKind, repo); err == nil {
		if _, ok := kustomizationAttempted(obj.(*flux.Kustomization), revision, token, needHandled); ok {
			return obj.(*flux.Kustomization), nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("watch of Kustomization %s ended", repo)
			}
			switch ev.Type {
			case watch.Deleted:
				return nil, fmt.Errorf("Kustomization %s was deleted", repo)
			case watch.Error:
				return nil, fmt.Errorf("watch Kustomization %s: %w", repo, ev.Err)
			case watch.Added, watch.Modified:
				obj, err := res.external(ev.Object)
				if err != nil {
					return nil, err
				}
				if _, ok := kustomizationAttempted(obj.(*flux.Kustomization), revision, token, needHandled); ok {
					return obj.(*flux.Kustomization), nil
				}
			}
		}
	}
}

// reportApplied prints the outcome of a revision: the Ready condition's
// message, the Kustomization's events since the push (Flux's
// kustomize-controller lists what it changed, "Deployment/default/web
// configured"), and the inventory.
//
// Events count from sinceRev, the etcd revision of the push's own
// annotation of the Kustomization: an event's timestamp has only whole
// seconds, and a push a moment after another must not report the
// other's changes.
func (g *gitRemote) reportApplied(ctx context.Context, repo gitRepo, k *flux.Kustomization, revision string, sinceRev int64, progress *pushProgress) {
	ready, _ := kustomizationAttempted(k, revision, "", false)
	if ready.Status == metav1.ConditionTrue {
		progress.Printf("applied %s: Ready", revision)
	} else {
		progress.Printf("failed to apply %s: Ready=False, %s", revision, ready.Reason)
	}
	for _, l := range strings.Split(strings.TrimSpace(ready.Message), "\n") {
		if l != "" {
			progress.Printf("  %s", l)
		}
	}
	// The controller records its events asynchronously (client-go's
	// broadcaster, one at a time, in order), so they may land just after
	// the status: give them a moment. A successful reconcile ends with
	// kustomize-controller's "Reconciliation finished" event; a failed
	// one with its error's.
	lines := g.kustomizationEvents(ctx, repo, sinceRev)
	complete := func() bool {
		if ready.Status != metav1.ConditionTrue {
			return len(lines) > 0
		}
		for _, l := range lines {
			if strings.HasPrefix(l, "Reconciliation finished") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(time.Second); !complete() && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(20 * time.Millisecond)
		lines = g.kustomizationEvents(ctx, repo, sinceRev)
	}
	if len(lines) > 0 {
		progress.Printf("events:")
		printBounded(progress, lines)
	}
	if inv := k.Status.Inventory; inv != nil {
		progress.Printf("inventory: %d objects", len(inv.Entries))
		lines := make([]string, 0, len(inv.Entries))
		for _, e := range inv.Entries {
			lines = append(lines, inventoryName(e.ID))
		}
		printBounded(progress, lines)
	}
}

func printBounded(progress *pushProgress, lines []string) {
	for i, l := range lines {
		if i == gitReportLines {
			progress.Printf("  … and %d more", len(lines)-i)
			return
		}
		progress.Printf("  %s", l)
	}
}

// inventoryName turns a Flux inventory ID, "<ns>_<name>_<group>_<kind>",
// into what kubectl and Flux's events print, "Kind/ns/name".
func inventoryName(id string) string {
	parts := strings.Split(id, "_")
	if len(parts) != 4 {
		return id
	}
	ns, name, kind := parts[0], parts[1], parts[3]
	if ns == "" {
		return kind + "/" + name
	}
	return kind + "/" + ns + "/" + name
}

// kustomizationEvents returns the message lines of the Kustomization's
// events written after etcd revision sinceRev, oldest first.
func (g *gitRemote) kustomizationEvents(ctx context.Context, repo gitRepo, sinceRev int64) []string {
	res := g.s.resourceByKind(corev1.SchemeGroupVersion.WithKind("Event"))
	entries, _, err := res.cache.List(ctx, storage.Predicate{Namespace: repo.Namespace}, storage.Freshness{})
	if err != nil {
		return nil
	}
	type line struct {
		rev  int64
		text string
	}
	var found []line
	for _, e := range entries {
		if e.Rev <= sinceRev {
			continue
		}
		obj, err := res.external(e)
		if err != nil {
			continue
		}
		ev := obj.(*corev1.Event)
		ref := ev.InvolvedObject
		if ref.Kind != flux.KustomizationKind.Kind || ref.Name != repo.Name || !strings.HasPrefix(ref.APIVersion, flux.KustomizeGroupVersion.Group+"/") {
			continue
		}
		for _, l := range strings.Split(strings.TrimSpace(ev.Message), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				found = append(found, line{e.Rev, l})
			}
		}
	}
	// In the order they were written.
	sort.SliceStable(found, func(i, j int) bool { return found[i].rev < found[j].rev })
	lines := make([]string, 0, len(found))
	for _, l := range found {
		lines = append(lines, l.text)
	}
	return lines
}
