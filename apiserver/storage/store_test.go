package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	etcd "github.com/skiff-dev/skiff/embedded-etcd"
)

var cmPrefix = ResourcePrefix("", "configmaps")

func cmCodec() Codec {
	return Codec{
		Decode: func(raw []byte) (runtime.Object, error) {
			cm := &corev1.ConfigMap{}
			return cm, json.Unmarshal(raw, cm)
		},
	}
}

type harness struct {
	t     *testing.T
	etcd  *etcd.Server
	store *Store
	cache *Cache
	ctx   context.Context
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	e, err := etcd.Start(etcd.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if opts.CompactionInterval == 0 {
		opts.CompactionInterval = -1
	}
	s := New(e.Client(), opts)
	c := s.Register(cmPrefix, true, cmCodec())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, etcd: e, store: s, cache: c, ctx: ctx}
}

func cmJSON(ns, name string, lbls map[string]string, data string) []byte {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Data:       map[string]string{"d": data},
	}
	b, _ := json.Marshal(cm)
	return b
}

func (h *harness) create(ns, name string, lbls map[string]string) int64 {
	h.t.Helper()
	rev, err := h.store.Create(h.ctx, Key("", "configmaps", ns, name), cmJSON(ns, name, lbls, "0"), 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return rev
}

func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return Event{}
}

func describe(ev Event) string {
	if ev.Type == watch.Bookmark {
		return fmt.Sprintf("BOOKMARK@%d", ev.Object.Rev)
	}
	obj, err := ev.Object.Object()
	if err != nil {
		return "decode error " + err.Error()
	}
	cm := obj.(*corev1.ConfigMap)
	return fmt.Sprintf("%s %s/%s@%s", ev.Type, cm.Namespace, cm.Name, cm.ResourceVersion)
}

func TestCreateConflictsAndDelete(t *testing.T) {
	h := newHarness(t, Options{})
	key := Key("", "configmaps", "ns", "a")
	rev := h.create("ns", "a", nil)
	if _, err := h.store.Create(h.ctx, key, cmJSON("ns", "a", nil, "x"), 0); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("second create: %v, want ErrAlreadyExists", err)
	}
	rev2, err := h.store.Update(h.ctx, key, cmJSON("ns", "a", nil, "1"), rev, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Update(h.ctx, key, cmJSON("ns", "a", nil, "2"), rev, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if _, err := h.store.Delete(h.ctx, key, rev); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale delete: %v, want ErrConflict", err)
	}
	if _, err := h.store.Delete(h.ctx, key, rev2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.store.Get(h.ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := h.store.Update(h.ctx, key, cmJSON("ns", "a", nil, "3"), rev2, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of deleted: %v, want ErrNotFound", err)
	}
}

func TestListIsConsistentAndFiltered(t *testing.T) {
	h := newHarness(t, Options{})
	h.create("a", "x", map[string]string{"app": "web"})
	h.create("a", "y", map[string]string{"app": "db"})
	last := h.create("b", "x", map[string]string{"app": "web"})
	// A list right after the write must see it (consistent read).
	all, rev, err := h.cache.List(h.ctx, Predicate{}, Freshness{Latest: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || rev < last {
		t.Fatalf("list: %d items at %d, want 3 at >= %d", len(all), rev, last)
	}
	sel, _ := labels.Parse("app=web")
	web, _, _ := h.cache.List(h.ctx, Predicate{Label: sel}, Freshness{Latest: true})
	if len(web) != 2 {
		t.Fatalf("label list: %d, want 2", len(web))
	}
	inA, _, _ := h.cache.List(h.ctx, Predicate{Namespace: "a"}, Freshness{})
	if len(inA) != 2 {
		t.Fatalf("namespace list: %d, want 2", len(inA))
	}
	byName, _, _ := h.cache.List(h.ctx, Predicate{Field: fields.OneTermEqualSelector("metadata.name", "x")}, Freshness{})
	if len(byName) != 2 {
		t.Fatalf("field list: %d, want 2", len(byName))
	}
	var got map[string]any
	if err := json.Unmarshal(all[0].JSON(), &got); err != nil {
		t.Fatal(err)
	}
	if rv := got["metadata"].(map[string]any)["resourceVersion"]; rv != fmt.Sprint(all[0].Rev) {
		t.Fatalf("JSON resourceVersion %v, want %d", rv, all[0].Rev)
	}
}

func TestPaginationAtFixedRevision(t *testing.T) {
	h := newHarness(t, Options{})
	for i := 0; i < 25; i++ {
		h.create("p", fmt.Sprintf("cm-%02d", i), nil)
	}
	var names []string
	start, rev := "", int64(0)
	for {
		page, err := h.store.ListPage(h.ctx, cmPrefix+"p/", start, rev, 10, Predicate{})
		if err != nil {
			t.Fatal(err)
		}
		if rev == 0 {
			// Writes after the first page must not show up in later pages.
			h.create("p", "cm-99", nil)
		}
		rev = page.Rev
		for _, e := range page.Entries {
			names = append(names, e.Key)
		}
		if page.Next == "" {
			break
		}
		start = page.Next
	}
	if len(names) != 25 {
		t.Fatalf("paged %d objects, want 25: %v", len(names), names)
	}
}

func TestWatchFromRevisionReplaysHistoryThenLive(t *testing.T) {
	h := newHarness(t, Options{})
	r1 := h.create("ns", "a", nil)
	h.create("ns", "b", nil)
	w, err := h.cache.Watch(h.ctx, WatchOptions{Rev: r1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if got := describe(next(t, w)); got[:len("ADDED ns/b")] != "ADDED ns/b" {
		t.Fatalf("first event %s, want ADDED ns/b", got)
	}
	h.create("ns", "c", nil)
	if got := describe(next(t, w)); got[:len("ADDED ns/c")] != "ADDED ns/c" {
		t.Fatalf("live event %s", got)
	}
}

func TestWatchInitialEventsAndEndBookmark(t *testing.T) {
	h := newHarness(t, Options{})
	h.create("ns", "a", nil)
	rev := h.create("ns", "b", nil)
	w, err := h.cache.Watch(h.ctx, WatchOptions{InitialEvents: true, Freshness: Freshness{Latest: true}, InitialEventsEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	next(t, w)
	next(t, w)
	bm := next(t, w)
	if bm.Type != watch.Bookmark || !bm.InitialEventsEnd || bm.Object.Rev < rev {
		t.Fatalf("got %+v, want the initial-events-end bookmark at >= %d", bm, rev)
	}
}

func TestWatchSelectorTransitions(t *testing.T) {
	h := newHarness(t, Options{})
	key := Key("", "configmaps", "ns", "a")
	rev := h.create("ns", "a", map[string]string{"app": "db"})
	sel, _ := labels.Parse("app=web")
	w, err := h.cache.Watch(h.ctx, WatchOptions{Rev: rev, Predicate: Predicate{Label: sel}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	rev, _ = h.store.Update(h.ctx, key, cmJSON("ns", "a", map[string]string{"app": "web"}, "1"), rev, 0)
	if ev := next(t, w); ev.Type != watch.Added {
		t.Fatalf("entering selector: %s, want ADDED", describe(ev))
	}
	rev, _ = h.store.Update(h.ctx, key, cmJSON("ns", "a", map[string]string{"app": "web"}, "2"), rev, 0)
	if ev := next(t, w); ev.Type != watch.Modified {
		t.Fatalf("within selector: %s, want MODIFIED", describe(ev))
	}
	rev, _ = h.store.Update(h.ctx, key, cmJSON("ns", "a", map[string]string{"app": "db"}, "3"), rev, 0)
	ev := next(t, w)
	if ev.Type != watch.Deleted || ev.Object.Rev != rev {
		t.Fatalf("leaving selector: %s, want DELETED at %d", describe(ev), rev)
	}
}

func TestWatchOlderThanHistoryUsesEtcdAndExpiresAfterCompaction(t *testing.T) {
	h := newHarness(t, Options{HistorySize: 2})
	r0 := h.create("ns", "a", nil)
	for i := 0; i < 5; i++ {
		h.create("ns", fmt.Sprintf("b%d", i), nil)
	}
	if err := h.store.WaitFresh(h.ctx); err != nil {
		t.Fatal(err)
	}
	w, err := h.cache.Watch(h.ctx, WatchOptions{Rev: r0})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		ev := next(t, w)
		if ev.Type != watch.Added {
			t.Fatalf("event %d: %s", i, describe(ev))
		}
	}
	w.Stop()

	if _, err := h.store.CompactNow(h.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cache.Watch(h.ctx, WatchOptions{Rev: r0}); !errors.Is(err, ErrExpired) {
		t.Fatalf("watch from compacted revision: %v, want ErrExpired", err)
	}
	if _, err := h.store.ListPage(h.ctx, cmPrefix, "", r0, 10, Predicate{}); !errors.Is(err, ErrExpired) {
		t.Fatalf("list at compacted revision: %v, want ErrExpired", err)
	}
}

func TestWatchResumesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() (*etcd.Server, *Store, *Cache, context.CancelFunc) {
		e, err := etcd.Start(etcd.Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s := New(e.Client(), Options{CompactionInterval: -1})
		c := s.Register(cmPrefix, true, cmCodec())
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return e, s, c, cancel
	}
	e, s, _, cancel := start()
	ctx := context.Background()
	rev, _ := s.Create(ctx, Key("", "configmaps", "ns", "a"), cmJSON("ns", "a", nil, "0"), 0)
	s.Create(ctx, Key("", "configmaps", "ns", "b"), cmJSON("ns", "b", nil, "0"), 0)
	s.Create(ctx, Key("", "configmaps", "ns", "c"), cmJSON("ns", "c", nil, "0"), 0)
	cancel()
	e.Close()

	e, _, c, cancel := start()
	defer e.Close()
	defer cancel()
	w, err := c.Watch(ctx, WatchOptions{Rev: rev})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, want := range []string{"ns/b", "ns/c"} {
		ev := next(t, w)
		if got := describe(ev); ev.Type != watch.Added || got[6:10] != want {
			t.Fatalf("after restart got %s, want ADDED %s", got, want)
		}
	}
}

func TestWithResourceVersion(t *testing.T) {
	for in, want := range map[string]string{
		`{"kind":"X","metadata":{"name":"a"}}`: `{"kind":"X","metadata":{"resourceVersion":"7","name":"a"}}`,
		`{"kind":"X","metadata":{}}`:           `{"kind":"X","metadata":{"resourceVersion":"7"}}`,
		`{"kind":"X"}`:                         `{"kind":"X"}`,
	} {
		if got := string(withResourceVersion([]byte(in), 7)); got != want {
			t.Errorf("withResourceVersion(%s) = %s, want %s", in, got, want)
		}
	}
}
