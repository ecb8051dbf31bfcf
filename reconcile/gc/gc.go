package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"

	"github.com/skiff-dev/skiff/reconcile/manager"
)

const (
	// resyncPeriod is how often discovery is asked for new resource
	// types, as kube-controller-manager's garbage collector does.
	resyncPeriod = 30 * time.Second
	// initialSyncTimeout bounds the wait for the first full view of the
	// cluster; past it the collector proceeds anyway (every decision is
	// checked with live reads), as upstream does.
	initialSyncTimeout = 30 * time.Second
	workers            = 5
	// absentCacheSize bounds the memory of owners known to be gone.
	absentCacheSize = 1000
)

// Controller is the garbage collector.
type Controller struct {
	log       *slog.Logger
	md        metadata.Interface
	disc      Discovery
	informers metadatainformer.SharedInformerFactory
	clock     clock.WithTicker
	queue     workqueue.TypedRateLimitingInterface[types.UID]
	// absent remembers owners known to be gone (informer deletions and
	// live reads that found nothing), so the dependents of one deleted
	// owner do not each read it again. A UID is never reused, so an
	// entry never goes stale.
	absent *lru.Cache

	mu    sync.Mutex // guards graph
	graph *graph

	rmu sync.RWMutex // guards res
	res resources

	mmu      sync.Mutex // guards monitors
	monitors map[schema.GroupVersionResource]*monitor

	resync, initialSync time.Duration
	workers             int
}

// monitor is the collector's handler on one resource's informer.
type monitor struct {
	info     resourceInfo
	informer cache.SharedIndexInformer
	reg      cache.ResourceEventHandlerRegistration
}

// absentKey names an owner known to be gone. The version is left out:
// an object is the same in every version of its group.
type absentKey struct {
	group, kind, namespace, name string
	uid                          types.UID
}

// New builds the collector. Its informers are registered by Run, not
// here: which resources to watch is discovery's answer, asked again
// every resyncPeriod so new types are collected too.
func New(d *manager.Deps) (*Controller, error) {
	return newController(d.Metadata, d.Client.Discovery(), d.MetadataInformers, d.Logger, d.Clock), nil
}

func newController(md metadata.Interface, disc Discovery, inf metadatainformer.SharedInformerFactory, log *slog.Logger, clk clock.WithTicker) *Controller {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{
		log:       log.With("controller", "garbagecollector"),
		md:        md,
		disc:      disc,
		informers: inf,
		clock:     clk,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbagecollector"}),
		absent:      lru.New(absentCacheSize),
		graph:       newGraph(),
		monitors:    map[schema.GroupVersionResource]*monitor{},
		resync:      resyncPeriod,
		initialSync: initialSyncTimeout,
		workers:     workers,
	}
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "garbagecollector" }

// Run watches every deletable resource and collects garbage until ctx
// ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	for {
		err := c.syncMonitors(ctx)
		if err == nil {
			break
		}
		c.log.Error("discovery failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-c.clock.After(time.Second):
		}
	}
	syncCtx, cancel := context.WithTimeout(ctx, c.initialSync)
	if cache.WaitForCacheSync(syncCtx.Done(), c.graphSynced) {
		c.log.Info("dependency graph synced", "resources", c.monitorCount())
	} else if ctx.Err() == nil {
		c.log.Warn("not every resource's informer synced in time; proceeding", "timeout", c.initialSync)
	}
	cancel()
	if ctx.Err() != nil {
		return nil
	}

	t := c.clock.NewTicker(c.resync)
	defer t.Stop()
	var wg sync.WaitGroup
	wg.Go(func() { c.rediscover(ctx, t.C()) })
	manager.RunWorkers(ctx, c.queue, c.workers, c.Reconcile, c.collectFailed)
	wg.Wait()
	return nil
}

// rediscover asks discovery for new resource types at every tick until
// ctx ends.
func (c *Controller) rediscover(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			if err := c.syncMonitors(ctx); err != nil {
				c.log.Error("discovery failed; keeping the current watches", "err", err)
			}
		}
	}
}

// errNotObserved: a virtual owner exists but no informer has shown it
// yet; checked again with backoff until one does (or it goes).
var errNotObserved = errors.New("owner exists but has not been observed yet")

// collectFailed retries an object with back-off whatever failed.
func (c *Controller) collectFailed(ctx context.Context, uid types.UID, err error) manager.Failure {
	switch {
	case errors.Is(err, errNotObserved):
		// Expected: checked again until an informer shows the owner.
	case apierrors.IsConflict(err):
		// The object changed since it was read (a precondition
		// failed): it is simply judged again.
		c.log.Debug("object changed while being collected; retrying", "uid", uid, "err", err)
	case ctx.Err() == nil:
		c.log.Warn("garbage collection failed; will retry", "uid", uid, "err", err)
	}
	return manager.Retry
}

// syncMonitors asks discovery for the resources to watch and starts or
// drops watches to match.
func (c *Controller) syncMonitors(ctx context.Context) error {
	lists, err := c.disc.ServerPreferredResources()
	failed, partial := discovery.GroupDiscoveryFailedErrorGroups(err)
	if err != nil && !partial {
		return fmt.Errorf("discover resources: %w", err)
	}
	rs := parseResources(lists)
	if partial {
		c.log.Warn("discovery failed for some groups; keeping what was known of them", "err", err)
		rs = rs.merge(c.resources(), failed)
	}
	if len(rs.watched) == 0 {
		return errors.New("discovery listed no resource that supports list, watch and delete")
	}
	c.rmu.Lock()
	c.res = rs
	c.rmu.Unlock()

	c.mmu.Lock()
	defer c.mmu.Unlock()
	var added, removed []string
	for gvr, info := range rs.watched {
		if _, ok := c.monitors[gvr]; ok {
			continue
		}
		inf := c.informers.ForResource(gvr).Informer()
		reg, err := inf.AddEventHandler(c.handlers(info))
		if err != nil {
			return fmt.Errorf("watch %s: %w", gvr, err)
		}
		c.monitors[gvr] = &monitor{info: info, informer: inf, reg: reg}
		added = append(added, gvr.String())
	}
	for gvr, m := range c.monitors {
		if _, ok := rs.watched[gvr]; ok {
			continue
		}
		// The shared informer cannot be stopped alone; dropping the
		// handler is what stops the collector from acting on it.
		_ = m.informer.RemoveEventHandler(m.reg)
		delete(c.monitors, gvr)
		removed = append(removed, gvr.String())
	}
	if len(added) > 0 {
		c.informers.Start(ctx.Done())
	}
	if len(added)+len(removed) > 0 {
		slices.Sort(added)
		slices.Sort(removed)
		c.log.Info("watching resources", "added", added, "removed", removed, "total", len(c.monitors))
	}
	return nil
}

func (c *Controller) resources() resources {
	c.rmu.RLock()
	defer c.rmu.RUnlock()
	return c.res
}

func (c *Controller) graphSynced() bool {
	c.mmu.Lock()
	defer c.mmu.Unlock()
	for _, m := range c.monitors {
		if !m.reg.HasSynced() {
			return false
		}
	}
	return true
}

func (c *Controller) monitorCount() int {
	c.mmu.Lock()
	defer c.mmu.Unlock()
	return len(c.monitors)
}

func (c *Controller) handlers(info resourceInfo) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.onUpsert(info, obj) },
		UpdateFunc: func(_, obj any) { c.onUpsert(info, obj) },
		DeleteFunc: func(obj any) { c.onDelete(info, obj) },
	}
}

func (c *Controller) onUpsert(info resourceInfo, obj any) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	o := observation{
		ref:        objectRef{APIVersion: info.gvk.GroupVersion().String(), Kind: info.gvk.Kind, Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID()},
		gvr:        info.gvr,
		owners:     m.GetOwnerReferences(),
		deleting:   m.GetDeletionTimestamp() != nil,
		finalizers: m.GetFinalizers(),
	}
	c.mu.Lock()
	uids := c.graph.observe(o)
	c.mu.Unlock()
	for _, u := range uids {
		c.queue.Add(u)
	}
}

func (c *Controller) onDelete(info resourceInfo, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	c.absent.Add(absentKey{group: info.gvk.Group, kind: info.gvk.Kind, namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUID()}, struct{}{})
	c.mu.Lock()
	uids := c.graph.remove(m.GetUID())
	c.mu.Unlock()
	for _, u := range uids {
		c.queue.Add(u)
	}
}
