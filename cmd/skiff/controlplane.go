package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/apiserver"
	"github.com/skiff-dev/skiff/reconcile"
	"github.com/skiff-dev/skiff/reconcile/manager"
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
	identity := leaseIdentity(o)
	schedLog := log.With("component", "scheduler")
	// The scheduler holds its own lease, as kube-scheduler does, so two
	// servers on one etcd never bind the same pod twice; each term starts
	// from fresh informers.
	go manager.Elect(ctx, schedClient, "kube-scheduler", manager.ElectOptions{Logger: schedLog, Identity: identity}, func(ctx context.Context) {
		sched, err := scheduler.New(schedClient, informers.NewSharedInformerFactory(schedClient, 0), scheduler.Options{Logger: schedLog})
		if err != nil {
			schedLog.Error("scheduler", "err", err)
			return
		}
		if err := sched.Start(ctx); err != nil && ctx.Err() == nil {
			schedLog.Error("scheduler stopped", "err", err)
		}
	})
	co.Logger, co.Identity, co.DataDir = log, identity, o.DataDir
	if err := reconcile.Start(ctx, api.RESTConfig(), co); err != nil {
		return nil, err
	}
	go func() { cp.done <- api.Wait() }()
	return cp, nil
}

// Wait blocks until the API server has stopped.
func (cp *controlPlane) Wait() error { return <-cp.done }

// leaseIdentity names this server in its leader leases: the host and its
// data directory, the same across restarts. A server killed with -9 and
// started again so recognises the leases as its own and leads at once,
// instead of waiting out the dead process's 15 s lease (what a pid-based
// identity costs). The embedded etcd locks its data directory, so two
// live servers never share that identity; with an external etcd nothing
// locks the directory, so the process ID is part of it, as upstream's.
func leaseIdentity(o apiserver.RunOptions) string {
	hn, _ := os.Hostname()
	if len(o.EtcdEndpoints) > 0 {
		return fmt.Sprintf("%s_%d", hn, os.Getpid())
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		abs = o.DataDir
	}
	sum := sha256.Sum256([]byte(abs))
	return fmt.Sprintf("%s_%x", hn, sum[:4])
}
