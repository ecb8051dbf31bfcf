package manager

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

var errSync = errors.New("sync failed")

// slowQueue backs a failed key off for an hour, so a test sees the
// retry as a pending requeue rather than racing it.
func slowQueue() workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Hour, time.Hour))
}

// One key through processNext: how its outcome settles it in the queue.
func TestProcessNextSettlesTheKey(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		failure     Failure
		wantFailure bool // onFailure called
		wantBackoff int  // NumRequeues afterwards
	}{
		{name: "success forgets the key's back-off", err: nil, wantBackoff: 0},
		{name: "a failure to retry is requeued with back-off", err: errSync, failure: Retry, wantFailure: true, wantBackoff: 2},
		{name: "a failure to give up on is forgotten", err: errSync, failure: GiveUp, wantFailure: true, wantBackoff: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := slowQueue()
			defer q.ShutDown()
			// One earlier failure: success and giving up must clear it.
			q.AddRateLimited("ns/a")
			q.Add("ns/a")
			var gotKey string
			var gotErr error
			called := false
			ok := processNext(context.Background(), q,
				func(_ context.Context, key string) error { gotKey = key; return tc.err },
				func(_ context.Context, key string, err error) Failure {
					called, gotErr = true, err
					return tc.failure
				})
			if !ok || gotKey != "ns/a" {
				t.Fatalf("processNext = %v, reconciled %q", ok, gotKey)
			}
			if called != tc.wantFailure || (called && gotErr != tc.err) {
				t.Fatalf("onFailure called %v with %v", called, gotErr)
			}
			if n := q.NumRequeues("ns/a"); n != tc.wantBackoff {
				t.Fatalf("NumRequeues = %d, want %d", n, tc.wantBackoff)
			}
			// The key is Done: added again, it is handed out again.
			q.Add("ns/a")
			if q.Len() != 1 {
				t.Fatalf("queue length %d after re-adding a finished key", q.Len())
			}
		})
	}
}

func TestProcessNextStopsOnShutDown(t *testing.T) {
	q := slowQueue()
	q.ShutDown()
	if processNext(context.Background(), q, func(context.Context, string) error {
		t.Fatal("reconciled after shut down")
		return nil
	}, func(context.Context, string, error) Failure { return Retry }) {
		t.Fatal("processNext went on after the queue shut down")
	}
}

// RunWorkers retries a failing key until it succeeds, runs keys in
// parallel, and returns only once ctx ended and no reconcile is running.
func TestRunWorkers(t *testing.T) {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu       sync.Mutex
		calls    = map[string]int{}
		failures []string
		running  atomic.Int32
		maxPar   atomic.Int32
	)
	retried := make(chan struct{})
	bothIn := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(2)
	go func() { arrived.Wait(); close(bothIn) }()
	reconcile := func(_ context.Context, key string) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := maxPar.Load(); n > m && !maxPar.CompareAndSwap(m, n); m = maxPar.Load() {
		}
		mu.Lock()
		calls[key]++
		c := calls[key]
		mu.Unlock()
		switch {
		case key == "flaky" && c < 3:
			return errSync
		case key == "flaky":
			close(retried)
		case c == 1:
			// "a" and "b" wait for each other: two workers run at once.
			arrived.Done()
			<-bothIn
		}
		return nil
	}
	onFailure := func(_ context.Context, key string, err error) Failure {
		mu.Lock()
		failures = append(failures, key+": "+err.Error())
		mu.Unlock()
		return Retry
	}
	q.Add("a")
	q.Add("b")
	q.Add("flaky")
	returned := make(chan struct{})
	go func() {
		RunWorkers(ctx, q, 2, reconcile, onFailure)
		close(returned)
	}()
	select {
	case <-retried:
	case <-time.After(10 * time.Second):
		t.Fatal("the failing key was not retried to success")
	}
	<-bothIn
	select {
	case <-returned:
		t.Fatal("RunWorkers returned before ctx ended")
	default:
	}
	cancel()
	<-returned
	if running.Load() != 0 {
		t.Fatal("a reconcile still runs after RunWorkers returned")
	}
	if !q.ShuttingDown() {
		t.Fatal("queue not shut down")
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["flaky"] != 3 || calls["a"] != 1 || calls["b"] != 1 || len(failures) != 2 || failures[0] != "flaky: sync failed" {
		t.Fatalf("calls %v, failures %v", calls, failures)
	}
	if maxPar.Load() != 2 {
		t.Fatalf("at most %d reconciles at once, want 2", maxPar.Load())
	}
	if q.NumRequeues("flaky") != 0 {
		t.Fatal("the key's back-off was not forgotten after it succeeded")
	}
}

func TestEventObject(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	for _, tc := range []struct {
		name string
		obj  any
		want *corev1.Pod
	}{
		{"the object itself", pod, pod},
		{"a tombstone's last known state", cache.DeletedFinalStateUnknown{Key: "ns/p", Obj: pod}, pod},
		{"another type", &corev1.Node{}, nil},
		{"a tombstone of another type", cache.DeletedFinalStateUnknown{Key: "n", Obj: &corev1.Node{}}, nil},
		{"nil", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := EventObject[*corev1.Pod](tc.obj)
			if got != tc.want || ok != (tc.want != nil) {
				t.Fatalf("EventObject = %v, %v", got, ok)
			}
		})
	}
}
