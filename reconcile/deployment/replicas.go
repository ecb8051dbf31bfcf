package deployment

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/integer"
)

// resolveFenceposts turns maxSurge and maxUnavailable into pod counts for
// a Deployment of desired replicas: surge rounds up, unavailable rounds
// down (so 25% of 3 is 1 surge and 0 unavailable), and if both come out
// 0 one pod may be unavailable, or no rollout could ever start.
func resolveFenceposts(surge, unavailable *intstr.IntOrString, desired int32) (int32, int32, error) {
	s, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(surge, intstr.FromInt32(0)), int(desired), true)
	if err != nil {
		return 0, 0, err
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(unavailable, intstr.FromInt32(0)), int(desired), false)
	if err != nil {
		return 0, 0, err
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

func isRollingUpdate(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
}

// fenceposts resolves a rolling Deployment's bounds. Validation has
// checked the values (a bad one counts as 0); a missing rollingUpdate,
// which defaulting normally fills, resolves as both 0.
func fenceposts(d *appsv1.Deployment) (int32, int32) {
	var surge, unavailable *intstr.IntOrString
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		surge, unavailable = ru.MaxSurge, ru.MaxUnavailable
	}
	s, u, _ := resolveFenceposts(surge, unavailable, *d.Spec.Replicas)
	return s, u
}

// maxSurge is how many pods above spec.replicas a rolling update may run.
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) {
		return 0
	}
	s, _ := fenceposts(d)
	return s
}

// maxUnavailable is how many of spec.replicas may be unavailable during a
// rolling update, never more than spec.replicas.
func maxUnavailable(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) || *d.Spec.Replicas == 0 {
		return 0
	}
	_, u := fenceposts(d)
	return min(u, *d.Spec.Replicas)
}

func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

// specReplicas sums spec.replicas; nil entries (no new ReplicaSet yet)
// count 0.
func specReplicas(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += replicasOf(rs)
	}
	return n
}

func statusReplicas(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += rs.Status.Replicas
		}
	}
	return n
}

func readyReplicas(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += rs.Status.ReadyReplicas
		}
	}
	return n
}

func availableReplicas(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += rs.Status.AvailableReplicas
		}
	}
	return n
}

// livePods counts, per ReplicaSet, its pods in the cache that are neither
// finished nor being deleted.
type livePods map[types.UID]int32

// occupied is the most pods rss can be running right now: each
// ReplicaSet's spec.replicas, or more while the pods its last scale-down
// removes have not been marked for deletion yet.
func occupied(rss []*appsv1.ReplicaSet, live livePods) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += max(replicasOf(rs), live[rs.UID])
		}
	}
	return n
}

// newReplicaSetReplicas is the size the new ReplicaSet may take now: for
// a rolling update, as far up toward spec.replicas as maxSurge allows;
// for Recreate, spec.replicas at once (the old pods are gone by then).
func newReplicaSetReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, live livePods) (int32, error) {
	switch d.Spec.Strategy.Type {
	case appsv1.RollingUpdateDeploymentStrategyType:
		surge := maxSurge(d)
		current := occupied(all, live)
		ceiling := *d.Spec.Replicas + surge
		if current >= ceiling {
			return replicasOf(newRS), nil
		}
		up := min(ceiling-current, *d.Spec.Replicas-replicasOf(newRS))
		return replicasOf(newRS) + up, nil
	case appsv1.RecreateDeploymentStrategyType:
		return *d.Spec.Replicas, nil
	}
	return 0, fmt.Errorf("deployment strategy %q is not supported", d.Spec.Strategy.Type)
}

// isSaturated: the new ReplicaSet runs all of the Deployment, available.
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := intAnnotation(rs, desiredReplicasAnnotation)
	return ok && replicasOf(rs) == *d.Spec.Replicas && desired == *d.Spec.Replicas && rs.Status.AvailableReplicas == *d.Spec.Replicas
}

// proportion is how many replicas rs gains (or loses, negative) when a
// resize of toAdd is spread over the ReplicaSets in proportion to their
// size at the Deployment size they were last scaled for; added is what
// earlier ReplicaSets already took, and the result never overshoots.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || replicasOf(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	fraction := fraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(fraction, allowed)
	}
	return max(fraction, allowed)
}

func fraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if *d.Spec.Replicas == 0 {
		return -replicasOf(rs)
	}
	target := *d.Spec.Replicas + maxSurge(d)
	annotated, ok := intAnnotation(rs, maxReplicasAnnotation)
	if !ok || annotated == 0 {
		// No record of the size it was scaled for: assume the current
		// one. The min/max in proportion keeps the sum in bounds.
		annotated = d.Status.Replicas
	}
	if annotated == 0 {
		return 0
	}
	size := float64(replicasOf(rs)*target) / float64(annotated)
	return integer.RoundToInt32(size) - replicasOf(rs)
}

// activeReplicaSets are those with spec.replicas > 0.
func activeReplicaSets(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && replicasOf(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// activeOrLatest is the one ReplicaSet to size when at most one is
// active (the new one if none is); nil when several are and the size must
// be split proportionally.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	old = append([]*appsv1.ReplicaSet(nil), old...)
	sort.Sort(sort.Reverse(byCreation(old)))
	active := activeReplicaSets(append(old, newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return old[0]
	case 1:
		return active[0]
	}
	return nil
}

// byCreation orders ReplicaSets oldest first, by name on a tie.
type byCreation []*appsv1.ReplicaSet

func (o byCreation) Len() int      { return len(o) }
func (o byCreation) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o byCreation) Less(i, j int) bool {
	if o[i].CreationTimestamp.Equal(&o[j].CreationTimestamp) {
		return o[i].Name < o[j].Name
	}
	return o[i].CreationTimestamp.Before(&o[j].CreationTimestamp)
}

// bySizeNewer orders largest first, newer first among equals: a scale-up
// goes to the newer ReplicaSets first.
type bySizeNewer []*appsv1.ReplicaSet

func (o bySizeNewer) Len() int      { return len(o) }
func (o bySizeNewer) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o bySizeNewer) Less(i, j int) bool {
	if replicasOf(o[i]) == replicasOf(o[j]) {
		return byCreation(o).Less(j, i)
	}
	return replicasOf(o[i]) > replicasOf(o[j])
}

// bySizeOlder orders largest first, older first among equals: a
// scale-down takes from the older ReplicaSets first.
type bySizeOlder []*appsv1.ReplicaSet

func (o bySizeOlder) Len() int      { return len(o) }
func (o bySizeOlder) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o bySizeOlder) Less(i, j int) bool {
	if replicasOf(o[i]) == replicasOf(o[j]) {
		return byCreation(o).Less(i, j)
	}
	return replicasOf(o[i]) > replicasOf(o[j])
}

// byRevision orders oldest revision first (creation time on a tie or an
// unreadable revision): history cleanup deletes from the front.
type byRevision []*appsv1.ReplicaSet

func (o byRevision) Len() int      { return len(o) }
func (o byRevision) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o byRevision) Less(i, j int) bool {
	ri, ei := revision(o[i])
	rj, ej := revision(o[j])
	if ei != nil || ej != nil || ri == rj {
		return byCreation(o).Less(i, j)
	}
	return ri < rj
}
