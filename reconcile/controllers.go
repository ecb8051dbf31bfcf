package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/reconcile/cronjob"
	"github.com/skiff-dev/skiff/reconcile/daemonset"
	"github.com/skiff-dev/skiff/reconcile/deployment"
	"github.com/skiff-dev/skiff/reconcile/endpoints"
	"github.com/skiff-dev/skiff/reconcile/endpointslice"
	"github.com/skiff-dev/skiff/reconcile/gc"
	"github.com/skiff-dev/skiff/reconcile/gitsync/gitrepository"
	"github.com/skiff-dev/skiff/reconcile/gitsync/kustomization"
	"github.com/skiff-dev/skiff/reconcile/gitsync/receiver"
	"github.com/skiff-dev/skiff/reconcile/job"
	"github.com/skiff-dev/skiff/reconcile/manager"
	"github.com/skiff-dev/skiff/reconcile/namespace"
	"github.com/skiff-dev/skiff/reconcile/nodelifecycle"
	"github.com/skiff-dev/skiff/reconcile/replicaset"
	"github.com/skiff-dev/skiff/reconcile/serviceaccount"
	"github.com/skiff-dev/skiff/reconcile/servicelb"
	"github.com/skiff-dev/skiff/reconcile/statefulset"
)

// ControllerNames are every controller skiff server runs, by the names
// kube-controller-manager's --controllers flag uses.
var ControllerNames = []string{
	"deployment", "replicaset", "garbagecollector", "namespace", "nodelifecycle",
	"endpointslice", "endpoint", "serviceaccount", "job", "cronjob", "daemonset", "statefulset",
	servicelb.Name, gitrepository.Name, kustomization.Name, receiver.Name,
}

func newController(name string, d *manager.Deps, o Options) (manager.Controller, error) {
	switch name {
	case "deployment":
		return deployment.New(d)
	case "replicaset":
		return replicaset.New(d)
	case "garbagecollector":
		return gc.New(d)
	case "namespace":
		return namespace.New(d)
	case "nodelifecycle":
		return nodelifecycle.New(d, o.NodeLifecycle)
	case "endpointslice":
		return endpointslice.New(d)
	case "endpoint":
		return endpoints.New(d)
	case "serviceaccount":
		return serviceaccount.New(d)
	case "job":
		return job.New(d)
	case "cronjob":
		return cronjob.New(d)
	case "daemonset":
		return daemonset.New(d)
	case "statefulset":
		return statefulset.New(d)
	case servicelb.Name:
		return servicelb.New(d)
	case gitrepository.Name:
		return gitrepository.New(d, o.DataDir)
	case kustomization.Name:
		return kustomization.New(d, o.DataDir)
	case receiver.Name:
		return receiver.New(d, d.Dynamic)
	}
	return nil, fmt.Errorf("unknown controller %q", name)
}

// Options are the controllers' tunables from the command line.
type Options struct {
	// Enabled is kube-controller-manager's --controllers: "*" for all,
	// "name" to enable, "-name" to disable. Empty means all.
	Enabled       []string
	NodeLifecycle nodelifecycle.Options
	Logger        *slog.Logger
	// Identity names this server in the leader lease (default hostname_pid).
	Identity string
	// DataDir is the server's --data-dir; the GitOps controllers keep
	// their artifacts under <DataDir>/gitsync. Empty: Start leaves those
	// two controllers out.
	DataDir string
}

// Selected resolves Enabled to the names to run, refusing unknown ones
// (a typo must not silently turn a controller off).
func (o Options) Selected() ([]string, error) {
	if len(o.Enabled) == 0 {
		return slices.Clone(ControllerNames), nil
	}
	all := false
	on, off := map[string]bool{}, map[string]bool{}
	for _, e := range o.Enabled {
		e = strings.TrimSpace(e)
		switch {
		case e == "*":
			all = true
		case strings.HasPrefix(e, "-"):
			off[e[1:]] = true
		case e != "":
			on[e] = true
		}
	}
	for _, set := range []map[string]bool{on, off} {
		for n := range set {
			if !slices.Contains(ControllerNames, n) {
				return nil, fmt.Errorf("--controllers: unknown controller %q (known: %s)", n, strings.Join(ControllerNames, ", "))
			}
		}
	}
	var out []string
	for _, n := range ControllerNames {
		if (all || on[n]) && !off[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// Start builds the selected controllers and runs them under one manager
// (leader elected through a Lease) until ctx ends. cfg is the API
// server's; the controllers get their own copy with a higher rate limit.
// A configuration error is returned at once; losing the lease later
// (etcd stalled past the renew deadline) stops that term's controllers
// and informers, and Start's goroutine builds them afresh and campaigns
// again, so the server never lives on without controllers.
func Start(ctx context.Context, cfg *rest.Config, o Options) error {
	names, err := o.Selected()
	if err != nil {
		return err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.DataDir == "" {
		// The GitOps controllers store artifacts on disk; callers with no
		// data directory (benchmarks over an in-process API server) run
		// the rest.
		names = slices.DeleteFunc(names, func(n string) bool { return n == gitrepository.Name || n == kustomization.Name })
		log.Info("no data directory: the gitrepository and kustomization controllers are not started")
	}
	mcfg := rest.CopyConfig(cfg)
	// Controllers write in bursts (a 1,000-replica scale-up); client-go's
	// default 5 QPS would take minutes. kube-controller-manager runs
	// with 20/30 against far bigger clusters, but over a network to a
	// shared API server; this one is local and ours.
	mcfg.QPS, mcfg.Burst = 500, 1000
	build := func() (*manager.Manager, error) {
		m, err := manager.New(mcfg, manager.Options{Logger: log.With("component", "controller-manager"), Identity: o.Identity})
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			c, err := newController(n, m.Deps(), o)
			if err != nil {
				return nil, fmt.Errorf("controller %s: %w", n, err)
			}
			m.Add(c)
		}
		return m, nil
	}
	m, err := build()
	if err != nil {
		return err
	}
	go func() {
		for {
			err := m.Start(ctx)
			if ctx.Err() != nil {
				return
			}
			log.Error("controller manager stopped; rebuilding the controllers and campaigning again", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			if m, err = build(); err != nil {
				log.Error("controller manager", "err", err)
				return
			}
		}
	}()
	return nil
}
