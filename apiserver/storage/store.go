package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Prefix is the root of every key the store owns.
const Prefix = "/registry/"

// compactKey records the last compaction so that several API servers on one
// etcd compact once per interval (kube-apiserver's scheme). It lives under
// Prefix so the dispatcher sees its writes and its revision never runs
// ahead of what the caches have observed.
const compactKey = Prefix + "compact_rev_key"

// Key returns the etcd key of an object. The core group is spelled "core".
func Key(group, resource, namespace, name string) string {
	return ResourcePrefix(group, resource) + namespacePart(namespace) + name
}

// ResourcePrefix returns the key prefix of every object of a resource.
func ResourcePrefix(group, resource string) string {
	if group == "" {
		group = "core"
	}
	return Prefix + group + "/" + resource + "/"
}

func namespacePart(ns string) string {
	if ns == "" {
		return ""
	}
	return ns + "/"
}

// Observer receives the latency of each etcd call, for metrics.
type Observer func(op string, d time.Duration, err error)

// Options configure a Store.
type Options struct {
	Logger *slog.Logger
	// Observe, if set, is called after every etcd call.
	Observe Observer
	// HistorySize is how many recent events each resource cache keeps for
	// watches that resume from an older revision. Default 10,000.
	HistorySize int
	// CompactionInterval: every interval, history older than the previous
	// interval is compacted away. Zero means 5 minutes; negative disables.
	CompactionInterval time.Duration
}

// Store reads and writes objects in etcd and keeps the watch caches.
type Store struct {
	client *clientv3.Client
	log    *slog.Logger
	obs    Observer
	opts   Options

	mu        sync.RWMutex
	resources map[string]*resource // by prefix

	// seen is the highest revision whose events (for every resource) the
	// caches have applied. It only grows.
	seen     atomic.Int64
	seenMu   sync.Mutex
	seenCond *sync.Cond
	// compacted is the newest revision compacted away (0: none known).
	compacted atomic.Int64

	leases leaseManager

	started  chan struct{}
	stopped  chan struct{}
	watchCtx context.Context
}

// New returns a store over an etcd client. Register every resource, then Start.
func New(client *clientv3.Client, opts Options) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HistorySize <= 0 {
		opts.HistorySize = 10000
	}
	if opts.CompactionInterval == 0 {
		opts.CompactionInterval = 5 * time.Minute
	}
	s := &Store{
		client:    client,
		log:       opts.Logger,
		obs:       opts.Observe,
		opts:      opts,
		resources: map[string]*resource{},
		started:   make(chan struct{}),
		stopped:   make(chan struct{}),
	}
	s.seenCond = sync.NewCond(&s.seenMu)
	s.leases = leaseManager{client: client}
	return s
}

// Register adds a resource whose keys start with prefix (see
// ResourcePrefix) and returns its cache. It must be called before Start.
func (s *Store) Register(prefix string, namespaced bool, codec Codec) *Cache {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.resources[prefix]; ok {
		return r.cache
	}
	r := &resource{prefix: prefix, namespaced: namespaced, codec: codec}
	r.cache = newCache(s, r, s.opts.HistorySize)
	s.resources[prefix] = r
	return r.cache
}

type resource struct {
	prefix     string
	namespaced bool
	codec      Codec
	cache      *Cache
}

func (s *Store) resourceFor(key string) *resource {
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		return nil
	}
	// group/resource/...
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return nil
	}
	j := strings.IndexByte(rest[i+1:], '/')
	if j < 0 {
		return nil
	}
	return s.resources[key[:len(Prefix)+i+1+j+1]]
}

func (s *Store) observe(op string, start time.Time, err error) {
	if s.obs != nil {
		s.obs(op, time.Since(start), err)
	}
}

// Start loads every registered resource into its cache and follows etcd
// from there. It returns once the caches are loaded; the follow loop runs
// until ctx ends.
func (s *Store) Start(ctx context.Context) error {
	rev, err := s.load(ctx)
	if err != nil {
		return err
	}
	s.watchCtx = ctx
	go s.follow(ctx, rev)
	if s.opts.CompactionInterval > 0 {
		go s.compactLoop(ctx, s.opts.CompactionInterval)
	}
	close(s.started)
	go func() {
		<-ctx.Done()
		close(s.stopped)
		s.seenMu.Lock()
		s.seenCond.Broadcast()
		s.seenMu.Unlock()
	}()
	return nil
}

// load reads every key under Prefix at one revision into the caches.
func (s *Store) load(ctx context.Context) (int64, error) {
	start := time.Now()
	// Page through the keyspace at a fixed revision so a big store does
	// not need one giant response.
	const page = 10000
	key := Prefix
	end := clientv3.GetPrefixRangeEnd(Prefix)
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(page)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, key, opts...)
		if err != nil {
			return 0, fmt.Errorf("storage: initial load: %w", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if r := s.resourceFor(string(kv.Key)); r != nil {
				r.cache.load(newEntry(r, string(kv.Key), kv.ModRevision, kv.Value))
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	s.mu.RLock()
	for _, r := range s.resources {
		r.cache.startAt(rev)
	}
	s.mu.RUnlock()
	s.advance(rev)
	s.log.Info("watch cache loaded", "revision", rev, "took", time.Since(start).Round(time.Millisecond))
	return rev, nil
}

// follow applies etcd's events to the caches, forever. If the watch breaks
// it resumes from the last applied revision; if that was compacted (the
// server was partitioned from etcd for longer than the history) it reloads.
func (s *Store) follow(ctx context.Context, rev int64) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		// No WithPrevKV: the caches already hold every previous state, and
		// having etcd read it back for each event halves its write rate.
		wch := s.client.Watch(wctx, Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
		for resp := range wch {
			if resp.CompactRevision != 0 {
				s.log.Warn("watch cache fell behind compaction; reloading", "revision", rev, "compacted", resp.CompactRevision)
				cancel()
				r, err := s.reload(ctx)
				if err != nil {
					s.log.Error("watch cache reload failed", "err", err)
					time.Sleep(time.Second)
					break
				}
				rev = r
				break
			}
			if err := resp.Err(); err != nil {
				s.log.Warn("etcd watch error; resuming", "revision", rev, "err", err)
				break
			}
			for _, ev := range resp.Events {
				s.apply(ev)
				rev = ev.Kv.ModRevision
			}
			if resp.IsProgressNotify() && resp.Header.Revision > rev {
				rev = resp.Header.Revision
			}
			s.advance(rev)
		}
		cancel()
		if ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// reload rebuilds every cache from a fresh read; watchers of every cache
// are closed so their clients re-list.
func (s *Store) reload(ctx context.Context) (int64, error) {
	s.mu.RLock()
	for _, r := range s.resources {
		r.cache.reset()
	}
	s.mu.RUnlock()
	return s.load(ctx)
}

func (s *Store) apply(ev *clientv3.Event) {
	r := s.resourceFor(string(ev.Kv.Key))
	if r == nil {
		return
	}
	key := string(ev.Kv.Key)
	switch ev.Type {
	case mvccpb.PUT:
		r.cache.put(newEntry(r, key, ev.Kv.ModRevision, ev.Kv.Value), ev.Kv.CreateRevision == ev.Kv.ModRevision)
	case mvccpb.DELETE:
		r.cache.delete(key, ev.Kv.ModRevision)
	}
}

func (s *Store) advance(rev int64) {
	if rev <= s.seen.Load() {
		return
	}
	s.seenMu.Lock()
	if rev > s.seen.Load() {
		s.seen.Store(rev)
	}
	s.seenCond.Broadcast()
	s.seenMu.Unlock()
}

// Revision returns the newest revision the caches have fully applied.
func (s *Store) Revision() int64 { return s.seen.Load() }

// CurrentRevision asks etcd for its current revision (a linearizable read).
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	start := time.Now()
	resp, err := s.client.Get(ctx, compactKey, clientv3.WithCountOnly())
	s.observe("revision", start, err)
	if err != nil {
		return 0, wrapEtcd(err)
	}
	return resp.Header.Revision, nil
}

// WaitForRevision blocks until the caches have applied rev, or the wait
// times out (ErrTooLargeResourceVersion). Writes outside the registry
// prefix bump etcd's revision without an event, so after a short wait it
// asks etcd for a progress notification, which advances the caches to the
// current revision.
func (s *Store) WaitForRevision(ctx context.Context, rev int64, timeout time.Duration) error {
	if s.seen.Load() >= rev {
		return nil
	}
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		s.seenMu.Lock()
		s.seenCond.Broadcast()
		s.seenMu.Unlock()
	})
	defer timer.Stop()
	progress := time.AfterFunc(20*time.Millisecond, func() {
		if s.watchCtx != nil {
			_ = s.client.RequestProgress(s.watchCtx)
		}
	})
	defer progress.Stop()
	stopWake := context.AfterFunc(ctx, func() {
		s.seenMu.Lock()
		s.seenCond.Broadcast()
		s.seenMu.Unlock()
	})
	defer stopWake()

	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	for s.seen.Load() < rev {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-s.stopped:
			return ErrStopped
		default:
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%w: %d, current is %d", ErrTooLargeResourceVersion, rev, s.seen.Load())
		}
		s.seenCond.Wait()
	}
	return nil
}

// WaitFresh waits until the caches reflect every write acknowledged before
// the call: the consistent-read-from-cache of KEP-2340.
func (s *Store) WaitFresh(ctx context.Context) error {
	rev, err := s.CurrentRevision(ctx)
	if err != nil {
		return err
	}
	return s.WaitForRevision(ctx, rev, 3*time.Second)
}

// Get reads one object from etcd (linearizable).
func (s *Store) Get(ctx context.Context, key string) ([]byte, int64, error) {
	start := time.Now()
	resp, err := s.client.Get(ctx, key)
	s.observe("get", start, err)
	if err != nil {
		return nil, 0, wrapEtcd(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return resp.Kvs[0].Value, resp.Kvs[0].ModRevision, nil
}

// Create writes a new object; ttl > 0 makes etcd delete it after ttl seconds.
func (s *Store) Create(ctx context.Context, key string, raw []byte, ttl int64) (int64, error) {
	put := []clientv3.OpOption{}
	if ttl > 0 {
		id, err := s.leases.lease(ctx, ttl)
		if err != nil {
			return 0, err
		}
		put = append(put, clientv3.WithLease(id))
	}
	start := time.Now()
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(raw), put...)).
		Commit()
	s.observe("create", start, err)
	if err != nil {
		return 0, wrapEtcd(err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("%s: %w", key, ErrAlreadyExists)
	}
	return resp.Header.Revision, nil
}

// Update replaces the object at key if it is still at revision rev.
// ttl > 0 attaches a (new) lease, as for Create.
func (s *Store) Update(ctx context.Context, key string, raw []byte, rev int64, ttl int64) (int64, error) {
	put := []clientv3.OpOption{}
	if ttl > 0 {
		id, err := s.leases.lease(ctx, ttl)
		if err != nil {
			return 0, err
		}
		put = append(put, clientv3.WithLease(id))
	}
	start := time.Now()
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpPut(key, string(raw), put...)).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	s.observe("update", start, err)
	if err != nil {
		return 0, wrapEtcd(err)
	}
	if !resp.Succeeded {
		if rev != 0 && len(resp.Responses) > 0 && resp.Responses[0].GetResponseRange().Count == 0 {
			return 0, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		return 0, fmt.Errorf("%s at %d: %w", key, rev, ErrConflict)
	}
	return resp.Header.Revision, nil
}

// Delete removes the object at key if it is still at revision rev and
// returns the deletion revision.
func (s *Store) Delete(ctx context.Context, key string, rev int64) (int64, error) {
	start := time.Now()
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	s.observe("delete", start, err)
	if err != nil {
		return 0, wrapEtcd(err)
	}
	if !resp.Succeeded {
		if len(resp.Responses) > 0 && resp.Responses[0].GetResponseRange().Count == 0 {
			return 0, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		return 0, fmt.Errorf("%s at %d: %w", key, rev, ErrConflict)
	}
	return resp.Header.Revision, nil
}

// Page is one page of a paginated list read from etcd.
type Page struct {
	Entries []*Entry
	// Rev is the revision the page was read at; later pages use the same.
	Rev int64
	// Next is the key to continue from, empty when the list is complete.
	Next string
	// Remaining counts keys after this page (before filtering).
	Remaining int64
}

// ListPage reads up to limit matching objects under prefix starting at
// startKey, at revision rev (0: current). It reads on in batches until it
// has limit matches or the range ends, as kube-apiserver does.
func (s *Store) ListPage(ctx context.Context, prefix, startKey string, rev int64, limit int64, pred Predicate) (Page, error) {
	r := s.resourceFor(prefix + "x")
	if r == nil {
		return Page{}, fmt.Errorf("storage: no resource registered for %s", prefix)
	}
	// etcd can still read at the compaction revision itself.
	if rev > 0 && rev < s.compacted.Load() {
		return Page{}, fmt.Errorf("revision %d: %w", rev, ErrExpired)
	}
	end := clientv3.GetPrefixRangeEnd(prefix)
	if startKey == "" {
		startKey = prefix
	}
	var page Page
	batch := limit
	if batch < 100 {
		batch = 100
	}
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(batch)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		start := time.Now()
		resp, err := s.client.Get(ctx, startKey, opts...)
		s.observe("list", start, err)
		if err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return Page{}, fmt.Errorf("revision %d: %w", rev, ErrExpired)
			}
			return Page{}, wrapEtcd(err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for i, kv := range resp.Kvs {
			e := newEntry(r, string(kv.Key), kv.ModRevision, kv.Value)
			ok, err := pred.Matches(e)
			if err != nil {
				return Page{}, err
			}
			if !ok {
				continue
			}
			page.Entries = append(page.Entries, e)
			if limit > 0 && int64(len(page.Entries)) == limit {
				more := resp.More || i < len(resp.Kvs)-1
				if more {
					page.Next = string(kv.Key) + "\x00"
					page.Remaining = resp.Count - int64(i) - 1
				}
				page.Rev = rev
				return page, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			page.Rev = rev
			return page, nil
		}
		startKey = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Compacted returns the newest revision known to be compacted away.
func (s *Store) Compacted() int64 { return s.compacted.Load() }

// compactLoop compacts like kube-apiserver: every interval, compact to the
// revision recorded at the previous tick, so roughly one interval of
// history is always kept. The compact key's version acts as a token so that
// several servers sharing one etcd compact only once per interval.
func (s *Store) compactLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var version, prevRev int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, rev, err := s.compactOnce(ctx, version, prevRev)
		if err != nil {
			s.log.Warn("compaction failed", "err", err)
			continue
		}
		version, prevRev = v, rev
	}
}

func (s *Store) compactOnce(ctx context.Context, version, compactTo int64) (int64, int64, error) {
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.Version(compactKey), "=", version)).
		Then(clientv3.OpPut(compactKey, "")).
		Else(clientv3.OpGet(compactKey)).
		Commit()
	if err != nil {
		return version, compactTo, err
	}
	cur := resp.Header.Revision
	if !resp.Succeeded {
		// Another server compacted this interval; take its version.
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) > 0 {
			return kvs[0].Version, cur, nil
		}
		return 0, cur, nil
	}
	if compactTo > 0 {
		start := time.Now()
		_, err := s.client.Compact(ctx, compactTo)
		s.observe("compact", start, err)
		if err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
			return version + 1, cur, err
		}
		s.setCompacted(compactTo)
		s.log.Info("compacted", "revision", compactTo)
	}
	return version + 1, cur, nil
}

// setCompacted records a compaction and trims the caches' histories to
// match, so a watch from a compacted revision is refused (410) whether the
// cache or etcd would serve it: history is kept for one compaction
// interval, no more and no less.
func (s *Store) setCompacted(rev int64) {
	for {
		old := s.compacted.Load()
		if rev <= old {
			return
		}
		if s.compacted.CompareAndSwap(old, rev) {
			break
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.resources {
		r.cache.trimHistory(rev)
	}
}

// CompactNow compacts all history before the current revision. Tests and
// the admin tooling use it; the server compacts on its own schedule.
func (s *Store) CompactNow(ctx context.Context) (int64, error) {
	rev, err := s.CurrentRevision(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := s.client.Compact(ctx, rev); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return 0, wrapEtcd(err)
	}
	s.setCompacted(rev)
	return rev, nil
}

// Health checks that etcd answers a linearizable read.
func (s *Store) Health(ctx context.Context) error {
	_, err := s.CurrentRevision(ctx)
	return err
}

// ErrUnavailable wraps etcd failures that are not about the object.
var ErrUnavailable = errors.New("storage unavailable")

// ErrNoSpace: etcd's backend quota is exhausted (NOSPACE alarm).
var ErrNoSpace = errors.New("database space exceeded")

func wrapEtcd(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(rpctypes.Error(err), rpctypes.ErrNoSpace) || errors.Is(err, rpctypes.ErrGRPCNoSpace):
		return fmt.Errorf("%w: %v", ErrNoSpace, err)
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%w: %v", ErrExpired, err)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}
