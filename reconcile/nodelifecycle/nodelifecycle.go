// Package nodelifecycle notices nodes that stop reporting and moves their
// pods elsewhere, as kube-controller-manager's node lifecycle and taint
// eviction controllers do.
//
// Every MonitorPeriod it compares each node's last sign of life (its Lease
// renewal, or its Ready heartbeat) with GracePeriod; a silent node's
// conditions become Unknown ("Kubelet stopped posting node status."). Node
// conditions map to taints: NoSchedule ones (not-ready, unreachable,
// memory/disk/pid-pressure, unschedulable) at once, so the scheduler keeps
// away; the NoExecute not-ready/unreachable taint through a rate limiter
// (EvictionRate nodes per second), which stops when most of a small
// cluster is down — a control-plane or network problem is more likely
// than that many dead nodes (Kubernetes's partial/full disruption rules).
// Pods on a node with a NoExecute taint are evicted (deleted gracefully)
// when their toleration runs out; the DefaultTolerationSeconds admission
// in the API server gives every pod 300 s unless it says otherwise.
package nodelifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/reconcile/manager"
)

// Options tune the controller; the zero value is kube-controller-manager's defaults.
type Options struct {
	// MonitorPeriod: how often node health is checked (5 s).
	MonitorPeriod time.Duration
	// GracePeriod: how long a node may stay silent before it is Unknown (50 s).
	GracePeriod time.Duration
	// EvictionRate: nodes per second that get the NoExecute taint in a
	// healthy cluster (0.1).
	EvictionRate float64
	// SecondaryEvictionRate: the rate when a large cluster is partly down (0.01).
	SecondaryEvictionRate float64
	// UnhealthyZoneThreshold: the share of not-ready nodes (with more than
	// two) from which a zone counts as partly disrupted (0.55).
	UnhealthyZoneThreshold float64
	// LargeClusterThreshold: above this many nodes a partly disrupted zone
	// keeps evicting at the secondary rate; at or below, it stops (50).
	LargeClusterThreshold int
}

func (o *Options) defaults() {
	if o.MonitorPeriod == 0 {
		o.MonitorPeriod = 5 * time.Second
	}
	if o.GracePeriod == 0 {
		o.GracePeriod = 50 * time.Second
	}
	if o.EvictionRate == 0 {
		o.EvictionRate = 0.1
	}
	if o.SecondaryEvictionRate == 0 {
		o.SecondaryEvictionRate = 0.01
	}
	if o.UnhealthyZoneThreshold == 0 {
		o.UnhealthyZoneThreshold = 0.55
	}
	if o.LargeClusterThreshold == 0 {
		o.LargeClusterThreshold = 50
	}
}

// Controller is the node lifecycle (and taint eviction) controller.
type Controller struct {
	opts     Options
	client   kubernetes.Interface
	log      *slog.Logger
	clock    clock.WithTicker
	recorder record.EventRecorder

	nodes       corelisters.NodeLister
	leases      coordlisters.LeaseLister
	pods        corelisters.PodLister
	nodesSynced cache.InformerSynced
	podsSynced  cache.InformerSynced
	leaseSynced cache.InformerSynced

	evictions workqueue.TypedDelayingInterface[string] // pod keys

	mu      sync.Mutex
	limiter map[string]flowcontrol.RateLimiter // per zone
	rate    map[string]float64
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps, o Options) (*Controller, error) {
	o.defaults()
	c := &Controller{
		opts: o, client: d.Client, log: d.Logger.With("controller", "nodelifecycle"), clock: d.Clock,
		recorder: d.Recorder("node-controller"),
		limiter:  map[string]flowcontrol.RateLimiter{}, rate: map[string]float64{},
		evictions: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{
			Name: "taint-eviction", Clock: d.Clock,
		}),
	}
	ni := d.Informers.Core().V1().Nodes()
	pi := d.Informers.Core().V1().Pods()
	li := d.Informers.Coordination().V1().Leases()
	c.nodes, c.pods, c.leases = ni.Lister(), pi.Lister(), li.Lister()
	c.nodesSynced, c.podsSynced, c.leaseSynced = ni.Informer().HasSynced, pi.Informer().HasSynced, li.Informer().HasSynced
	// A node's taints changing re-evaluates its pods; a pod landing on a
	// tainted node is evaluated.
	if _, err := ni.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.nodeChanged(o) },
		UpdateFunc: func(_, o any) { c.nodeChanged(o) },
	}); err != nil {
		return nil, err
	}
	if _, err := pi.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.podChanged(o) },
		UpdateFunc: func(_, o any) { c.podChanged(o) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "nodelifecycle" }

// Run monitors nodes and evicts pods until ctx ends.
// It returns only once its eviction workers have finished, so no API
// call of a stopped controller is still in flight.
func (c *Controller) Run(ctx context.Context) error {
	var workers sync.WaitGroup
	defer workers.Wait()
	defer c.evictions.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.nodesSynced, c.podsSynced, c.leaseSynced) {
		return ctx.Err()
	}
	for i := 0; i < 4; i++ {
		workers.Go(func() {
			for c.processEviction(ctx) {
			}
		})
	}
	t := c.clock.NewTicker(c.opts.MonitorPeriod)
	defer t.Stop()
	for {
		if err := c.monitor(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("node monitor pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// lastSeen is the node's last sign of life.
func (c *Controller) lastSeen(n *corev1.Node) time.Time {
	t := n.CreationTimestamp.Time
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.LastHeartbeatTime.After(t) {
			t = cond.LastHeartbeatTime.Time
		}
	}
	if l, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(n.Name); err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(t) {
		t = l.Spec.RenewTime.Time
	}
	return t
}

// readyStatus is the node's Ready condition status, "" when it has none
// yet: a node that just registered is left alone (no taints) until it
// posts status or its grace period runs out, as upstream does.
func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status
		}
	}
	return ""
}

func zoneOf(n *corev1.Node) string {
	if z := n.Labels[corev1.LabelTopologyZone]; z != "" {
		return z
	}
	return n.Labels[corev1.LabelFailureDomainBetaZone]
}

// ZoneState is a zone's health, as the node lifecycle controller judges it.
type ZoneState string

// Zone states.
const (
	StateNormal            ZoneState = "Normal"
	StatePartialDisruption ZoneState = "PartialDisruption"
	StateFullDisruption    ZoneState = "FullDisruption"
)

// zoneState is Kubernetes's ComputeZoneState: fully disrupted when no
// node is ready, partly when more than two are not and they are at least
// the threshold share.
func zoneState(ready, notReady int, threshold float64) ZoneState {
	switch {
	case ready == 0 && notReady > 0:
		return StateFullDisruption
	case notReady > 2 && float64(notReady)/float64(ready+notReady) >= threshold:
		return StatePartialDisruption
	}
	return StateNormal
}

// evictionRate is the tainting rate for a zone in a cluster of size nodes.
func evictionRate(state ZoneState, clusterSize int, o Options, allZonesDown bool) float64 {
	if allZonesDown {
		// Every zone down: most likely the control plane or the network,
		// not the nodes. Evict nothing.
		return 0
	}
	switch state {
	case StateFullDisruption:
		return o.EvictionRate
	case StatePartialDisruption:
		if clusterSize > o.LargeClusterThreshold {
			return o.SecondaryEvictionRate
		}
		return 0
	}
	return o.EvictionRate
}

// monitor is one pass over all nodes.
func (c *Controller) monitor(ctx context.Context) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	now := c.clock.Now()
	// 1. Silent nodes become Unknown.
	for _, n := range nodes {
		if now.Sub(c.lastSeen(n)) <= c.opts.GracePeriod || readyStatus(n) == corev1.ConditionUnknown && allUnknown(n) {
			continue
		}
		if err := c.markUnknown(ctx, n, now); err != nil && !apierrors.IsNotFound(err) {
			c.log.Warn("mark node unknown", "node", n.Name, "err", err)
		}
	}
	nodes, err = c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	// 2. Zone health decides the NoExecute tainting rate.
	type counts struct{ ready, notReady int }
	zones := map[string]*counts{}
	for _, n := range nodes {
		z := zoneOf(n)
		if zones[z] == nil {
			zones[z] = &counts{}
		}
		if readyStatus(n) == corev1.ConditionTrue {
			zones[z].ready++
		} else {
			zones[z].notReady++
		}
	}
	allDown := len(zones) > 0
	for _, z := range zones {
		if z.ready > 0 {
			allDown = false
		}
	}
	for name, z := range zones {
		state := zoneState(z.ready, z.notReady, c.opts.UnhealthyZoneThreshold)
		c.setRate(name, evictionRate(state, len(nodes), c.opts, allDown), state)
	}
	// 3. Taints follow conditions.
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	for _, n := range nodes {
		if err := c.reconcileTaints(ctx, n, now); err != nil && !apierrors.IsNotFound(err) {
			c.log.Warn("node taints", "node", n.Name, "err", err)
		}
	}
	return nil
}

func allUnknown(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		switch cond.Type {
		case corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure:
			if cond.Status != corev1.ConditionUnknown {
				return false
			}
		}
	}
	return true
}

func (c *Controller) setRate(zone string, rate float64, state ZoneState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limiter[zone] != nil && c.rate[zone] == rate {
		return
	}
	c.log.Info("zone eviction rate", "zone", zone, "state", state, "nodesPerSecond", rate)
	c.rate[zone] = rate
	if rate <= 0 {
		c.limiter[zone] = flowcontrol.NewFakeNeverRateLimiter()
		return
	}
	c.limiter[zone] = flowcontrol.NewTokenBucketRateLimiterWithClock(float32(rate), 1, c.clock)
}

func (c *Controller) allowTaint(zone string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.limiter[zone]
	return l != nil && l.TryAccept()
}

// markUnknown sets the conditions of a silent node to Unknown.
func (c *Controller) markUnknown(ctx context.Context, n *corev1.Node, now time.Time) error {
	n = n.DeepCopy()
	ts := metav1.NewTime(now)
	found := map[corev1.NodeConditionType]bool{}
	for i := range n.Status.Conditions {
		cond := &n.Status.Conditions[i]
		switch cond.Type {
		case corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure:
			found[cond.Type] = true
			if cond.Status != corev1.ConditionUnknown {
				cond.Status, cond.LastTransitionTime = corev1.ConditionUnknown, ts
			}
			cond.Reason, cond.Message = "NodeStatusUnknown", "Kubelet stopped posting node status."
		}
	}
	if !found[corev1.NodeReady] {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.", LastTransitionTime: ts, LastHeartbeatTime: n.CreationTimestamp})
	}
	c.log.Info("node stopped posting status", "node", n.Name, "lastSeen", c.lastSeen(n))
	c.recorder.Eventf(n, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", n.Name)
	_, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

// conditionTaints are the NoSchedule taints a node's conditions imply
// (TaintNodesByCondition).
func conditionTaints(n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	add := func(key string) { out = append(out, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}) }
	switch readyStatus(n) {
	case corev1.ConditionFalse:
		add(corev1.TaintNodeNotReady)
	case corev1.ConditionUnknown:
		add(corev1.TaintNodeUnreachable)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case corev1.NodeMemoryPressure:
			add(corev1.TaintNodeMemoryPressure)
		case corev1.NodeDiskPressure:
			add(corev1.TaintNodeDiskPressure)
		case corev1.NodePIDPressure:
			add(corev1.TaintNodePIDPressure)
		case corev1.NodeNetworkUnavailable:
			add(corev1.TaintNodeNetworkUnavailable)
		}
	}
	if n.Spec.Unschedulable {
		add(corev1.TaintNodeUnschedulable)
	}
	return out
}

// managedKeys are the taints this controller owns; any others on the node
// are left alone.
var managedKeys = map[string]bool{
	corev1.TaintNodeNotReady: true, corev1.TaintNodeUnreachable: true, corev1.TaintNodeMemoryPressure: true,
	corev1.TaintNodeDiskPressure: true, corev1.TaintNodePIDPressure: true, corev1.TaintNodeNetworkUnavailable: true,
	corev1.TaintNodeUnschedulable: true,
}

// reconcileTaints makes the node's condition taints match its conditions.
// The NoExecute taint goes on through the zone's rate limiter, and comes
// off as soon as the node is Ready again.
func (c *Controller) reconcileTaints(ctx context.Context, n *corev1.Node, now time.Time) error {
	want := conditionTaints(n)
	var noExec string
	switch readyStatus(n) {
	case corev1.ConditionFalse:
		noExec = corev1.TaintNodeNotReady
	case corev1.ConditionUnknown:
		noExec = corev1.TaintNodeUnreachable
	}
	var next []corev1.Taint
	hasNoExec := false
	for _, t := range n.Spec.Taints {
		if !managedKeys[t.Key] {
			next = append(next, t)
			continue
		}
		if t.Effect == corev1.TaintEffectNoExecute && t.Key == noExec {
			next = append(next, t) // keep it, with its original timeAdded
			hasNoExec = true
		}
	}
	next = append(next, want...)
	if noExec != "" && !hasNoExec {
		if c.allowTaint(zoneOf(n)) {
			ts := metav1.NewTime(now)
			next = append(next, corev1.Taint{Key: noExec, Effect: corev1.TaintEffectNoExecute, TimeAdded: &ts})
			c.log.Info("tainting node for eviction", "node", n.Name, "taint", noExec)
		}
	}
	if sameTaints(n.Spec.Taints, next) {
		return nil
	}
	n = n.DeepCopy()
	n.Spec.Taints = next
	_, err := c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	return err
}

func sameTaints(a, b []corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(t corev1.Taint) string { return t.Key + "=" + t.Value + ":" + string(t.Effect) }
	seen := map[string]int{}
	for _, t := range a {
		seen[key(t)]++
	}
	for _, t := range b {
		seen[key(t)]--
	}
	for _, v := range seen {
		if v != 0 {
			return false
		}
	}
	return true
}

func (c *Controller) nodeChanged(o any) {
	n, ok := o.(*corev1.Node)
	if !ok || !hasNoExecute(n) {
		return
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	for _, p := range pods {
		if p.Spec.NodeName == n.Name {
			c.evictions.Add(p.Namespace + "/" + p.Name)
		}
	}
}

func (c *Controller) podChanged(o any) {
	p, ok := o.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" || p.DeletionTimestamp != nil {
		return
	}
	if n, err := c.nodes.Get(p.Spec.NodeName); err == nil && hasNoExecute(n) {
		c.evictions.Add(p.Namespace + "/" + p.Name)
	}
}

func hasNoExecute(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

// EvictAt says when a pod must leave a node with these taints: the zero
// time for "now", ok=false for "never". A taint the pod does not tolerate
// evicts at once; tolerated ones after the shortest tolerationSeconds,
// counted from when the taint was added.
func EvictAt(pod *corev1.Pod, taints []corev1.Taint) (time.Time, bool) {
	var at time.Time
	evict := false
	for _, t := range taints {
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		var tol *corev1.Toleration
		for i := range pod.Spec.Tolerations {
			if pod.Spec.Tolerations[i].ToleratesTaint(klog.Background(), &t, false) {
				tol = &pod.Spec.Tolerations[i]
				if tol.TolerationSeconds == nil {
					break // tolerated forever by this one
				}
			}
		}
		if tol == nil {
			return time.Time{}, true
		}
		if tol.TolerationSeconds == nil {
			continue
		}
		added := time.Time{}
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		when := added.Add(time.Duration(max(*tol.TolerationSeconds, 0)) * time.Second)
		if !evict || when.Before(at) {
			at, evict = when, true
		}
	}
	return at, evict
}

func (c *Controller) processEviction(ctx context.Context) bool {
	key, quit := c.evictions.Get()
	if quit {
		return false
	}
	defer c.evictions.Done(key)
	if err := c.maybeEvict(ctx, key); err != nil && ctx.Err() == nil {
		c.log.Warn("eviction failed", "pod", key, "err", err)
		c.evictions.AddAfter(key, time.Second)
	}
	return true
}

func (c *Controller) maybeEvict(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil || pod.DeletionTimestamp != nil || pod.Spec.NodeName == "" {
		return nil
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if err != nil {
		return nil
	}
	at, evict := EvictAt(pod, node.Spec.Taints)
	if !evict {
		return nil
	}
	if wait := at.Sub(c.clock.Now()); wait > 0 {
		c.evictions.AddAfter(key, wait)
		return nil
	}
	c.recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s", key)
	err = c.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("evict %s: %w", key, err)
	}
	c.log.Info("evicted pod from tainted node", "pod", key, "node", node.Name)
	return nil
}
