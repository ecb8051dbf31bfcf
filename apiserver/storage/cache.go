package storage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/btree"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Cache holds the current objects of one resource and its recent history.
// It is fed only by the store's dispatcher, in revision order.
type Cache struct {
	store *Store
	res   *resource

	mu   sync.RWMutex
	tree *btree.BTreeG[*Entry]
	// history holds the most recent events, oldest first, as a ring.
	history  []Event
	histHead int // index of the oldest event
	histLen  int
	// histStart: every event after this revision is in history.
	histStart int64
	// applied is the revision of the newest event applied.
	applied int64

	nextWatcher int
	watchers    map[int]*Watcher
}

func lessEntry(a, b *Entry) bool { return a.Key < b.Key }

func newCache(s *Store, r *resource, historySize int) *Cache {
	return &Cache{
		store:    s,
		res:      r,
		tree:     btree.NewG(32, lessEntry),
		history:  make([]Event, historySize),
		watchers: map[int]*Watcher{},
	}
}

// Prefix returns the key prefix of the resource.
func (c *Cache) Prefix() string { return c.res.prefix }

// Store returns the store the cache belongs to.
func (c *Cache) Store() *Store { return c.store }

func (c *Cache) load(e *Entry) {
	c.mu.Lock()
	c.tree.ReplaceOrInsert(e)
	c.mu.Unlock()
}

func (c *Cache) startAt(rev int64) {
	c.mu.Lock()
	c.histStart, c.applied = rev, rev
	c.histHead, c.histLen = 0, 0
	c.mu.Unlock()
}

// reset empties the cache and ends every watcher (their clients resume or
// re-list). Used when the dispatcher must reload after falling behind
// compaction.
func (c *Cache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tree.Clear(false)
	c.histHead, c.histLen = 0, 0
	for id, w := range c.watchers {
		w.terminate()
		delete(c.watchers, id)
	}
}

// trimHistory drops the events a watch could no longer get from etcd
// after a compaction at rev: a watch from N needs etcd revision N+1, which
// survives only if N+1 >= rev.
func (c *Cache) trimHistory(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.history)
	for c.histLen > 0 && c.history[c.histHead].Rev() < rev {
		c.history[c.histHead] = Event{}
		c.histHead = (c.histHead + 1) % n
		c.histLen--
	}
	if c.histStart < rev-1 {
		c.histStart = rev - 1
	}
}

func (c *Cache) record(ev Event) {
	n := len(c.history)
	if c.histLen == n {
		// Drop the oldest: history now starts at its revision.
		c.histStart = c.history[c.histHead].Rev()
		c.history[c.histHead] = Event{}
		c.histHead = (c.histHead + 1) % n
		c.histLen--
	}
	c.history[(c.histHead+c.histLen)%n] = ev
	c.histLen++
	c.applied = ev.Rev()
	for id, w := range c.watchers {
		if !w.offer(ev) {
			delete(c.watchers, id)
		}
	}
}

// put applies a write. The previous state comes from the cache itself,
// which holds every object since it was loaded.
func (c *Cache) put(cur *Entry, created bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, had := c.tree.ReplaceOrInsert(cur)
	if created || !had {
		c.record(Event{Type: watch.Added, Object: cur})
		return
	}
	c.record(Event{Type: watch.Modified, Object: cur, Prev: prev})
}

// delete applies a deletion at revision rev.
func (c *Cache) delete(key string, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, had := c.tree.Delete(&Entry{Key: key})
	if !had {
		// Deleted before the cache saw it (cannot happen after a complete
		// load); nothing to tell watchers about.
		c.applied = rev
		return
	}
	last := newEntry(c.res, key, rev, prev.Raw)
	c.record(Event{Type: watch.Deleted, Object: last, Prev: prev})
}

// revisionLocked is the revision the cache's state reflects: its own last
// event, or a later revision the store has fully applied.
func (c *Cache) revisionLocked() int64 {
	if s := c.store.seen.Load(); s > c.applied {
		return s
	}
	return c.applied
}

// Freshness says how current a read from the cache must be.
type Freshness struct {
	// Latest: reflect every write acknowledged before the read (the
	// default for a list without resourceVersion).
	Latest bool
	// MinRev: reflect at least this revision (resourceVersion=N). Zero
	// with Latest false means any state will do (resourceVersion=0).
	MinRev int64
}

func (c *Cache) waitFor(ctx context.Context, f Freshness) error {
	if f.Latest {
		return c.store.WaitFresh(ctx)
	}
	if f.MinRev > 0 {
		return c.store.WaitForRevision(ctx, f.MinRev, 3*time.Second)
	}
	return nil
}

func (c *Cache) scope(ns string) (string, string) {
	from := c.res.prefix
	if ns != "" && c.res.namespaced {
		from += ns + "/"
	}
	return from, from[:len(from)-1] + string(rune(from[len(from)-1]+1))
}

// List returns the matching objects in key order and the revision they
// reflect.
func (c *Cache) List(ctx context.Context, pred Predicate, f Freshness) ([]*Entry, int64, error) {
	if err := c.waitFor(ctx, f); err != nil {
		return nil, 0, err
	}
	c.mu.RLock()
	rev := c.revisionLocked()
	tree := c.tree.Clone()
	c.mu.RUnlock()
	// Filtering may decode objects; do it outside the lock on the clone.
	var out []*Entry
	var ferr error
	from, to := c.scope(pred.Namespace)
	tree.AscendRange(&Entry{Key: from}, &Entry{Key: to}, func(e *Entry) bool {
		ok, err := pred.Matches(e)
		if err != nil {
			ferr = err
			return false
		}
		if ok {
			out = append(out, e)
		}
		return true
	})
	if ferr != nil {
		return nil, 0, ferr
	}
	return out, rev, nil
}

// Entry wraps an object read outside the cache (from etcd, or just
// written) so it can be served like a cached one.
func (c *Cache) Entry(key string, rev int64, raw []byte) *Entry {
	return newEntry(c.res, key, rev, raw)
}

// EntryWithObject is Entry for an object the caller has already decoded
// (a create or update that holds it): it saves decoding it again. obj must
// carry the resourceVersion rev and must not be modified afterwards.
func (c *Cache) EntryWithObject(key string, rev int64, raw []byte, obj runtime.Object) *Entry {
	e := newEntry(c.res, key, rev, raw)
	e.decodeOnce.Do(func() { e.setObject(obj) })
	return e
}

// Count returns the number of objects currently cached.
func (c *Cache) Count() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tree.Len()
}

// Get returns one object from the cache.
func (c *Cache) Get(ctx context.Context, key string, f Freshness) (*Entry, int64, error) {
	if err := c.waitFor(ctx, f); err != nil {
		return nil, 0, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.tree.Get(&Entry{Key: key})
	if !ok {
		return nil, c.revisionLocked(), fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return e, c.revisionLocked(), nil
}

// WatchOptions say where a watch starts and what it sends.
type WatchOptions struct {
	Predicate Predicate
	// InitialEvents starts the watch with an ADDED event for every
	// matching object (resourceVersion "" or "0", or sendInitialEvents).
	InitialEvents bool
	// Freshness of the initial state, with InitialEvents.
	Freshness Freshness
	// Rev: without InitialEvents, stream the changes after this revision.
	Rev int64
	// Bookmarks: send BOOKMARK events when idle, every BookmarkInterval.
	Bookmarks        bool
	BookmarkInterval time.Duration
	// InitialEventsEnd: after the initial events, send a BOOKMARK marking
	// their end (watch-list, KEP-3157).
	InitialEventsEnd bool
}

// Watch starts a watch. Changes are delivered in revision order, each
// exactly once, with no gap after the starting point.
func (c *Cache) Watch(ctx context.Context, o WatchOptions) (*Watcher, error) {
	if o.InitialEvents {
		if err := c.waitFor(ctx, o.Freshness); err != nil {
			return nil, err
		}
	} else if o.Rev > c.store.Revision() {
		// A revision from the future (another server, or our own write not
		// yet seen by the dispatcher): wait for it, as kube-apiserver does.
		if err := c.store.WaitForRevision(ctx, o.Rev, 3*time.Second); err != nil {
			return nil, err
		}
	}
	w := newWatcher(c, o)
	c.mu.Lock()
	switch {
	case o.InitialEvents:
		w.initialRev = c.revisionLocked()
		w.snapshot = c.tree.Clone()
	case o.Rev >= c.histStart:
		w.replay = c.historyAfterLocked(o.Rev)
	default:
		c.mu.Unlock()
		// Older than the cache's history: let etcd serve it.
		return c.watchEtcd(ctx, w, o.Rev)
	}
	c.nextWatcher++
	w.id = c.nextWatcher
	c.watchers[w.id] = w
	c.mu.Unlock()
	go w.run(ctx)
	return w, nil
}

func (c *Cache) historyAfterLocked(rev int64) []Event {
	n := len(c.history)
	// Binary search the ring for the first event after rev.
	i := sort.Search(c.histLen, func(i int) bool {
		return c.history[(c.histHead+i)%n].Rev() > rev
	})
	out := make([]Event, 0, c.histLen-i)
	for ; i < c.histLen; i++ {
		out = append(out, c.history[(c.histHead+i)%n])
	}
	return out
}

func (c *Cache) removeWatcher(id int) {
	c.mu.Lock()
	delete(c.watchers, id)
	c.mu.Unlock()
}

// watchEtcd serves a watch from a revision older than the cache's history
// straight from etcd, which keeps history until compaction.
func (c *Cache) watchEtcd(ctx context.Context, w *Watcher, rev int64) (*Watcher, error) {
	if rev > 0 && rev+1 < c.store.Compacted() {
		return nil, fmt.Errorf("revision %d: %w", rev, ErrExpired)
	}
	from, to := c.scope(w.opts.Predicate.Namespace)
	wctx, cancel := context.WithCancel(ctx)
	w.cancelSource = cancel
	wch := c.store.client.Watch(wctx, from, clientv3.WithRange(to), clientv3.WithRev(rev+1), clientv3.WithPrevKV())
	go func() {
		defer cancel()
		for resp := range wch {
			if resp.CompactRevision != 0 {
				w.offer(Event{Type: watch.Error, Err: fmt.Errorf("revision %d: %w", rev, ErrExpired)})
				w.terminate()
				return
			}
			if err := resp.Err(); err != nil {
				w.offer(Event{Type: watch.Error, Err: wrapEtcd(err)})
				w.terminate()
				return
			}
			for _, ev := range resp.Events {
				if !w.offer(c.etcdEvent(ev)) {
					return
				}
			}
		}
		w.terminate()
	}()
	go w.run(ctx)
	return w, nil
}

func (c *Cache) etcdEvent(ev *clientv3.Event) Event {
	key := string(ev.Kv.Key)
	if ev.Type == mvccpb.DELETE {
		prev := newEntry(c.res, key, ev.PrevKv.ModRevision, ev.PrevKv.Value)
		return Event{Type: watch.Deleted, Object: newEntry(c.res, key, ev.Kv.ModRevision, ev.PrevKv.Value), Prev: prev}
	}
	cur := newEntry(c.res, key, ev.Kv.ModRevision, ev.Kv.Value)
	if ev.Kv.CreateRevision == ev.Kv.ModRevision || ev.PrevKv == nil {
		return Event{Type: watch.Added, Object: cur}
	}
	return Event{Type: watch.Modified, Object: cur, Prev: newEntry(c.res, key, ev.PrevKv.ModRevision, ev.PrevKv.Value)}
}

// ErrWatcherTooSlow ends a watch whose client does not keep up; the
// client resumes from the last revision it received.
var ErrWatcherTooSlow = errors.New("watcher fell behind")
