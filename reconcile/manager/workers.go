package manager

import (
	"context"
	"sync"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Failure is what RunWorkers does with a key whose reconcile failed.
type Failure int

const (
	// Retry puts the key back with the queue's rate-limited back-off.
	Retry Failure = iota
	// GiveUp forgets the key (and its back-off) until an event queues it
	// again, as upstream's Deployment controller does after maxRetries.
	GiveUp
)

// RunWorkers is a controller's worker loop, as sample-controller's:
// workers goroutines each take a key from queue, reconcile it, and settle
// it — Forget on success; on failure, onFailure logs as the controller
// wants and says whether to Retry (AddRateLimited) or GiveUp (Forget) —
// and mark it Done, so the queue hands the key to one worker at a time.
//
// It blocks until ctx ends, then shuts the queue down and returns once
// every worker has finished the key it holds: no reconcile is running
// when RunWorkers returns. A key reconcile queues again itself (AddAfter,
// say) is not disturbed: Forget only resets the rate limiter.
func RunWorkers[K comparable](ctx context.Context, queue workqueue.TypedRateLimitingInterface[K], workers int,
	reconcile func(context.Context, K) error, onFailure func(ctx context.Context, key K, err error) Failure) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for processNext(ctx, queue, reconcile, onFailure) {
			}
		})
	}
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
}

// processNext reconciles one key; false once the queue is shut down.
func processNext[K comparable](ctx context.Context, queue workqueue.TypedRateLimitingInterface[K],
	reconcile func(context.Context, K) error, onFailure func(context.Context, K, error) Failure) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	err := reconcile(ctx, key)
	switch {
	case err == nil:
		queue.Forget(key)
	case onFailure(ctx, key, err) == GiveUp:
		queue.Forget(key)
	default:
		queue.AddRateLimited(key)
	}
	return true
}

// EventObject returns the object an informer event carries as a T. A
// delete event may carry a cache.DeletedFinalStateUnknown instead (the
// watch missed the deletion and a relist found the object gone): its last
// known state is returned. ok is false for anything else.
func EventObject[T any](obj any) (_ T, ok bool) {
	if tomb, isTomb := obj.(cache.DeletedFinalStateUnknown); isTomb {
		obj = tomb.Obj
	}
	v, ok := obj.(T)
	return v, ok
}
