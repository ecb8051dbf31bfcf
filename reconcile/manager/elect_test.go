package manager

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"
)

// Two candidates: one leads; when it stops (its context ends, releasing
// the lease) the other takes over.
func TestElectHandsOver(t *testing.T) {
	client := fake.NewClientset()
	fast := func(id string) ElectOptions {
		// Whole seconds: a Lease records its duration in seconds.
		return ElectOptions{Identity: id, LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}
	}
	var mu sync.Mutex
	var leaders []string
	leading := make(chan string, 10)
	run := func(ctx context.Context, id string) {
		Elect(ctx, client, "test-lease", fast(id), func(lctx context.Context) {
			mu.Lock()
			leaders = append(leaders, id)
			mu.Unlock()
			leading <- id
			<-lctx.Done()
		})
	}
	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() { run(ctxA, "a"); close(doneA) }()
	first := wait(t, leading)
	if first != "a" {
		t.Fatalf("first leader %q, want a (the only candidate)", first)
	}
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	go run(ctxB, "b")
	time.Sleep(2500 * time.Millisecond) // longer than the lease: a must be renewing it
	select {
	case id := <-leading:
		t.Fatalf("%s leads while a holds the lease", id)
	default:
	}
	stopA()
	<-doneA
	if got := wait(t, leading); got != "b" {
		t.Fatalf("after a stopped, %q leads; want b", got)
	}
}

func wait(t *testing.T, c <-chan string) string {
	t.Helper()
	select {
	case id := <-c:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("nobody took the lease")
		return ""
	}
}

// A leader that cannot renew (API unreachable) loses the lease, its lead
// function is cancelled, and it leads again once renewals work: a server
// must not live on with its controllers stopped for good.
func TestElectCampaignsAgainAfterLosingTheLease(t *testing.T) {
	client := fake.NewClientset()
	var failing atomic.Bool
	client.PrependReactor("update", "leases", func(ktesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, errors.New("etcd is stalled")
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	terms := make(chan string, 10)
	go Elect(ctx, client, "test-lease", ElectOptions{Identity: "a", LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond},
		func(lctx context.Context) {
			terms <- "start"
			<-lctx.Done()
			terms <- "stop"
		})
	if got := wait(t, terms); got != "start" {
		t.Fatalf("got %q, want the first term to start", got)
	}
	failing.Store(true)
	if got := wait(t, terms); got != "stop" {
		t.Fatalf("got %q, want the term to stop when renewals fail", got)
	}
	failing.Store(false)
	if got := wait(t, terms); got != "start" {
		t.Fatalf("got %q, want a new term once renewals work", got)
	}
}
