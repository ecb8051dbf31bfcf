package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// eventLog records what an informer's handlers saw.
type eventLog struct {
	mu     sync.Mutex
	events []string // "ADD name rv", "UPDATE name rv", "DELETE name"
	rvs    []int64
}

func (l *eventLog) add(kind string, cm *corev1.ConfigMap) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rv, _ := strconv.ParseInt(cm.ResourceVersion, 10, 64)
	l.events = append(l.events, fmt.Sprintf("%s %s %s", kind, cm.Name, cm.Data["v"]))
	l.rvs = append(l.rvs, rv)
}

func (l *eventLog) snapshot() ([]string, []int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events), slices.Clone(l.rvs)
}

func handlers(l *eventLog) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { l.add("ADD", o.(*corev1.ConfigMap)) },
		UpdateFunc: func(_, o any) { l.add("UPDATE", o.(*corev1.ConfigMap)) },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			l.add("DELETE", o.(*corev1.ConfigMap))
		},
	}
}

// gatedListWatch holds off the informer's next watch, to decide exactly
// when it reconnects. (Its current watch is ended by restarting the
// server: a client-side Stop would end it with an error event, which makes
// client-go relist instead of resuming.)
type gatedListWatch struct {
	cs *func() *kubernetes.Clientset
	ns string

	mu      sync.Mutex
	open    chan struct{}
	current watch.Interface
	errs    []error
}

func (g *gatedListWatch) listWatch() *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return (*g.cs)().CoreV1().ConfigMaps(g.ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			g.mu.Lock()
			open := g.open
			g.mu.Unlock()
			select {
			case <-open:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			w, err := (*g.cs)().CoreV1().ConfigMaps(g.ns).Watch(ctx, o)
			g.mu.Lock()
			defer g.mu.Unlock()
			if err != nil {
				g.errs = append(g.errs, err)
				return nil, err
			}
			g.current = w
			return w, nil
		},
	}
}

func (g *gatedListWatch) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *gatedListWatch) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.open)
}

func update(t *testing.T, cs *kubernetes.Clientset, ns, name, v string) int64 {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{"v": v}
	out, err := cs.CoreV1().ConfigMaps(ns).Update(context.Background(), cm, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv, _ := strconv.ParseInt(out.ResourceVersion, 10, 64)
	return rv
}

func create(t *testing.T, cs *kubernetes.Clientset, ns, name, v string) {
	t.Helper()
	_, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": v}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, cs *kubernetes.Clientset, ns, name string) {
	t.Helper()
	if err := cs.CoreV1().ConfigMaps(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitEvents waits until the log holds want events and checks them.
func waitEvents(t *testing.T, l *eventLog, want []string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		got, _ := l.snapshot()
		if len(got) < len(want) {
			return fmt.Errorf("%d events so far, want %d: %v", len(got), len(want), got)
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond) // anything extra would be a duplicate
	got, rvs := l.snapshot()
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %v\nwant %v", got, want)
	}
	for i := 1; i < len(rvs); i++ {
		if rvs[i] <= rvs[i-1] {
			t.Fatalf("resourceVersions not increasing at %d: %v", i, rvs)
		}
	}
}

// TestInformerSeesEveryChangeAcrossRestartAndCompaction is acceptance 2 of
// the control-plane issue: a client-go informer sees every change in
// order; after a server restart it resumes from its last resourceVersion
// with nothing missed or repeated; after compaction it gets 410 and
// relists cleanly.
func TestInformerSeesEveryChangeAcrossRestartAndCompaction(t *testing.T) {
	// Compaction every 2 s keeps 2–4 s of history: long enough for the
	// restart in part 2 to resume from history, short enough for part 3.
	s := startServer(t, "--etcd-compaction-interval=2s")
	cs := clientset(t, s)
	current := func() *kubernetes.Clientset { return cs }
	const ns = "default"
	gate := &gatedListWatch{cs: &current, ns: ns, open: make(chan struct{})}
	close(gate.open)
	log := &eventLog{}
	inf := cache.NewSharedIndexInformer(gate.listWatch(), &corev1.ConfigMap{}, 0, cache.Indexers{})
	if _, err := inf.AddEventHandler(handlers(log)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go inf.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}

	// 1. Every create, update and delete, in order.
	var want []string
	for i := 0; i < 5; i++ {
		create(t, cs, ns, fmt.Sprintf("cm%d", i), "a")
		want = append(want, fmt.Sprintf("ADD cm%d a", i))
	}
	for i := 0; i < 5; i++ {
		update(t, cs, ns, fmt.Sprintf("cm%d", i), "b")
		want = append(want, fmt.Sprintf("UPDATE cm%d b", i))
	}
	del(t, cs, ns, "cm4")
	want = append(want, "DELETE cm4 b")
	waitEvents(t, log, want)

	// 2. A restart: the server goes away, changes happen while the
	// informer is disconnected, and it must resume from its last
	// resourceVersion: those changes once each, nothing repeated.
	restart := func() {
		gate.hold()
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
		cs = clientset(t, s)
	}
	restart()
	update(t, cs, ns, "cm0", "c")
	update(t, cs, ns, "cm1", "c")
	want = append(want, "UPDATE cm0 c", "UPDATE cm1 c")
	gate.release()
	waitEvents(t, log, want)

	// 3. Compaction: while the informer is cut off, its resourceVersion is
	// compacted away. Its watch gets 410 Gone and it relists: a relist
	// reports every object (unchanged ones as updates, as client-go's
	// Replace does), the deleted one as deleted, the new one as added.
	restart()
	update(t, cs, ns, "cm2", "d")
	del(t, cs, ns, "cm3")
	create(t, cs, ns, "cm5", "d")
	update(t, cs, ns, "cm0", "d")
	// Wait until the informer's last resourceVersion is compacted away,
	// as a list at exactly that revision shows (compaction runs every
	// 2 s, later on a loaded machine).
	_, seen := log.snapshot()
	lastSeen := strconv.FormatInt(seen[len(seen)-1], 10)
	eventually(t, 60*time.Second, func() error {
		_, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(),
			metav1.ListOptions{ResourceVersion: lastSeen, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			return fmt.Errorf("list at the informer's resourceVersion %s: %v, want 410 once compacted", lastSeen, err)
		}
		return nil
	})
	gate.release()
	want = append(want, "UPDATE cm0 d", "UPDATE cm1 c", "UPDATE cm2 d", "DELETE cm3 b", "ADD cm5 d")
	eventually(t, 10*time.Second, func() error {
		got, _ := log.snapshot()
		if len(got) < len(want) {
			return fmt.Errorf("%d events, want %d: %v", len(got), len(want), got)
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	got, _ := log.snapshot()
	// A relist replays changes in the store's order, not the write order.
	tailGot, tailWant := slices.Clone(got[len(want)-5:]), slices.Clone(want[len(want)-5:])
	slices.Sort(tailGot)
	slices.Sort(tailWant)
	if !slices.Equal(got[:len(want)-5], want[:len(want)-5]) || !slices.Equal(tailGot, tailWant) || len(got) != len(want) {
		t.Fatalf("after compaction:\n got %v\nwant %v (last 5 in any order)", got, want)
	}
	gate.mu.Lock()
	errs := slices.Clone(gate.errs)
	gate.mu.Unlock()
	expired := false
	for _, err := range errs {
		expired = expired || isGone(err)
	}
	if !expired {
		t.Fatalf("the informer never got 410 Gone; watch errors: %v", errs)
	}
	// The informer's store equals the server's list.
	list, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(inf.GetStore().List()); n != len(list.Items) {
		t.Fatalf("informer holds %d objects, server %d", n, len(list.Items))
	}
}

func isGone(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}
