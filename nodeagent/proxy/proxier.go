package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	listersdiscoveryv1 "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Options configure a Proxier.
type Options struct {
	Client kubernetes.Interface
	// Informers is the factory to take the Service, EndpointSlice and
	// Node informers from; nil makes one. It must not filter those
	// resources (the agent's pod factory, filtered by node, will not do).
	Informers informers.SharedInformerFactory
	// ClusterID is the cluster's identity (nodeagent.ClusterID), which
	// chain names carry so that clusters sharing a host never touch each
	// other's rules.
	ClusterID string
	// NodeName is this node.
	NodeName string
	// NodeIPs are this node's addresses. Other nodes reporting one of
	// them as an InternalIP share this host (agents on one Docker
	// engine): their endpoints count as local.
	NodeIPs []string
	// Mode is ModeIPTables, ModeUserspace, or "" to use iptables where it
	// works and userspace elsewhere.
	Mode   string
	Logger *slog.Logger
	// MinSyncInterval (100 ms) is the least time between two syncs:
	// changes arriving meanwhile are applied together by the next one.
	MinSyncInterval time.Duration
	// SyncPeriod (30 s) is how often the node's rules are checked and
	// re-synced without any change.
	SyncPeriod time.Duration
	// OnSync, if set, is called after every sync attempt (benchmarks).
	OnSync func(SyncResult)
}

// SyncResult describes one sync.
type SyncResult struct {
	Mode string
	// Full is true when every chain was rewritten.
	Full bool
	// ServicePorts is how many service ports the node serves; Written how
	// many chains (iptables) or listeners (userspace) this sync wrote.
	ServicePorts, Written int
	// Duration is how long the sync took, rule generation included.
	Duration time.Duration
	// Latency is from the oldest change this sync applied (the informer
	// event) to its rules being in place.
	Latency time.Duration
	// NetworkProgramming is from the oldest
	// endpoints.kubernetes.io/last-change-trigger-time of the
	// EndpointSlices this sync applied to its rules being in place: the
	// pod change → rule latency (upstream's network programming
	// duration). Zero when no slice carried the annotation.
	NetworkProgramming time.Duration
	Err                error
}

// Proxier keeps one node's Service rules in step with the API.
type Proxier struct {
	opts     Options
	log      *slog.Logger
	mode     string
	ipt      iptables
	factory  informers.SharedInformerFactory
	recorder record.EventRecorder
	stopRec  func()

	services  listerscorev1.ServiceLister
	slices    listersdiscoveryv1.EndpointSliceLister
	nodes     listerscorev1.NodeLister
	hasSynced []cache.InformerSynced

	// trigger wakes the sync loop; one pending wake-up is enough.
	trigger chan struct{}

	mu sync.Mutex
	// pendingSince is when the oldest change not yet applied arrived;
	// pendingTrigger the oldest trigger-time annotation among them.
	pendingSince, pendingTrigger time.Time
	forceFull                    bool

	synced     chan struct{}
	syncedOnce sync.Once

	// warned holds the Services already warned about (a feature the
	// proxy does not enforce), by UID.
	warned map[types.UID]bool

	// routeLocalnet is the sysctl file the iptables mode sets, flows
	// what clears stale UDP conntrack entries (tests replace both).
	routeLocalnet string
	flows         flowCleaner
	// sysfs is /sys, where hairpin mode is set (a temporary directory in
	// tests).
	sysfs string
}

// New checks the options and picks the mode; Run starts the proxy.
func New(o Options) (*Proxier, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ipt iptables
	mode := o.Mode
	switch o.Mode {
	case ModeIPTables:
		e, err := newExecIPTables(ctx)
		if err != nil {
			return nil, fmt.Errorf("proxy mode iptables: %w", err)
		}
		ipt = e
	case ModeUserspace:
	case "":
		if e, err := newExecIPTables(ctx); err == nil {
			mode, ipt = ModeIPTables, e
		} else {
			o.Logger.Warn("iptables unavailable; using the userspace proxy", "err", err)
			mode = ModeUserspace
		}
	default:
		return nil, fmt.Errorf("proxy: unknown mode %q (want %s or %s)", o.Mode, ModeIPTables, ModeUserspace)
	}
	return newProxier(o, mode, ipt)
}

func (o *Options) defaults() error {
	if o.Client == nil {
		return errors.New("proxy: a client is required")
	}
	if o.NodeName == "" {
		return errors.New("proxy: a node name is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinSyncInterval <= 0 {
		o.MinSyncInterval = 100 * time.Millisecond
	}
	if o.SyncPeriod <= 0 {
		o.SyncPeriod = 30 * time.Second
	}
	return nil
}

// newProxier wires a Proxier for a decided mode (tests pass a fake
// iptables).
func newProxier(o Options, mode string, ipt iptables) (*Proxier, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	p := &Proxier{opts: o, log: o.Logger, mode: mode, ipt: ipt, trigger: make(chan struct{}, 1), synced: make(chan struct{}), forceFull: true, routeLocalnet: routeLocalnet, flows: newFlowCleaner(), sysfs: "/sys", warned: map[types.UID]bool{}}
	p.factory = o.Informers
	if p.factory == nil {
		p.factory = informers.NewSharedInformerFactory(o.Client, 0)
	}
	svc := p.factory.Core().V1().Services()
	eps := p.factory.Discovery().V1().EndpointSlices()
	nodes := p.factory.Core().V1().Nodes()
	p.services, p.slices, p.nodes = svc.Lister(), eps.Lister(), nodes.Lister()
	p.hasSynced = []cache.InformerSynced{svc.Informer().HasSynced, eps.Informer().HasSynced, nodes.Informer().HasSynced}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svc.Informer(), p.changeHandler(func(_, _ any) bool { return true })},
		{eps.Informer(), p.changeHandler(func(_, _ any) bool { return true })},
		// Nodes post status every few seconds; only their addresses
		// matter here.
		{nodes.Informer(), p.changeHandler(func(o, n any) bool {
			on, ok1 := o.(*corev1.Node)
			nn, ok2 := n.(*corev1.Node)
			return !ok1 || !ok2 || !sameAddresses(on, nn)
		})},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, err
		}
	}
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: o.Client.CoreV1().Events("")})
	p.recorder = b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "skiff-proxy", Host: o.NodeName})
	p.stopRec = b.Shutdown
	return p, nil
}

// Mode is the mode in use: ModeIPTables or ModeUserspace.
func (p *Proxier) Mode() string { return p.mode }

// Synced is closed once the first sync after Run has been applied.
func (p *Proxier) Synced() <-chan struct{} { return p.synced }

// changeHandler notes a change (when relevant says so) and wakes the sync
// loop. The loop reads the listers, so the event itself carries nothing
// but its time.
func (p *Proxier) changeHandler(relevant func(old, cur any) bool) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { p.noteChange(obj) },
		UpdateFunc: func(old, cur any) {
			if sameResourceVersion(old, cur) || !relevant(old, cur) {
				return
			}
			p.noteChange(cur)
		},
		DeleteFunc: func(obj any) { p.noteChange(obj) },
	}
}

func sameResourceVersion(old, cur any) bool {
	o, ok1 := old.(interface{ GetResourceVersion() string })
	c, ok2 := cur.(interface{ GetResourceVersion() string })
	// An informer resync delivers the same version again; an empty
	// version (fake clients) says nothing, so it counts as a change.
	return ok1 && ok2 && o.GetResourceVersion() != "" && o.GetResourceVersion() == c.GetResourceVersion()
}

func sameAddresses(a, b *corev1.Node) bool {
	if len(a.Status.Addresses) != len(b.Status.Addresses) {
		return false
	}
	for i := range a.Status.Addresses {
		if a.Status.Addresses[i] != b.Status.Addresses[i] {
			return false
		}
	}
	return true
}

func (p *Proxier) noteChange(obj any) {
	now := time.Now()
	var trigger time.Time
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
		if v := s.Annotations[corev1.EndpointsLastChangeTriggerTime]; v != "" {
			trigger, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	p.mu.Lock()
	if p.pendingSince.IsZero() {
		p.pendingSince = now
	}
	if !trigger.IsZero() && (p.pendingTrigger.IsZero() || trigger.Before(p.pendingTrigger)) {
		p.pendingTrigger = trigger
	}
	p.mu.Unlock()
	p.wake()
}

func (p *Proxier) wake() {
	select {
	case p.trigger <- struct{}{}:
	default:
	}
}

// Run serves Services on the node until ctx ends. Rules stay in place
// when it returns: Services keep answering across an agent restart, and
// the next Run picks them up (Cleanup removes them).
func (p *Proxier) Run(ctx context.Context) error {
	defer p.stopRec()
	var cfg clusterConfig
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		var err error
		if cfg, err = readClusterConfig(ctx, p.opts.Client); err == nil {
			break
		}
		p.log.Warn("service proxy waits for the cluster settings", "err", err, "retryIn", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
	params := ruleParams{Prefix: NodeChainPrefix(p.opts.ClusterID, p.opts.NodeName), ServiceCIDR: cfg.ServiceCIDR.String()}
	if cfg.ClusterCIDR.IsValid() {
		params.ClusterCIDR = cfg.ClusterCIDR.String()
	}
	var be backend
	switch p.mode {
	case ModeIPTables:
		ib := newIPTablesBackend(p.ipt, params, p.flows, p.log)
		ib.sysctl = p.routeLocalnet
		ib.clusterCIDR, ib.sysfs = cfg.ClusterCIDR, p.sysfs
		be = ib
	default:
		be = newUserspaceBackend(userspaceOptions{
			ClusterCIDR: cfg.ClusterCIDR, Log: p.log,
			Report: p.reportPortError,
		})
	}
	defer be.close()
	if err := be.prepare(ctx); err != nil {
		return fmt.Errorf("service proxy (%s): %w", be.name(), err)
	}
	p.log.Info("service proxy starting", "mode", be.name(), "chainPrefix", params.Prefix,
		"clusterCIDR", params.ClusterCIDR, "serviceCIDR", params.ServiceCIDR,
		"nodePortRange", fmt.Sprintf("%d-%d", cfg.NodePortMin, cfg.NodePortMax))

	p.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), p.hasSynced...) {
		return ctx.Err()
	}
	p.wake()

	periodic := time.NewTicker(p.opts.SyncPeriod)
	defer periodic.Stop()
	var retry <-chan time.Time
	backoff := time.Second
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.trigger:
		case <-retry:
		case <-periodic.C:
			if err := be.check(ctx); err != nil {
				p.log.Warn("service rules drifted; resyncing all", "err", err)
				p.mu.Lock()
				p.forceFull = true
				p.mu.Unlock()
			}
		}
		// Coalesce bursts: at most one sync per MinSyncInterval.
		if wait := time.Until(last.Add(p.opts.MinSyncInterval)); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		last = time.Now()
		if err := p.syncOnce(ctx, be); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.log.Error("service proxy sync failed", "err", err, "retryIn", backoff)
			retry = time.After(backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		retry, backoff = nil, time.Second
	}
}

// syncOnce applies the listers' current state.
func (p *Proxier) syncOnce(ctx context.Context, be backend) error {
	p.mu.Lock()
	since, trigger, force := p.pendingSince, p.pendingTrigger, p.forceFull
	p.pendingSince, p.pendingTrigger, p.forceFull = time.Time{}, time.Time{}, false
	p.mu.Unlock()

	start := time.Now()
	ports, err := p.snapshot()
	var st syncStats
	if err == nil {
		st, err = be.sync(ctx, ports, force)
	}
	done := time.Now()
	res := SyncResult{Mode: be.name(), Full: st.Full, ServicePorts: len(ports), Written: st.Chains, Duration: done.Sub(start), Err: err}
	if err != nil {
		// Keep the changes pending: the retry applies them.
		p.mu.Lock()
		if !since.IsZero() && (p.pendingSince.IsZero() || since.Before(p.pendingSince)) {
			p.pendingSince = since
		}
		if !trigger.IsZero() && (p.pendingTrigger.IsZero() || trigger.Before(p.pendingTrigger)) {
			p.pendingTrigger = trigger
		}
		p.forceFull = true
		p.mu.Unlock()
	} else {
		if !since.IsZero() {
			res.Latency = done.Sub(since)
		}
		if !trigger.IsZero() {
			res.NetworkProgramming = done.Sub(trigger)
		}
		p.syncedOnce.Do(func() { close(p.synced) })
		level := slog.LevelDebug
		if st.Full || res.Duration > time.Second {
			level = slog.LevelInfo
		}
		p.log.Log(ctx, level, "service rules synced", "mode", res.Mode, "full", res.Full, "servicePorts", res.ServicePorts,
			"written", res.Written, "duration", res.Duration, "latency", res.Latency, "networkProgramming", res.NetworkProgramming)
	}
	if p.opts.OnSync != nil {
		p.opts.OnSync(res)
	}
	return err
}

// snapshot reads the service ports from the listers.
func (p *Proxier) snapshot() ([]servicePort, error) {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	slices, err := p.slices.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	local, err := p.localNodes()
	if err != nil {
		return nil, err
	}
	for _, svc := range svcs {
		if len(svc.Spec.LoadBalancerSourceRanges) > 0 && svc.Spec.Type == corev1.ServiceTypeLoadBalancer && !p.warned[svc.UID] {
			p.warned[svc.UID] = true
			p.recorder.Eventf(svc, corev1.EventTypeWarning, "LoadBalancerSourceRangesIgnored",
				"node %s does not enforce spec.loadBalancerSourceRanges: the Service answers every source", p.opts.NodeName)
			p.log.Warn("loadBalancerSourceRanges not enforced", "service", svc.Namespace+"/"+svc.Name)
		}
	}
	return buildServicePorts(svcs, slices, func(n string) bool { return local[n] }), nil
}

// localNodes are this node and the nodes sharing its host: the same
// network namespace, so "local" endpoints for the Local traffic policies
// (Docker's bridge is one for all of them).
func (p *Proxier) localNodes() (map[string]bool, error) {
	local := map[string]bool{p.opts.NodeName: true}
	mine := map[netip.Addr]bool{}
	for _, s := range p.opts.NodeIPs {
		if a, err := netip.ParseAddr(s); err == nil && !a.IsLoopback() && !a.IsUnspecified() {
			mine[a] = true
		}
	}
	if len(mine) == 0 {
		return local, nil
	}
	nodes, err := p.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && mine[ip] {
				local[n.Name] = true
			}
		}
	}
	return local, nil
}

// reportPortError records a Warning event on a Service the node cannot
// serve (userspace mode: a port in use, an address it may not take).
func (p *Proxier) reportPortError(sp servicePort, err error) {
	ref := &corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: sp.Name.Namespace, Name: sp.Name.Name}
	p.recorder.Eventf(ref, corev1.EventTypeWarning, "ProxyFailed", "node %s cannot serve port %s: %v", p.opts.NodeName, sp.Name.String(), err)
	p.log.Warn("service port not served", "service", sp.Name.String(), "err", err)
}
