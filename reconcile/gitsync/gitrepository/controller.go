package gitrepository

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
	"github.com/skiff-dev/skiff/reconcile/gitsync/source"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

// Name is the controller's name, as --controllers spells it.
const Name = "gitrepository"

// EventSource is the component events are reported as, Flux's.
const EventSource = "source-controller"

// MaxArtifactSize bounds the kept files of one fetch.
const MaxArtifactSize = 256 << 20

const workers = 2

// Controller reconciles GitRepositories into stored artifacts.
type Controller struct {
	client   kubernetes.Interface
	dyn      dynamic.Interface
	log      *slog.Logger
	recorder record.EventRecorder
	clock    clock.Clock
	lister   cache.GenericLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	storage  *Storage

	mu      sync.Mutex
	runCtx  context.Context
	watches map[string]*watch
}

// watch is a running source.Watch of one object's file:// source.
type watch struct {
	path   string
	cancel context.CancelFunc
}

// New builds the controller; artifacts are stored under
// <dataDir>/gitsync/artifacts.
func New(d *manager.Deps, dataDir string) (*Controller, error) {
	if d.Dynamic == nil || d.DynamicInformers == nil {
		return nil, errors.New("gitrepository: needs the dynamic client and informers")
	}
	if dataDir == "" {
		return nil, errors.New("gitrepository: no data directory for artifacts")
	}
	root, err := filepath.Abs(filepath.Join(dataDir, "gitsync", "artifacts"))
	if err != nil {
		return nil, fmt.Errorf("gitrepository: %w", err)
	}
	c := &Controller{
		client:   d.Client,
		dyn:      d.Dynamic,
		log:      d.Logger.With("controller", Name),
		recorder: d.Recorder(EventSource),
		clock:    d.Clock,
		storage:  &Storage{Root: root},
		watches:  map[string]*watch{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](500*time.Millisecond, 5*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: Name, Clock: d.Clock},
		),
	}
	inf := d.DynamicInformers.ForResource(fluxobj.GitRepositories)
	c.lister = inf.Lister()
	reg, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*unstructured.Unstructured)
			n, ok2 := cur.(*unstructured.Unstructured)
			// Our own status writes change neither generation nor
			// annotations; reacting to them would loop.
			if ok1 && ok2 && o.GetGeneration() == n.GetGeneration() &&
				fluxobj.RequestedAt(o) == fluxobj.RequestedAt(n) && n.GetDeletionTimestamp() == nil {
				return
			}
			c.enqueue(cur)
		},
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("gitrepository: register handler: %w", err)
	}
	c.synced = reg.HasSynced
	return c, nil
}

// Name is the controller's name.
func (c *Controller) Name() string { return Name }

// StorageRoot is where artifacts are stored.
func (c *Controller) StorageRoot() string { return c.storage.Root }

// Run reconciles GitRepositories until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.mu.Lock()
	c.runCtx = ctx
	c.mu.Unlock()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	c.log.Info("controller started", "storage", c.storage.Root)
	manager.RunWorkers(ctx, c.queue, workers, c.Reconcile, c.syncFailed)
	c.stopAllWatches()
	c.log.Info("controller stopped")
	return nil
}

func (c *Controller) syncFailed(_ context.Context, key string, err error) manager.Failure {
	c.log.Info("reconcile failed, will retry", "gitrepository", key, "retries", c.queue.NumRequeues(key), "err", err)
	return manager.Retry
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

// errStalled marks a failure that retrying cannot fix; the status says
// why, and the next spec change queues the object again.
var errStalled = errors.New("stalled")

// Reconcile brings one GitRepository's artifact and status up to date.
func (c *Controller) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	raw, err := c.lister.ByNamespace(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.stopWatch(key)
		if err := c.storage.remove(ns, name); err != nil {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	obj, err := fluxobj.FromUnstructured[flux.GitRepository](raw)
	if err != nil {
		return err
	}
	if obj.DeletionTimestamp != nil {
		c.stopWatch(key)
		return nil
	}
	if obj.Spec.Suspend {
		// Flux leaves a suspended object's status as it was, and does
		// not watch it.
		c.stopWatch(key)
		return nil
	}
	before := obj.Status.DeepCopy()
	start := c.clock.Now()
	err = c.reconcile(ctx, key, obj)
	c.log.Debug("reconciled", "gitrepository", key, "took", c.clock.Since(start))
	if fluxobj.StatusChanged(*before, obj.Status) {
		fluxobj.SortConditions(obj.Status.Conditions)
		if werr := fluxobj.UpdateStatus(ctx, c.dyn, fluxobj.GitRepositories, obj, flux.GitRepositoryKind); werr != nil {
			if apierrors.IsNotFound(werr) {
				return nil
			}
			return errors.Join(err, werr)
		}
	}
	// Once the new artifact is published, older ones go, but the one
	// before it stays (Flux keeps two by default): a Kustomization that
	// read the previous status a moment ago still finds its files, and
	// picks up the new revision from the status change.
	if err := c.storage.keepOnly(ns, name, artifactDirName(obj.Status.Artifact), artifactDirName(before.Artifact)); err != nil {
		c.log.Error("removing stale artifacts", "gitrepository", key, "err", err)
	}
	switch {
	case errors.Is(err, errStalled):
		return nil
	case err != nil:
		return err
	}
	c.queue.AddAfter(key, jitter(obj.Spec.Interval.Duration))
	return nil
}

// jitter adds up to 5% to an interval.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		d = time.Minute
	}
	return d + time.Duration(rand.Int64N(int64(d)/20+1))
}

// reconcile does the work and records the outcome in obj.Status; the
// caller writes it.
func (c *Controller) reconcile(ctx context.Context, key string, obj *flux.GitRepository) error {
	st := &obj.Status
	gen := obj.Generation
	if r := fluxobj.RequestedAt(obj); r != "" {
		st.LastHandledReconcileAt = r
	}
	unsupported := UnsupportedFields(&obj.Spec)
	fluxobj.SetNotSupported(&st.Conditions, gen, unsupported)
	if len(unsupported) > 0 {
		c.stopWatch(key)
		msg := "not fetched: " + fluxobj.FindCondition(st.Conditions, fluxobj.NotSupportedCondition).Message
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.ReadyCondition, metav1.ConditionFalse, fluxobj.NotSupportedReason, msg)
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.StalledCondition, metav1.ConditionTrue, fluxobj.NotSupportedReason, msg)
		fluxobj.RemoveCondition(&st.Conditions, fluxobj.ReconcilingCondition)
		st.ObservedGeneration = gen
		return errStalled
	}
	c.ensureWatch(key, obj.Spec.URL)

	fail := func(reason string, stalled bool, err error) error {
		msg := err.Error()
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.FetchFailedCondition, metav1.ConditionTrue, reason, msg)
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.ReadyCondition, metav1.ConditionFalse, reason, msg)
		if stalled {
			fluxobj.SetCondition(&st.Conditions, gen, fluxobj.StalledCondition, metav1.ConditionTrue, reason, msg)
			fluxobj.RemoveCondition(&st.Conditions, fluxobj.ReconcilingCondition)
			st.ObservedGeneration = gen
			c.recorder.Event(obj, corev1.EventTypeWarning, reason, msg)
			return fmt.Errorf("%w: %s", errStalled, msg)
		}
		fluxobj.RemoveCondition(&st.Conditions, fluxobj.StalledCondition)
		fluxobj.SetCondition(&st.Conditions, gen, fluxobj.ReconcilingCondition, metav1.ConditionTrue, fluxobj.ProgressingWithRetryReason, msg)
		c.recorder.Event(obj, corev1.EventTypeWarning, reason, msg)
		return errors.New(msg)
	}

	var secret map[string][]byte
	if ref := obj.Spec.SecretRef; ref != nil {
		s, err := c.client.CoreV1().Secrets(obj.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return fail(fluxobj.AuthenticationFailedReason, false,
				fmt.Errorf("failed to get secret '%s/%s': %w", obj.Namespace, ref.Name, err))
		}
		secret = s.Data
	}

	// A stored artifact is reused only if it is still on disk and was
	// built with the same ignore rules.
	last := ""
	if a := st.Artifact; a != nil && equalPtr(st.ObservedIgnore, obj.Spec.Ignore) {
		if dir, err := Resolve(c.storage.Root, a.Path); err == nil && exists(dir) {
			last = a.Revision
		}
	}
	tmp, err := c.storage.newFetchDir(obj.Namespace, obj.Name)
	if err != nil {
		return fail(fluxobj.StorageOperationFailedReason, false, err)
	}
	req := source.Request{
		URL: obj.Spec.URL, Ref: refOf(obj.Spec.Reference), Secret: secret, Dir: tmp,
		Ignore: obj.Spec.Ignore, MaxSize: MaxArtifactSize, LastRevision: last,
	}
	if obj.Spec.Timeout != nil {
		req.Timeout = obj.Spec.Timeout.Duration
	}
	art, err := source.Fetch(ctx, req)
	if err != nil {
		c.storage.keepOnly(obj.Namespace, obj.Name, artifactDirName(st.Artifact))
		err = fmt.Errorf("failed to checkout and determine revision: %w", err)
		var outside *source.OutsideRootError
		switch {
		case errors.Is(err, source.ErrAuth), errors.Is(err, source.ErrHostKey):
			return fail(fluxobj.AuthenticationFailedReason, false, err)
		case errors.Is(err, source.ErrInvalidRequest):
			return fail(fluxobj.URLInvalidReason, true, err)
		case errors.As(err, &outside):
			return fail(fluxobj.GitOperationFailedReason, true, err)
		}
		return fail(fluxobj.GitOperationFailedReason, false, err)
	}
	unchanged := art.Unchanged || (st.Artifact != nil && art.Digest != "" && art.Digest == st.Artifact.Digest && art.Revision == st.Artifact.Revision && last != "")
	if !unchanged {
		dirName := strings.TrimPrefix(art.Digest, "sha256:")
		dir, err := c.storage.commit(tmp, obj.Namespace, obj.Name, dirName)
		if err != nil {
			return fail(fluxobj.StorageOperationFailedReason, false, err)
		}
		size := art.Size
		st.Artifact = &flux.Artifact{
			Path:           RelPath(obj.Namespace, obj.Name, dirName),
			URL:            (&url.URL{Scheme: "file", Path: dir}).String(),
			Revision:       art.Revision,
			Digest:         art.Digest,
			LastUpdateTime: metav1.NewTime(c.clock.Now()),
			Size:           &size,
		}
		c.recorder.Eventf(obj, corev1.EventTypeNormal, "NewArtifact", "stored artifact for revision '%s'", art.Revision)
		c.log.Info("stored artifact", "gitrepository", key, "revision", art.Revision, "files", art.Files, "bytes", art.Size)
	}
	// Removes the scratch directory of an unchanged fetch. Older
	// artifacts go only once the new one is published (Reconcile).
	if unchanged {
		if err := os.RemoveAll(tmp); err != nil {
			c.log.Error("removing a scratch directory", "gitrepository", key, "err", err)
		}
	}
	st.ObservedIgnore = obj.Spec.Ignore
	msg := fmt.Sprintf("stored artifact for revision '%s'", st.Artifact.Revision)
	fluxobj.SetCondition(&st.Conditions, gen, fluxobj.ArtifactInStorageCondition, metav1.ConditionTrue, fluxobj.SucceededReason, msg)
	fluxobj.SetCondition(&st.Conditions, gen, fluxobj.ReadyCondition, metav1.ConditionTrue, fluxobj.SucceededReason, msg)
	for _, t := range []string{fluxobj.FetchFailedCondition, fluxobj.ReconcilingCondition, fluxobj.StalledCondition} {
		fluxobj.RemoveCondition(&st.Conditions, t)
	}
	st.ObservedGeneration = gen
	return nil
}

func artifactDirName(a *flux.Artifact) string {
	if a == nil {
		return ""
	}
	return filepath.Base(a.Path)
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func refOf(r *flux.GitRepositoryRef) source.Ref {
	if r == nil {
		return source.Ref{}
	}
	return source.Ref{Branch: r.Branch, Tag: r.Tag, SemVer: r.SemVer, Name: r.Name, Commit: r.Commit}
}

// UnsupportedFields lists the spec fields set that Skiff does not
// implement, by their JSON paths.
func UnsupportedFields(s *flux.GitRepositorySpec) []string {
	var out []string
	if s.Verification != nil {
		out = append(out, "spec.verify")
	}
	if len(s.Include) > 0 {
		out = append(out, "spec.include")
	}
	if s.RecurseSubmodules {
		out = append(out, "spec.recurseSubmodules")
	}
	if len(s.SparseCheckout) > 0 {
		out = append(out, "spec.sparseCheckout")
	}
	if s.ProxySecretRef != nil {
		out = append(out, "spec.proxySecretRef")
	}
	if s.Provider != "" && s.Provider != "generic" {
		out = append(out, "spec.provider ("+s.Provider+")")
	}
	if s.ServiceAccountName != "" {
		out = append(out, "spec.serviceAccountName")
	}
	slices.Sort(out)
	return out
}

// ensureWatch keeps a source.Watch running for a file:// source.
func (c *Controller) ensureWatch(key, rawURL string) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "file" {
		c.stopWatch(key)
		return
	}
	p := filepath.Clean(u.Path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.watches[key]; w != nil {
		if w.path == p {
			return
		}
		w.cancel()
		delete(c.watches, key)
	}
	parent := c.runCtx
	if parent == nil {
		parent = context.Background()
	}
	w, err := source.NewWatcher(p, func() { c.queue.Add(key) })
	if err != nil {
		// The fetch reports a missing path; the interval is the fallback
		// when only the watch failed (inotify limits).
		c.log.Info("cannot watch local source, relying on the interval", "gitrepository", key, "path", p, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(parent)
	mine := &watch{path: p, cancel: cancel}
	c.watches[key] = mine
	go func() {
		err := w.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		// The watched root went away (or the watch failed): forget it so
		// the next reconcile starts a new one, and reconcile now, since
		// the source changed.
		c.log.Info("watch of local source ended", "gitrepository", key, "err", err)
		c.mu.Lock()
		if c.watches[key] == mine {
			delete(c.watches, key)
		}
		c.mu.Unlock()
		cancel()
		c.queue.Add(key)
	}()
}

func (c *Controller) stopWatch(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.watches[key]; w != nil {
		w.cancel()
		delete(c.watches, key)
	}
}

func (c *Controller) stopAllWatches() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, w := range c.watches {
		w.cancel()
		delete(c.watches, k)
	}
}
