package cache

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

// ErrAlreadyKnown is returned by AssumePod for a pod the cache already
// counts (assumed before, or seen bound).
var ErrAlreadyKnown = errors.New("pod already in the scheduler cache")

// podState is what the cache knows about one pod.
type podState struct {
	info *framework.PodInfo
	node string
	// assumed: counted because the scheduler chose the node, not yet seen
	// bound by the informer.
	assumed bool
	// deadline is when an assumed pod whose bind finished expires; zero
	// while the bind is in flight (it never expires then).
	deadline time.Time
}

// Cache is the scheduler cache. Create it with New.
type Cache struct {
	clock clock.PassiveClock
	ttl   time.Duration

	mu    sync.Mutex
	nodes map[string]*framework.NodeInfo
	// names lists the nodes with a node object, sorted; it is replaced,
	// never modified, when nodes come and go.
	names      []string
	pods       map[string]*podState
	assumed    map[string]struct{}
	namespaces map[string]labels.Set
	// snapshot is the last snapshot, reused until something changes.
	snapshot *framework.Snapshot
}

// New returns an empty cache. ttl is how long an assumed pod whose bind
// succeeded may stay unconfirmed; 0 means forever (kube-scheduler's
// choice since kubernetes#106361, where expiry raced with slow watches).
func New(clk clock.PassiveClock, ttl time.Duration) *Cache {
	return &Cache{
		clock:      clk,
		ttl:        ttl,
		nodes:      map[string]*framework.NodeInfo{},
		pods:       map[string]*podState{},
		assumed:    map[string]struct{}{},
		namespaces: map[string]labels.Set{},
	}
}

func (c *Cache) changed() { c.snapshot = nil }

// AddNode records a node (or replaces it).
func (c *Cache) AddNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[node.Name]
	if !ok {
		n = framework.NewNodeInfo(nil)
	}
	if n.Node() == nil {
		names := append(slices.Clip(c.names), node.Name)
		slices.Sort(names)
		c.names = names
	}
	c.nodes[node.Name] = n.WithNode(node)
	c.changed()
}

// UpdateNode records a changed node.
func (c *Cache) UpdateNode(node *v1.Node) { c.AddNode(node) }

// RemoveNode forgets a node. Pods still bound to it stay counted until
// they are deleted, so they are not lost if the node comes back.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok || n.Node() == nil {
		return
	}
	if i, found := slices.BinarySearch(c.names, name); found {
		c.names = slices.Delete(slices.Clone(c.names), i, i+1)
	}
	if len(n.Pods()) == 0 {
		delete(c.nodes, name)
	} else {
		c.nodes[name] = n.WithNode(nil)
	}
	c.changed()
}

// NodeInfo returns the current state of a node, or nil.
func (c *Cache) NodeInfo(name string) *framework.NodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[name]
	if n == nil || n.Node() == nil {
		return nil
	}
	return n
}

// AssumePod counts pod (whose spec.nodeName is the chosen node) on its
// node before the API server has confirmed the binding.
func (c *Cache) AssumePod(pod *v1.Pod) error {
	key := framework.PodKey(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[key]; ok {
		return fmt.Errorf("assume %s: %w", key, ErrAlreadyKnown)
	}
	c.addLocked(&podState{info: framework.NewPodInfo(pod), node: pod.Spec.NodeName, assumed: true})
	c.assumed[key] = struct{}{}
	return nil
}

// FinishBinding starts the expiry clock of an assumed pod whose bind
// request succeeded.
func (c *Cache) FinishBinding(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[framework.PodKey(pod)]; ok && ps.assumed && c.ttl > 0 {
		ps.deadline = c.clock.Now().Add(c.ttl)
	}
}

// ForgetPod drops an assumed pod whose binding failed. It does nothing to
// a pod the informer has already confirmed.
func (c *Cache) ForgetPod(pod *v1.Pod) {
	key := framework.PodKey(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[key]; ok && ps.assumed {
		c.removeLocked(key, ps)
	}
}

// IsAssumed reports whether the pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(pod *v1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[framework.PodKey(pod)]
	return ok && ps.assumed
}

// AddPod records a pod the informer shows bound to a node, confirming it
// if it was assumed (on whatever node the API server actually put it).
func (c *Cache) AddPod(pod *v1.Pod) {
	key := framework.PodKey(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[key]; ok {
		c.removeLocked(key, ps)
	}
	c.addLocked(&podState{info: framework.NewPodInfo(pod), node: pod.Spec.NodeName})
}

// UpdatePod records a changed bound pod.
func (c *Cache) UpdatePod(pod *v1.Pod) { c.AddPod(pod) }

// RemovePod forgets a deleted (or finished) pod.
func (c *Cache) RemovePod(pod *v1.Pod) {
	key := framework.PodKey(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[key]; ok {
		c.removeLocked(key, ps)
	}
}

func (c *Cache) addLocked(ps *podState) {
	key := ps.info.Key()
	n, ok := c.nodes[ps.node]
	if !ok {
		// The pod's node is not known yet; keep the pod so the node
		// comes with it when it appears.
		n = framework.NewNodeInfo(nil)
	}
	c.nodes[ps.node] = n.WithPod(ps.info)
	c.pods[key] = ps
	c.changed()
}

func (c *Cache) removeLocked(key string, ps *podState) {
	if n, ok := c.nodes[ps.node]; ok {
		n, _ = n.WithoutPod(key)
		if n.Node() == nil && len(n.Pods()) == 0 {
			delete(c.nodes, ps.node)
		} else {
			c.nodes[ps.node] = n
		}
	}
	delete(c.pods, key)
	delete(c.assumed, key)
	c.changed()
}

// SetNamespace records a namespace's labels.
func (c *Cache) SetNamespace(ns *v1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := maps.Clone(c.namespaces)
	m[ns.Name] = labels.Set(ns.Labels)
	c.namespaces = m
	c.changed()
}

// RemoveNamespace forgets a namespace.
func (c *Cache) RemoveNamespace(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := maps.Clone(c.namespaces)
	delete(m, name)
	c.namespaces = m
	c.changed()
}

// Snapshot returns the state for a decision, after expiring assumed pods
// whose confirmation is overdue. The result is immutable.
func (c *Cache) Snapshot() *framework.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
	if c.snapshot == nil {
		infos := make([]*framework.NodeInfo, len(c.names))
		for i, name := range c.names {
			infos[i] = c.nodes[name]
		}
		c.snapshot = framework.NewSnapshot(infos, c.namespaces)
	}
	return c.snapshot
}

func (c *Cache) expireLocked() {
	if c.ttl <= 0 || len(c.assumed) == 0 {
		return
	}
	now := c.clock.Now()
	for key := range c.assumed {
		ps := c.pods[key]
		if !ps.deadline.IsZero() && now.After(ps.deadline) {
			c.removeLocked(key, ps)
		}
	}
}
