package storage

import (
	"context"
	"sync"
	"time"

	"github.com/google/btree"
	"k8s.io/apimachinery/pkg/watch"
)

// watcherBuffer is how many undelivered events a watcher may hold before it
// is cut off as too slow. The dispatcher never blocks on a watcher.
const watcherBuffer = 1024

// Watcher is one client's watch. Read events from ResultChan until it is
// closed; call Stop when done.
type Watcher struct {
	cache *Cache
	opts  WatchOptions
	id    int

	// Set before run: the initial state or the history to replay.
	snapshot   *btree.BTreeG[*Entry]
	initialRev int64
	replay     []Event

	in  chan Event
	out chan Event

	mu         sync.Mutex
	terminated bool

	stopOnce     sync.Once
	stopCh       chan struct{}
	cancelSource context.CancelFunc
	// lastRev is the revision of the last event sent to the client.
	lastRev int64
}

func newWatcher(c *Cache, o WatchOptions) *Watcher {
	if o.BookmarkInterval <= 0 {
		o.BookmarkInterval = time.Minute
	}
	return &Watcher{
		cache:   c,
		opts:    o,
		in:      make(chan Event, watcherBuffer),
		out:     make(chan Event),
		stopCh:  make(chan struct{}),
		lastRev: o.Rev,
	}
}

// ResultChan delivers the events; it is closed when the watch ends.
func (w *Watcher) ResultChan() <-chan Event { return w.out }

// Stop ends the watch and releases its resources.
func (w *Watcher) Stop() {
	w.stopOnce.Do(func() {
		close(w.stopCh)
		if w.cancelSource != nil {
			w.cancelSource()
		}
		if w.id != 0 {
			w.cache.removeWatcher(w.id)
		}
	})
}

// offer hands an event to the watcher without blocking. It returns false
// when the watcher is gone or too slow, and must then be forgotten.
func (w *Watcher) offer(ev Event) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.terminated {
		return false
	}
	select {
	case w.in <- ev:
		return true
	case <-w.stopCh:
		w.terminated = true
		close(w.in)
		return false
	default:
		// Too slow: end the stream; the client resumes from its last
		// revision, which the history (or etcd) still has.
		w.terminated = true
		close(w.in)
		return false
	}
}

// terminate ends the stream from the producer side.
func (w *Watcher) terminate() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.terminated {
		w.terminated = true
		close(w.in)
	}
}

func (w *Watcher) send(ev Event) bool {
	select {
	case w.out <- ev:
		if r := ev.Rev(); r > w.lastRev {
			w.lastRev = r
		}
		return true
	case <-w.stopCh:
		return false
	}
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.out)
	defer w.Stop()
	stop := context.AfterFunc(ctx, w.Stop)
	defer stop()

	if w.snapshot != nil {
		from, to := w.cache.scope(w.opts.Predicate.Namespace)
		ok := true
		w.snapshot.AscendRange(&Entry{Key: from}, &Entry{Key: to}, func(e *Entry) bool {
			match, err := w.opts.Predicate.Matches(e)
			if err != nil || !match {
				return true
			}
			ok = w.send(Event{Type: watch.Added, Object: e})
			return ok
		})
		w.snapshot = nil
		if !ok {
			return
		}
		w.lastRev = w.initialRev
		if w.opts.InitialEventsEnd {
			if !w.send(Event{Type: watch.Bookmark, Object: &Entry{Rev: w.initialRev}, InitialEventsEnd: true}) {
				return
			}
		}
	}
	for _, ev := range w.replay {
		if out, ok := w.filter(ev); ok && !w.send(out) {
			return
		}
	}
	w.replay = nil

	var tick <-chan time.Time
	if w.opts.Bookmarks {
		t := time.NewTicker(w.opts.BookmarkInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case ev, ok := <-w.in:
			if !ok {
				return
			}
			if out, ok := w.filter(ev); ok && !w.send(out) {
				return
			}
		case <-tick:
			if rev, ok := w.bookmarkRev(); ok {
				if !w.send(Event{Type: watch.Bookmark, Object: &Entry{Rev: rev}}) {
					return
				}
			}
		case <-w.stopCh:
			return
		}
	}
}

// bookmarkRev returns a revision the client may resume from: every event
// up to it has been delivered. It holds only if nothing is queued.
func (w *Watcher) bookmarkRev() (int64, bool) {
	if w.id == 0 {
		return 0, false // etcd-served watches carry no cache revision
	}
	c := w.cache
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(w.in) > 0 {
		return 0, false
	}
	rev := c.revisionLocked()
	if rev <= w.lastRev {
		return 0, false
	}
	return rev, true
}

// filter applies the predicate to a change, turning it into what this
// watcher should see: an object that starts matching is ADDED, one that
// stops matching is DELETED (with its previous state at the new revision).
func (w *Watcher) filter(ev Event) (Event, bool) {
	if ev.Type == watch.Error {
		return ev, true
	}
	p := w.opts.Predicate
	cur, err := p.Matches(ev.Object)
	if err != nil {
		return Event{Type: watch.Error, Err: err}, true
	}
	switch ev.Type {
	case watch.Added:
		return ev, cur
	case watch.Deleted:
		if ev.Prev != nil {
			prev, err := p.Matches(ev.Prev)
			if err != nil {
				return Event{Type: watch.Error, Err: err}, true
			}
			return ev, prev
		}
		return ev, cur
	}
	prev := false
	if ev.Prev != nil {
		if prev, err = p.Matches(ev.Prev); err != nil {
			return Event{Type: watch.Error, Err: err}, true
		}
	}
	switch {
	case cur && prev:
		return ev, true
	case cur:
		return Event{Type: watch.Added, Object: ev.Object}, true
	case prev:
		last := newEntry(ev.Prev.res, ev.Prev.Key, ev.Object.Rev, ev.Prev.Raw)
		return Event{Type: watch.Deleted, Object: last, Prev: ev.Prev}, true
	}
	return ev, false
}
