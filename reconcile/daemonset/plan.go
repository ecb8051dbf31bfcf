package daemonset

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// This file is the controller's pure core: given a DaemonSet, the nodes
// and the daemon pods on them, decide which nodes need a pod and which
// pods must go. Nothing here does I/O or reads the clock.

func podReady(p *corev1.Pod) (bool, time.Time) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue, c.LastTransitionTime.Time
		}
	}
	return false, time.Time{}
}

// podAvailable: ready for at least minReadySeconds, as upstream's
// IsPodAvailable.
func podAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	ready, since := podReady(p)
	if !ready {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	return !since.IsZero() && since.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

// templateGenerationLabel is the pre-revision label of daemon pods
// (extensions/v1beta1's DaemonSetTemplateGenerationKey).
const templateGenerationLabel = "pod-template-generation"

// templateGeneration is the DaemonSet's deprecated template generation
// annotation, which pods created before controller revisions carried as
// a label. Kept so such pods still count as up to date, as upstream.
func templateGeneration(ds *appsv1.DaemonSet) *int64 {
	v, ok := ds.Annotations[appsv1.DeprecatedTemplateGeneration]
	if !ok {
		return nil
	}
	g, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &g
}

// podUpdated reports whether pod runs ds's current template.
func podUpdated(pod *corev1.Pod, hash string, generation *int64) bool {
	if hash != "" && pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
		return true
	}
	return generation != nil && pod.Labels[templateGenerationLabel] == strconv.FormatInt(*generation, 10)
}

// sortOldestFirst orders daemon pods bound ones first, then by creation
// time and name: the first is the one a node keeps.
func sortOldestFirst(pods []*corev1.Pod) {
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int {
		if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
			if a.Spec.NodeName != "" {
				return -1
			}
			return 1
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			if a.CreationTimestamp.Before(&b.CreationTimestamp) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
}

// surgeCount and unavailableCount resolve the RollingUpdate bounds
// against the number of nodes that should run a pod (rounding up, as
// upstream). OnDelete has neither.
func surgeCount(ds *appsv1.DaemonSet, desired int) (int, error) {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil || r.MaxSurge == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(r.MaxSurge, desired, true)
}

func unavailableCount(ds *appsv1.DaemonSet, desired int) (int, error) {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil || r.MaxUnavailable == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(r.MaxUnavailable, desired, true)
}

func allowsSurge(ds *appsv1.DaemonSet) bool {
	n, err := surgeCount(ds, 1)
	return err == nil && n > 0
}

// nodeDecision is what one node needs.
type nodeDecision struct {
	create bool
	// remove are pods to delete now: on a node that should not run the
	// daemon, beyond the one pod (two while surging) a node keeps.
	remove []*corev1.Pod
	// failed and succeeded are daemon pods that exited; the controller
	// replaces failed ones with a backoff and reports both.
	failed, succeeded []*corev1.Pod
}

// decideNode is upstream's podsShouldBeOnNode.
func decideNode(node *corev1.Node, pods []*corev1.Pod, ds *appsv1.DaemonSet, hash string, now time.Time) nodeDecision {
	var d nodeDecision
	shouldRun, shouldContinue := nodeShouldRun(node, ds)
	switch {
	case shouldRun && len(pods) == 0:
		d.create = true
	case shouldContinue:
		var running []*corev1.Pod
		for _, p := range pods {
			switch {
			case p.DeletionTimestamp != nil:
			case p.Status.Phase == corev1.PodFailed:
				d.failed = append(d.failed, p)
			case p.Status.Phase == corev1.PodSucceeded:
				d.succeeded = append(d.succeeded, p)
			default:
				running = append(running, p)
			}
		}
		sortOldestFirst(running)
		if !allowsSurge(ds) {
			// One pod per node: keep the oldest. A node whose only pod
			// exited gets a new one once that pod is gone.
			if len(running) > 1 {
				d.remove = append(d.remove, running[1:]...)
			}
			return d
		}
		if len(running) <= 1 {
			// While surging a node must always have a live pod.
			d.create = len(running) == 0 && shouldRun
			return d
		}
		// Surging allows one old and one new pod on a node: the old one
		// goes once the new one is available (or at once if the old one
		// is not even ready). Anything beyond those two goes now.
		var oldestNew, oldestOld *corev1.Pod
		generation := templateGeneration(ds)
		for _, p := range running {
			if podUpdated(p, hash, generation) {
				if oldestNew == nil {
					oldestNew = p
					continue
				}
			} else if oldestOld == nil {
				oldestOld = p
				continue
			}
			d.remove = append(d.remove, p)
		}
		if oldestNew != nil && oldestOld != nil {
			if ready, _ := podReady(oldestOld); !ready || podAvailable(oldestNew, ds.Spec.MinReadySeconds, now) {
				d.remove = append(d.remove, oldestOld)
			}
		}
	case len(pods) > 0:
		// The node no longer fits (a label, an affinity, a NoExecute taint).
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				d.remove = append(d.remove, p)
			}
		}
	}
	return d
}

// unscheduledWithoutNode are daemon pods pinned to nodes that no longer
// exist and never bound: nothing else would ever delete them.
func unscheduledWithoutNode(nodes []*corev1.Node, byNode map[string][]*corev1.Pod) []*corev1.Pod {
	exists := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		exists[n.Name] = true
	}
	var out []*corev1.Pod
	for _, name := range sortedKeys(byNode) {
		if exists[name] {
			continue
		}
		for _, p := range byNode[name] {
			if p.Spec.NodeName == "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// updateBounds are the rolling update's limits for this sync.
type updateBounds struct {
	maxSurge, maxUnavailable, desired int
}

func rollingBounds(ds *appsv1.DaemonSet, nodes []*corev1.Node) (updateBounds, error) {
	var b updateBounds
	for _, n := range nodes {
		if run, _ := nodeShouldRun(n, ds); run {
			b.desired++
		}
	}
	var err error
	if b.maxUnavailable, err = unavailableCount(ds, b.desired); err != nil {
		return b, fmt.Errorf("invalid maxUnavailable: %w", err)
	}
	if b.maxSurge, err = surgeCount(ds, b.desired); err != nil {
		return b, fmt.Errorf("invalid maxSurge: %w", err)
	}
	// The API refuses 0/0, but a stored object may predate that rule:
	// upstream then accepts one unavailable pod rather than never update.
	if b.desired > 0 && b.maxSurge == 0 && b.maxUnavailable == 0 {
		b.maxUnavailable = 1
	}
	return b, nil
}

// oldAndNew splits the live pods on a node into the one at the current
// template and the one at an older template; ok is false when there are
// several of either, which the manage step prunes first.
func oldAndNew(pods []*corev1.Pod, hash string, generation *int64) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if podUpdated(p, hash, generation) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// rollingUpdate is upstream's rollingUpdate: which old pods to delete and
// on which nodes to surge a new pod, staying within maxUnavailable (or
// maxSurge). Deleted pods do not count as unavailable, so an update
// progresses when nodes are down. Nodes are visited in name order, so a
// rollout goes through the nodes in the same order every time.
func rollingUpdate(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) (remove []*corev1.Pod, createOn []string, err error) {
	b, err := rollingBounds(ds, nodes)
	if err != nil {
		return nil, nil, err
	}
	nodeByName := make(map[string]*corev1.Node, len(nodes))
	all := make(map[string][]*corev1.Pod, len(byNode))
	for k, v := range byNode {
		all[k] = v
	}
	for _, n := range nodes {
		nodeByName[n.Name] = n
		if run, _ := nodeShouldRun(n, ds); run {
			if _, ok := all[n.Name]; !ok {
				all[n.Name] = nil
			}
		}
	}
	generation := templateGeneration(ds)
	available := func(p *corev1.Pod) bool { return podAvailable(p, ds.Spec.MinReadySeconds, now) }
	shouldRunOn := func(name string) bool {
		n := nodeByName[name]
		if n == nil {
			return false
		}
		run, _ := nodeShouldRun(n, ds)
		return run
	}

	if b.maxSurge == 0 {
		// Delete old pods, the manage step creates their replacements.
		unavailable := 0
		var replace, candidates []*corev1.Pod
		for _, name := range sortedKeys(all) {
			newPod, oldPod, ok := oldAndNew(all[name], hash, generation)
			switch {
			case !ok:
				// Excess pods: the manage step prunes them; count the node as unavailable.
				unavailable++
			case oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
				unavailable++
			case newPod != nil:
				if !available(newPod) {
					unavailable++
				}
			case !available(oldPod):
				// Not serving anyway: replacing it costs nothing.
				replace = append(replace, oldPod)
				unavailable++
			case unavailable < b.maxUnavailable:
				candidates = append(candidates, oldPod)
			}
		}
		room := min(max(b.maxUnavailable-unavailable, 0), len(candidates))
		return append(replace, candidates[:room]...), nil, nil
	}

	// Surge: start a new pod beside each old one, up to maxSurge at a
	// time, and delete the old pod once its replacement is available.
	var surged, availableNodes int
	var allowedNodes, candidateNodes []string
	var notWanted []*corev1.Pod
	for _, name := range sortedKeys(all) {
		newPod, oldPod, ok := oldAndNew(all[name], hash, generation)
		if !ok {
			surged++
			continue
		}
		if oldPod != nil && available(oldPod) || oldPod == nil && newPod != nil && available(newPod) {
			availableNodes++
		}
		switch {
		case oldPod == nil:
			// Nothing to update; the manage step creates a missing pod.
		case newPod == nil && !available(oldPod):
			if !shouldRunOn(name) {
				remove = append(remove, oldPod)
				continue
			}
			allowedNodes = append(allowedNodes, name)
		case newPod == nil:
			if !shouldRunOn(name) {
				notWanted = append(notWanted, oldPod)
				continue
			}
			if surged >= b.maxSurge {
				continue
			}
			candidateNodes = append(candidateNodes, name)
		default:
			if !available(newPod) {
				surged++
				continue
			}
			remove = append(remove, oldPod)
		}
	}
	// With surge the owner expects full availability: an available pod
	// on a node the daemon is leaving goes only once as many pods are
	// available elsewhere.
	if spare := availableNodes - b.desired; spare > 0 {
		remove = append(remove, notWanted[:min(spare, len(notWanted))]...)
	}
	room := min(max(b.maxSurge-surged, 0), len(candidateNodes))
	return remove, append(allowedNodes, candidateNodes[:room]...), nil
}

// daemonStatus counts what DaemonSetStatus reports.
type daemonStatus struct {
	desired, current, misscheduled, ready, updated, available int32
}

func computeStatus(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) daemonStatus {
	var s daemonStatus
	generation := templateGeneration(ds)
	for _, n := range nodes {
		run, _ := nodeShouldRun(n, ds)
		pods := byNode[n.Name]
		if !run {
			if len(pods) > 0 {
				s.misscheduled++
			}
			continue
		}
		s.desired++
		if len(pods) == 0 {
			continue
		}
		s.current++
		sorted := slices.Clone(pods)
		sortOldestFirst(sorted)
		p := sorted[0]
		if ready, _ := podReady(p); ready {
			s.ready++
			if podAvailable(p, ds.Spec.MinReadySeconds, now) {
				s.available++
			}
		}
		if podUpdated(p, hash, generation) {
			s.updated++
		}
	}
	return s
}
