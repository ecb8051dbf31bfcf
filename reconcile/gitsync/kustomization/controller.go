package kustomization

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
	"github.com/skiff-dev/skiff/reconcile/gitsync/gitrepository"
	"github.com/skiff-dev/skiff/reconcile/gitsync/render"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

// Name is the controller's name, as --controllers spells it.
const Name = "kustomization"

// EventSource is the component events are reported as, Flux's.
const EventSource = "kustomize-controller"

// Finalizer is Flux's: it lets a deleted Kustomization prune first.
const Finalizer = "finalizers.fluxcd.io"

// Index names on the Kustomization informer.
const (
	bySource    = "gitsync.source"
	byDependsOn = "gitsync.dependsOn"
)

// workers: health checks block a worker up to spec.timeout.
const workers = 4

// Controller reconciles Kustomizations.
type Controller struct {
	dyn         dynamic.Interface
	log         *slog.Logger
	recorder    record.EventRecorder
	clock       clock.Clock
	kustomize   cache.SharedIndexInformer
	sources     cache.GenericLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	applier     *applier
	storageRoot string
	// applied is each Kustomization's last applied revision, which a
	// resync of the same inputs checks for drift instead of rendering
	// and dry-running it again.
	applied appliedCache
}

// New builds the controller; artifacts are read from
// <dataDir>/gitsync/artifacts, where the gitrepository controller stores
// them.
func New(d *manager.Deps, dataDir string) (*Controller, error) {
	if d.Dynamic == nil || d.DynamicInformers == nil {
		return nil, errors.New("kustomization: needs the dynamic client and informers")
	}
	if dataDir == "" {
		return nil, errors.New("kustomization: no data directory to read artifacts from")
	}
	root, err := filepath.Abs(filepath.Join(dataDir, "gitsync", "artifacts"))
	if err != nil {
		return nil, fmt.Errorf("kustomization: %w", err)
	}
	c := &Controller{
		dyn:         d.Dynamic,
		log:         d.Logger.With("controller", Name),
		recorder:    d.Recorder(EventSource),
		clock:       d.Clock,
		storageRoot: root,
		applier: &applier{dyn: d.Dynamic,
			mapper:   restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(d.Client.Discovery())),
			versions: metadataLister(d.Client.CoreV1().RESTClient())},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](500*time.Millisecond, 5*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: Name, Clock: d.Clock},
		),
	}
	kinf := d.DynamicInformers.ForResource(fluxobj.Kustomizations).Informer()
	if err := kinf.AddIndexers(cache.Indexers{bySource: sourceIndex, byDependsOn: dependsOnIndex}); err != nil {
		return nil, fmt.Errorf("kustomization: add indexers: %w", err)
	}
	c.kustomize = kinf
	kreg, err := kinf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueue(obj); c.enqueueDependents(obj) },
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*unstructured.Unstructured)
			n, ok2 := cur.(*unstructured.Unstructured)
			if !ok1 || !ok2 {
				return
			}
			if o.GetGeneration() != n.GetGeneration() || fluxobj.RequestedAt(o) != fluxobj.RequestedAt(n) ||
				n.GetDeletionTimestamp() != nil {
				c.enqueue(cur)
			}
			// A dependency's status change may unblock its dependents.
			if readiness(o) != readiness(n) {
				c.enqueueDependents(cur)
			}
		},
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("kustomization: register handler: %w", err)
	}
	ginf := d.DynamicInformers.ForResource(fluxobj.GitRepositories)
	c.sources = ginf.Lister()
	greg, err := ginf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueForSource,
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*unstructured.Unstructured)
			n, ok2 := cur.(*unstructured.Unstructured)
			if ok1 && ok2 && artifactRevision(o) == artifactRevision(n) {
				return
			}
			c.enqueueForSource(cur)
		},
		DeleteFunc: c.enqueueForSource,
	})
	if err != nil {
		return nil, fmt.Errorf("kustomization: register source handler: %w", err)
	}
	c.synced = []cache.InformerSynced{kreg.HasSynced, greg.HasSynced}
	return c, nil
}

// Name is the controller's name.
func (c *Controller) Name() string { return Name }

// Run reconciles Kustomizations until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Info("controller started")
	manager.RunWorkers(ctx, c.queue, workers, c.Reconcile, c.syncFailed)
	c.log.Info("controller stopped")
	return nil
}

func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	c.log.Info("reconcile failed, will retry", "kustomization", key, "retries", c.queue.NumRequeues(key), "err", err)
	return manager.Retry
}

func sourceIndex(obj any) ([]string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "namespace")
	if ns == "" {
		ns = u.GetNamespace()
	}
	return []string{kind + "/" + ns + "/" + name}, nil
}

func dependsOnIndex(obj any) ([]string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "dependsOn")
	var out []string
	for _, d := range deps {
		m, _ := d.(map[string]any)
		name, _ := m["name"].(string)
		ns, _ := m["namespace"].(string)
		if ns == "" {
			ns = u.GetNamespace()
		}
		out = append(out, ns+"/"+name)
	}
	return out, nil
}

// readiness summarises what dependents look at.
func readiness(u *unstructured.Unstructured) string {
	rev, _, _ := unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	ready := ""
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, cd := range conds {
		if m, ok := cd.(map[string]any); ok && m["type"] == fluxobj.ReadyCondition {
			ready, _ = m["status"].(string)
		}
	}
	return fmt.Sprintf("%s|%s|%d|%d", ready, rev, og, u.GetGeneration())
}

func artifactRevision(u *unstructured.Unstructured) string {
	rev, _, _ := unstructured.NestedString(u.Object, "status", "artifact", "revision")
	path, _, _ := unstructured.NestedString(u.Object, "status", "artifact", "path")
	return rev + "|" + path
}

func (c *Controller) enqueue(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		c.queue.Add(tomb.Key)
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueIndexed(index, value string) {
	objs, err := c.kustomize.GetIndexer().ByIndex(index, value)
	if err != nil {
		return
	}
	for _, o := range objs {
		c.enqueue(o)
	}
}

func (c *Controller) enqueueDependents(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.enqueueIndexed(byDependsOn, key)
	}
}

func (c *Controller) enqueueForSource(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	c.enqueueIndexed(bySource, "GitRepository/"+u.GetNamespace()+"/"+u.GetName())
}

// result is how a reconcile ends: requeue after (0: not at all), or err
// for the rate-limited retry of a write that failed.
type result struct {
	after time.Duration
	err   error
}

// Reconcile brings one Kustomization's objects and status up to date.
func (c *Controller) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	raw, exists, err := c.kustomize.GetIndexer().GetByKey(key)
	if err != nil {
		return err
	}
	if !exists {
		c.applied.forget(key)
		return nil
	}
	obj, err := fluxobj.FromUnstructured[flux.Kustomization](raw)
	if err != nil {
		return err
	}
	if obj.DeletionTimestamp != nil {
		c.applied.forget(key)
		return c.finalize(ctx, obj)
	}
	if !slices.Contains(obj.Finalizers, Finalizer) {
		if obj, err = c.addFinalizer(ctx, obj); err != nil {
			return err
		}
	}
	if obj.Spec.Suspend {
		return nil
	}
	before := obj.Status.DeepCopy()
	start := c.clock.Now()
	res := c.reconcile(ctx, key, obj)
	c.log.Debug("reconciled", "kustomization", key, "took", c.clock.Since(start))
	if fluxobj.StatusChanged(*before, obj.Status) {
		if err := c.writeStatus(ctx, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return errors.Join(res.err, err)
		}
	}
	if res.err != nil {
		return res.err
	}
	if res.after > 0 {
		c.queue.AddAfter(ns+"/"+name, res.after)
	}
	return nil
}

func (c *Controller) writeStatus(ctx context.Context, obj *flux.Kustomization) error {
	fluxobj.SortConditions(obj.Status.Conditions)
	return fluxobj.UpdateStatus(ctx, c.dyn, fluxobj.Kustomizations, obj, flux.KustomizationKind)
}

func (c *Controller) addFinalizer(ctx context.Context, obj *flux.Kustomization) (*flux.Kustomization, error) {
	patch := fmt.Sprintf(`{"metadata":{"finalizers":%s,"resourceVersion":%q}}`,
		jsonList(append(slices.Clone(obj.Finalizers), Finalizer)), obj.ResourceVersion)
	u, err := c.dyn.Resource(fluxobj.Kustomizations).Namespace(obj.Namespace).Patch(ctx, obj.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return nil, fmt.Errorf("add finalizer to kustomization %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	return fluxobj.FromUnstructured[flux.Kustomization](u)
}

func jsonList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// finalize prunes a deleted Kustomization's objects when its policy says
// so, then lets it go.
func (c *Controller) finalize(ctx context.Context, obj *flux.Kustomization) error {
	if !slices.Contains(obj.Finalizers, Finalizer) {
		return nil
	}
	policy := obj.Spec.DeletionPolicy
	prune := (policy == "" || policy == "MirrorPrune" || policy == "WaitForTermination") && obj.Spec.Prune || policy == "Delete"
	if prune && !obj.Spec.Suspend && obj.Status.Inventory != nil {
		gone, err := render.Diff(fluxobj.RenderInventory(obj.Status.Inventory), nil)
		if err != nil {
			return err
		}
		lines, err := c.applier.prune(ctx, gone, fluxobj.OwnerLabels(obj))
		if len(lines) > 0 {
			c.recorder.Event(obj, corev1.EventTypeNormal, fluxobj.ProgressingReason, strings.Join(lines, "\n"))
		}
		if err != nil {
			return fmt.Errorf("prune objects of deleted kustomization %s/%s: %w", obj.Namespace, obj.Name, err)
		}
	}
	fins := slices.DeleteFunc(slices.Clone(obj.Finalizers), func(f string) bool { return f == Finalizer })
	patch := fmt.Sprintf(`{"metadata":{"finalizers":%s,"resourceVersion":%q}}`, jsonList(fins), obj.ResourceVersion)
	_, err := c.dyn.Resource(fluxobj.Kustomizations).Namespace(obj.Namespace).Patch(ctx, obj.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer of kustomization %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	return nil
}

func fromRender(inv *render.ResourceInventory) *flux.ResourceInventory {
	out := &flux.ResourceInventory{Entries: []flux.ResourceRef{}}
	for _, e := range inv.Entries {
		out.Entries = append(out.Entries, flux.ResourceRef{ID: e.ID, Version: e.Version})
	}
	return out
}

func jittered(d time.Duration) time.Duration {
	if d <= 0 {
		d = 10 * time.Minute
	}
	return d + time.Duration(rand.Int64N(int64(d)/20+1))
}

// source returns a Kustomization's GitRepository from the informer's
// cache or, for a reconcile someone asked for (kubectl skiff sync, flux
// reconcile), from the API server: the asker has just waited for the
// source's new artifact, which the cache may not hold yet, and the request
// would be marked handled with the previous revision applied.
func (c *Controller) source(ctx context.Context, namespace, name string, requested bool) (any, error) {
	if requested {
		return c.dyn.Resource(fluxobj.GitRepositories).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	}
	return c.sources.ByNamespace(namespace).Get(name)
}

// reconcile does the work and records it in obj.Status.
func (c *Controller) reconcile(ctx context.Context, key string, obj *flux.Kustomization) result {
	start := c.clock.Now()
	st := &obj.Status
	gen := obj.Generation
	interval := obj.Spec.Interval.Duration
	retry := interval
	if obj.Spec.RetryInterval != nil && obj.Spec.RetryInterval.Duration > 0 {
		retry = obj.Spec.RetryInterval.Duration
	}
	timeout := interval
	if obj.Spec.Timeout != nil && obj.Spec.Timeout.Duration > 0 {
		timeout = obj.Spec.Timeout.Duration
	}
	requested := false
	if r := fluxobj.RequestedAt(obj); r != "" {
		requested = r != st.LastHandledReconcileAt
		st.LastHandledReconcileAt = r
	}
	setReady := func(status metav1.ConditionStatus, reason, msg string) {
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.ReadyCondition, status, reason, msg)
	}
	// fail records a failure that is retried at retryInterval.
	fail := func(reason, msg string) result {
		c.applied.forget(key)
		setReady(metav1.ConditionFalse, reason, msg)
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.ReconcilingCondition, metav1.ConditionTrue, fluxobj.ProgressingWithRetryReason, msg)
		fluxobj.RemoveCondition(&st.Conditions, fluxobj.StalledCondition)
		st.ObservedGeneration = gen
		c.recorder.Event(obj, corev1.EventTypeWarning, reason, msg)
		c.log.Info("reconcile failed", "kustomization", key, "reason", reason, "err", msg)
		return result{after: retry}
	}

	blocking, reported := UnsupportedFields(&obj.Spec)
	fluxobj.SetNotSupported(&st.Conditions, gen, append(blocking, reported...))
	if len(blocking) > 0 {
		msg := "nothing applied: fields not supported by Skiff: " + strings.Join(blocking, ", ")
		setReady(metav1.ConditionFalse, fluxobj.NotSupportedReason, msg)
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.StalledCondition, metav1.ConditionTrue, fluxobj.NotSupportedReason, msg)
		fluxobj.RemoveCondition(&st.Conditions, fluxobj.ReconcilingCondition)
		st.ObservedGeneration = gen
		c.applied.forget(key)
		return result{}
	}

	if msg := c.dependenciesNotReady(obj); msg != "" {
		return fail(fluxobj.DependencyNotReadyReason,
			fmt.Sprintf("Dependencies do not meet ready condition (%s), retrying in %s", msg, retry))
	}

	// The source and its artifact.
	srcNS := obj.Spec.SourceRef.Namespace
	if srcNS == "" {
		srcNS = obj.Namespace
	}
	srcName := fmt.Sprintf("GitRepository/%s/%s", srcNS, obj.Spec.SourceRef.Name)
	rawSrc, err := c.source(ctx, srcNS, obj.Spec.SourceRef.Name, requested)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return fail(fluxobj.ArtifactFailedReason, fmt.Sprintf("Source '%s' not found", srcName))
		}
		return result{err: err}
	}
	src, err := fluxobj.FromUnstructured[flux.GitRepository](rawSrc)
	if err != nil {
		return result{err: err}
	}
	art := src.Status.Artifact
	if art == nil {
		return fail(fluxobj.ArtifactFailedReason, fmt.Sprintf("Source '%s' is not ready, artifact not found", srcName))
	}
	dir, err := gitrepository.Resolve(c.storageRoot, art.Path)
	if err != nil {
		return fail(fluxobj.ArtifactFailedReason, fmt.Sprintf("Source '%s': %v", srcName, err))
	}
	revision := art.Revision
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		// The source replaced this artifact after the cache was read;
		// its status update queues this Kustomization again.
		return fail(fluxobj.ArtifactFailedReason, fmt.Sprintf("Source '%s': artifact for revision '%s' not found in storage", srcName, revision))
	}

	// Show that a new revision or spec is being worked on, so nobody
	// mistakes the previous Ready=True for this one's.
	if st.LastAttemptedRevision != revision || st.ObservedGeneration != gen ||
		fluxobj.FindCondition(st.Conditions, fluxobj.ReadyCondition) == nil {
		msg := fmt.Sprintf("Reconciliation in progress for revision '%s'", revision)
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.ReconcilingCondition, metav1.ConditionTrue, fluxobj.ProgressingReason, msg)
		setReady(metav1.ConditionUnknown, fluxobj.ProgressingReason, msg)
		if err := c.writeStatus(ctx, obj); err != nil {
			return result{err: err}
		}
	}
	st.LastAttemptedRevision = revision

	// The objects of this revision: rendered, or, when the inputs are
	// those of the revision last applied, that one's, judged against the
	// live objects instead of dry-run one by one.
	inputs := renderInputs{uid: obj.UID, generation: gen, artifactPath: art.Path, revision: revision, digest: art.Digest}
	// phases times each step, for the debug log: where a slow sync spends.
	phases, mark := []any{}, c.clock.Now()
	phase := func(name string) {
		now := c.clock.Now()
		phases = append(phases, name, now.Sub(mark).Round(time.Millisecond).String())
		mark = now
	}
	var (
		items   []*item
		objects []*unstructured.Unstructured
		// live holds the resourceVersions the drift check saw, for the
		// health check.
		live          map[*item]string
		newNamespaces = map[string]bool{}
	)
	if prev := c.applied.lookup(key, inputs); prev != nil {
		items, objects = prev.items, prev.objects
		for _, it := range items {
			it.reset()
		}
		live = c.applier.checkDrift(ctx, items, fluxobj.OwnerLabels(obj))
		phase("driftCheck")
	} else {
		c.applied.forget(key)
		var err error
		if items, objects, err = c.renderItems(ctx, obj, dir); err != nil {
			return fail(fluxobj.BuildFailedReason, fmt.Sprintf("kustomize build failed for revision '%s': %v", revision, err))
		}
		phase("render")
	}
	for _, it := range items {
		if it.obj.GetKind() == "Namespace" && it.obj.GroupVersionKind().Group == "" {
			newNamespaces[it.obj.GetName()] = true
		}
	}

	// Validate the whole revision before anything is applied: every
	// object the drift check did not find unchanged is dry-run.
	var pending []*item
	for _, it := range items {
		if it.action == "" {
			pending = append(pending, it)
		}
	}
	if len(pending) > 0 {
		var errs []error
		for _, it := range pending {
			if it.gvr.Resource == "" {
				if err := c.applier.resolve(it); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if len(errs) == 0 {
			if err := c.applier.dryRunAll(ctx, pending, obj.Spec.Force, newNamespaces); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return fail(fluxobj.ReconciliationFailed, fmt.Sprintf("validation failed for revision '%s', nothing applied: %v", revision, err))
		}
		phase("dryRun")
	}

	// Apply, stage by stage.
	byObj := map[*unstructured.Unstructured]*item{}
	for _, it := range items {
		byObj[it.obj] = it
	}
	var changes []string
	stages := render.Stages(objects)
	for si, stage := range stages {
		var staged []*item
		for _, o := range stage {
			staged = append(staged, byObj[o])
		}
		var deferred []*item
		for _, it := range staged {
			if it.deferred {
				deferred = append(deferred, it)
			}
		}
		if len(deferred) > 0 {
			for _, it := range deferred {
				it.deferred = false
			}
			if err := c.applier.dryRunAll(ctx, deferred, obj.Spec.Force, nil); err != nil {
				return fail(fluxobj.ReconciliationFailed, fmt.Sprintf("validation failed for revision '%s': %v", revision, err))
			}
		}
		var toApply []*item
		for _, it := range staged {
			if it.action != Unchanged {
				toApply = append(toApply, it)
			}
		}
		if err := c.applier.applyAll(ctx, toApply, timeout); err != nil {
			return fail(fluxobj.ReconciliationFailed, fmt.Sprintf("apply failed for revision '%s': %v", revision, err))
		}
		for _, it := range toApply {
			delete(live, it)
			changes = append(changes, ref(it.obj)+" "+it.action)
		}
		applied := len(toApply) > 0
		// Definitions found unchanged are there already; only what was
		// just applied is waited for.
		if render.Stage(si) != render.StageResources && applied {
			if err := c.applier.waitPresent(ctx, staged, timeout); err != nil {
				return fail(fluxobj.ReconciliationFailed, fmt.Sprintf("waiting for %s of revision '%s': %v", render.Stage(si), revision, err))
			}
		}
	}
	phase("apply")
	newInv := render.Inventory(objects)

	// Prune what left the revision.
	if obj.Spec.Prune {
		gone, err := render.Diff(fluxobj.RenderInventory(st.Inventory), newInv)
		if err != nil {
			return fail(fluxobj.PruneFailedReason, err.Error())
		}
		lines, err := c.applier.prune(ctx, gone, fluxobj.OwnerLabels(obj))
		changes = append(changes, lines...)
		if err != nil {
			st.Inventory = fromRender(newInv)
			return fail(fluxobj.PruneFailedReason, fmt.Sprintf("prune failed for revision '%s': %v", revision, err))
		}
	}
	st.Inventory = fromRender(newInv)
	if len(changes) > 0 {
		c.recorder.AnnotatedEventf(obj, map[string]string{"kustomize.toolkit.fluxcd.io/revision": revision},
			corev1.EventTypeNormal, fluxobj.ProgressingReason, "%s", strings.Join(changes, "\n"))
		c.log.Info("applied", "kustomization", key, "revision", revision, "changes", len(changes))
	}

	phase("prune")

	// Health.
	checks := c.healthTargets(obj, items)
	if len(checks) == 0 {
		fluxobj.RemoveCondition(&st.Conditions, fluxobj.HealthyCondition)
	} else {
		hstart := c.clock.Now()
		if err := c.waitHealthy(ctx, checks, timeout, live); err != nil {
			msg := fmt.Sprintf("health check failed after %s: %v", c.clock.Since(hstart).Round(time.Millisecond), err)
			fluxobj.SetCondition(&st.Conditions, gen, fluxobj.HealthyCondition, metav1.ConditionFalse, fluxobj.HealthCheckFailedReason, msg)
			return fail(fluxobj.HealthCheckFailedReason, msg)
		}
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.HealthyCondition, metav1.ConditionTrue, fluxobj.SucceededReason,
			"Health check passed")
	}
	phase("health")
	c.log.Debug("revision reconciled", append([]any{"kustomization", key, "revision", revision, "objects", len(items), "changes", len(changes)}, phases...)...)

	st.LastAppliedRevision = revision
	st.ObservedGeneration = gen
	c.applied.store(key, &appliedRevision{inputs: inputs, objects: objects, items: items})
	setReady(metav1.ConditionTrue, fluxobj.ReconciliationSucceeded, "Applied revision: "+revision)
	fluxobj.RemoveCondition(&st.Conditions, fluxobj.ReconcilingCondition)
	fluxobj.RemoveCondition(&st.Conditions, fluxobj.StalledCondition)
	if len(changes) > 0 {
		c.recorder.Eventf(obj, corev1.EventTypeNormal, fluxobj.ReconciliationSucceeded,
			"Reconciliation finished in %s, next run in %s", c.clock.Since(start).Round(time.Millisecond), obj.Spec.Interval.String())
	}
	return result{after: jittered(interval)}
}

// dependenciesNotReady names the first dependency that is not ready, ""
// when all are.
func (c *Controller) dependenciesNotReady(obj *flux.Kustomization) string {
	for _, d := range obj.Spec.DependsOn {
		ns := d.Namespace
		if ns == "" {
			ns = obj.Namespace
		}
		name := ns + "/" + d.Name
		raw, exists, err := c.kustomize.GetIndexer().GetByKey(name)
		if err != nil || !exists {
			return fmt.Sprintf("dependency '%s' not found", name)
		}
		dep, err := fluxobj.FromUnstructured[flux.Kustomization](raw)
		if err != nil {
			return fmt.Sprintf("dependency '%s': %v", name, err)
		}
		ready := fluxobj.FindCondition(dep.Status.Conditions, fluxobj.ReadyCondition)
		// As Flux: a suspended dependency that is Ready counts as ready.
		if ready == nil || ready.Status != metav1.ConditionTrue || dep.Status.ObservedGeneration != dep.Generation {
			return fmt.Sprintf("dependency '%s' is not ready", name)
		}
		// With the same source, the dependency must have applied the
		// revision this one is about to.
		sameSrc := dep.Spec.SourceRef.Kind == obj.Spec.SourceRef.Kind && dep.Spec.SourceRef.Name == obj.Spec.SourceRef.Name &&
			orDefault(dep.Spec.SourceRef.Namespace, dep.Namespace) == orDefault(obj.Spec.SourceRef.Namespace, obj.Namespace)
		if sameSrc {
			if raw, err := c.sources.ByNamespace(orDefault(obj.Spec.SourceRef.Namespace, obj.Namespace)).Get(obj.Spec.SourceRef.Name); err == nil {
				if src, err := fluxobj.FromUnstructured[flux.GitRepository](raw); err == nil && src.Status.Artifact != nil &&
					src.Status.Artifact.Revision != dep.Status.LastAppliedRevision {
					return fmt.Sprintf("dependency '%s' is not ready at revision '%s'", name, src.Status.Artifact.Revision)
				}
			}
		}
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// healthTargets are the objects to wait for: every applied one with
// spec.wait, else spec.healthChecks.
func (c *Controller) healthTargets(obj *flux.Kustomization, items []*item) []*item {
	if obj.Spec.Wait {
		return items
	}
	var out []*item
	for _, h := range obj.Spec.HealthChecks {
		u := &unstructured.Unstructured{}
		av := h.APIVersion
		if av == "" {
			av = "v1"
		}
		u.SetAPIVersion(av)
		u.SetKind(h.Kind)
		u.SetName(h.Name)
		u.SetNamespace(orDefault(h.Namespace, obj.Namespace))
		out = append(out, &item{obj: u})
	}
	return out
}

// waitHealthy polls the targets until all are Current, one is Failed, or
// the timeout passes. A target the drift check saw (seen) at the
// resourceVersion it was last found Current at is Current without a GET:
// kstatus reads only the object itself, which has not changed.
func (c *Controller) waitHealthy(ctx context.Context, targets []*item, timeout time.Duration, seen map[*item]string) error {
	for _, it := range targets {
		if it.gvr.Resource == "" {
			if err := c.applier.resolve(it); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	pending := slices.Clone(targets)
	// why holds each pending object's last observed state, as Flux
	// reports it: "Kind/ns/name status: 'InProgress'".
	why := map[*item]string{}
	for {
		var still []*item
		for _, it := range pending {
			if rv := seen[it]; rv != "" && rv == it.healthyRV {
				continue
			}
			live, err := c.applier.client(it).Get(ctx, it.obj.GetName(), metav1.GetOptions{})
			switch {
			case err != nil && ctx.Err() != nil:
				// Cut short by the deadline: keep what was last seen.
				still = append(still, it)
				continue
			case apierrors.IsNotFound(err):
				why[it] = "status: 'NotFound'"
				still = append(still, it)
				continue
			case err != nil:
				why[it] = "status: 'Unknown' (" + apiMessage(err) + ")"
				still = append(still, it)
				continue
			}
			h, msg := Status(live)
			switch h {
			case Failed:
				return fmt.Errorf("%s status: 'Failed' (%s)", ref(it.obj), msg)
			case InProgress:
				why[it] = "status: 'InProgress' (" + msg + ")"
				still = append(still, it)
			default:
				it.healthyRV = live.GetResourceVersion()
			}
		}
		if len(still) == 0 {
			return nil
		}
		pending = still
		select {
		case <-ctx.Done():
			var parts []string
			for _, it := range pending {
				parts = append(parts, ref(it.obj)+" "+why[it])
			}
			return fmt.Errorf("timeout waiting for: [%s]", strings.Join(parts, ", "))
		case <-tick.C:
		}
	}
}

// renderItems renders the artifact in dir for obj and labels every
// object as obj's.
func (c *Controller) renderItems(ctx context.Context, obj *flux.Kustomization, dir string) ([]*item, []*unstructured.Unstructured, error) {
	rendered, err := render.Render(ctx, fluxobj.RenderOptions(dir, &obj.Spec))
	if err != nil {
		return nil, nil, err
	}
	items := make([]*item, len(rendered.Objects))
	for i, o := range rendered.Objects {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range fluxobj.OwnerLabels(obj) {
			labels[k] = v
		}
		o.SetLabels(labels)
		items[i] = &item{obj: o, src: rendered.Sources[i]}
	}
	return items, rendered.Objects, nil
}
