package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// deletionCostAnnotation lets a user say which pods of a ReplicaSet to
// keep on scale-down (upstream's PodDeletionCost, on by default).
const deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podsToDelete picks n of pods to delete, in upstream's order of
// preference. related are the pods of the sibling ReplicaSets, which
// count toward how crowded a node is.
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n < len(pods) {
		onNode := map[string]int{}
		for _, p := range related {
			if isPodActive(p) {
				onNode[p.Spec.NodeName]++
			}
		}
		ranks := make([]int, len(pods))
		for i, p := range pods {
			ranks[i] = onNode[p.Spec.NodeName]
		}
		sort.Sort(deletionOrder{pods: pods, rank: ranks, now: now})
	}
	return pods[:n]
}

var phaseOrdinal = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deletionOrder sorts the pods a ReplicaSet should delete first to the
// front:
//  1. unscheduled before scheduled;
//  2. Pending before Unknown before Running;
//  3. not ready before ready;
//  4. lower pod-deletion-cost first;
//  5. more siblings on the same node first (rank);
//  6. ready more recently first;
//  7. more container restarts first;
//  8. created more recently first.
//
// Times in 6 and 8 compare on a log2 scale from now, and ties break by
// UID: pods of about the same age go in a stable pseudo-random order
// instead of always the very newest, so repeated scale-up/down cycles do
// not keep replacing the same young pods (upstream's LogarithmicScaleDown).
type deletionOrder struct {
	pods []*corev1.Pod
	rank []int
	now  time.Time
}

func (s deletionOrder) Len() int { return len(s.pods) }

func (s deletionOrder) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.rank[i], s.rank[j] = s.rank[j], s.rank[i]
}

func (s deletionOrder) Less(i, j int) bool {
	pi, pj := s.pods[i], s.pods[j]
	if pi.Spec.NodeName != pj.Spec.NodeName && (pi.Spec.NodeName == "" || pj.Spec.NodeName == "") {
		return pi.Spec.NodeName == ""
	}
	if phaseOrdinal[pi.Status.Phase] != phaseOrdinal[pj.Status.Phase] {
		return phaseOrdinal[pi.Status.Phase] < phaseOrdinal[pj.Status.Phase]
	}
	ri, rj := isPodReady(pi), isPodReady(pj)
	if ri != rj {
		return !ri
	}
	if ci, cj := deletionCost(pi), deletionCost(pj); ci != cj {
		return ci < cj
	}
	if s.rank[i] != s.rank[j] {
		return s.rank[i] > s.rank[j]
	}
	if ri && rj {
		ti, tj := readyTime(pi), readyTime(pj)
		if !ti.Equal(tj) {
			return s.newerFirst(pi, pj, ti, tj)
		}
	}
	if res, ok := compareRestarts(pi, pj); ok {
		return res
	}
	ti, tj := pi.CreationTimestamp.Time, pj.CreationTimestamp.Time
	if !ti.Equal(tj) {
		return s.newerFirst(pi, pj, ti, tj)
	}
	return false
}

// newerFirst orders two different times: zero first, then the more
// recent, with times of the same log2 age bucket ordered by UID.
func (s deletionOrder) newerFirst(pi, pj *corev1.Pod, ti, tj time.Time) bool {
	if s.now.IsZero() || ti.IsZero() || tj.IsZero() {
		if ti.IsZero() || tj.IsZero() {
			return ti.IsZero()
		}
		return ti.After(tj)
	}
	if d := logRank(ti, s.now) - logRank(tj, s.now); d != 0 {
		return d < 0
	}
	return pi.UID < pj.UID
}

func logRank(t, now time.Time) int64 {
	d := now.Sub(t)
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

func readyTime(p *corev1.Pod) time.Time {
	if c := podReadyCondition(p); c != nil && c.Status == corev1.ConditionTrue {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

// deletionCost parses the annotation as upstream does: a plain decimal
// int32, no "+" and no leading zeros; anything else counts as 0.
func deletionCost(p *corev1.Pod) int32 {
	v, ok := p.Annotations[deletionCostAnnotation]
	if !ok || v == "" {
		return 0
	}
	if !(v[0] == '-' || v == "0" || (v[0] >= '1' && v[0] <= '9')) {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

// compareRestarts reports whether pi has more restarts than pj (regular
// containers first, then sidecars), and ok=false on a tie.
func compareRestarts(pi, pj *corev1.Pod) (res, ok bool) {
	ri, si := maxRestarts(pi)
	rj, sj := maxRestarts(pj)
	if ri != rj {
		return ri > rj, true
	}
	if si != sj {
		return si > sj, true
	}
	return false, false
}

func maxRestarts(p *corev1.Pod) (regular, sidecar int32) {
	for _, c := range p.Status.ContainerStatuses {
		regular = max(regular, c.RestartCount)
	}
	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	for _, c := range p.Status.InitContainerStatuses {
		if sidecars[c.Name] {
			sidecar = max(sidecar, c.RestartCount)
		}
	}
	return regular, sidecar
}
