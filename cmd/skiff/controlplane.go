package main

import (
	"context"
	"fmt"
	"log/slog"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/apiserver"
	"github.com/skiff-dev/skiff/reconcile"
	"github.com/skiff-dev/skiff/scheduler"
)

// controlPlane is a running API server plus the in-process components
// that use it through client-go, exactly as they would from outside.
type controlPlane struct {
	api  *apiserver.Running
	done chan error
}

// startControlPlane starts the API server, then the scheduler and the
// controllers. It returns once the API server is ready; the components run
// until ctx ends.
func startControlPlane(ctx context.Context, o apiserver.RunOptions, co reconcile.Options, log *slog.Logger) (*controlPlane, error) {
	api, err := apiserver.Run(ctx, o)
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{api: api, done: make(chan error, 2)}

	schedClient, err := kubernetes.NewForConfig(scheduler.RESTConfig(api.RESTConfig()))
	if err != nil {
		return nil, fmt.Errorf("scheduler client: %w", err)
	}
	factory := informers.NewSharedInformerFactory(schedClient, 0)
	sched, err := scheduler.New(schedClient, factory, scheduler.Options{Logger: log.With("component", "scheduler")})
	if err != nil {
		return nil, err
	}
	go func() {
		if err := sched.Start(ctx); err != nil {
			log.Error("scheduler stopped", "err", err)
		}
	}()
	co.Logger = log
	if _, err := reconcile.Start(ctx, api.RESTConfig(), co); err != nil {
		return nil, err
	}
	go func() { cp.done <- api.Wait() }()
	return cp, nil
}

// Wait blocks until the API server has stopped.
func (cp *controlPlane) Wait() error { return <-cp.done }
