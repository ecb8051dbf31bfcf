package deployment

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The annotations through which the controller keeps its bookkeeping on
// ReplicaSets (and kubectl reads revisions).
const (
	revisionAnnotation        = "deployment.kubernetes.io/revision"
	revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	desiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	maxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"

	// maxRevisionHistoryChars bounds revision-history as upstream's
	// controller does; the oldest entries drop first.
	maxRevisionHistoryChars = 2000
)

// notCopied are the Deployment annotations that are not passed on to its
// new ReplicaSet: the controller's own bookkeeping, and kubectl's
// last-applied configuration, which describes the Deployment.
var notCopied = map[string]bool{
	corev1.LastAppliedConfigAnnotation: true,
	revisionAnnotation:                 true,
	revisionHistoryAnnotation:          true,
	desiredReplicasAnnotation:          true,
	maxReplicasAnnotation:              true,
	appsv1.DeprecatedRollbackTo:        true,
}

// revision is a ReplicaSet's revision; 0 if it has none, an error if the
// annotation is not a number.
func revision(rs *appsv1.ReplicaSet) (int64, error) {
	v, ok := rs.Annotations[revisionAnnotation]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// maxRevision is the highest revision among rss; unparsable ones are
// skipped.
func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		if v, err := revision(rs); err == nil && v > m {
			m = v
		}
	}
	return m
}

// copyAnnotations copies the Deployment's annotations (kubernetes.io/
// change-cause above all) onto its ReplicaSet; true if any changed.
func copyAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range d.Annotations {
		if cur, ok := rs.Annotations[k]; notCopied[k] || (ok && cur == v) {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	return changed
}

// setNewReplicaSetAnnotations brings the new ReplicaSet's annotations up
// to date: the copied ones, the revision (raised to newRevision, never
// lowered), the revision history when an old ReplicaSet becomes the new
// one again, and, for a ReplicaSet about to be created, its replica
// annotations. It reports whether anything changed.
func setNewReplicaSetAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision string, exists bool) bool {
	changed := copyAnnotations(d, rs)
	old, had := rs.Annotations[revisionAnnotation]
	oldN, err := strconv.ParseInt(old, 10, 64)
	if err != nil {
		if old != "" {
			// Someone wrote nonsense there; leave it for them to see.
			return false
		}
		oldN = 0
	}
	newN, err := strconv.ParseInt(newRevision, 10, 64)
	if err != nil {
		return false
	}
	if oldN < newN {
		rs.Annotations[revisionAnnotation] = newRevision
		changed = true
		if had {
			// A rollback to this template: remember what it was.
			rs.Annotations[revisionHistoryAnnotation] = appendHistory(rs.Annotations[revisionHistoryAnnotation], old)
		}
	}
	if !exists && setReplicasAnnotations(rs, *d.Spec.Replicas, *d.Spec.Replicas+maxSurge(d)) {
		changed = true
	}
	return changed
}

// appendHistory adds old to a comma-separated history, dropping the
// oldest entries to stay within maxRevisionHistoryChars.
func appendHistory(history, old string) string {
	if history == "" {
		return old
	}
	parts := strings.Split(history, ",")
	total := len(history) + len(old) + 1
	start := 0
	for total > maxRevisionHistoryChars && start < len(parts) {
		total -= len(parts[start]) + 1
		start++
	}
	if total > maxRevisionHistoryChars {
		return history
	}
	return strings.Join(append(parts[start:], old), ",")
}

// setDeploymentRevision records the new ReplicaSet's revision on the
// Deployment; true if it changed.
func setDeploymentRevision(d *appsv1.Deployment, rev string) bool {
	if d.Annotations[revisionAnnotation] == rev {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[revisionAnnotation] = rev
	return true
}

func intAnnotation(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// setReplicasAnnotations records the Deployment size (and size + surge)
// a ReplicaSet was last scaled for; true if they changed.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	if v := strconv.Itoa(int(desired)); rs.Annotations[desiredReplicasAnnotation] != v {
		rs.Annotations[desiredReplicasAnnotation] = v
		changed = true
	}
	if v := strconv.Itoa(int(maxReplicas)); rs.Annotations[maxReplicasAnnotation] != v {
		rs.Annotations[maxReplicasAnnotation] = v
		changed = true
	}
	return changed
}

func replicasAnnotationsNeedUpdate(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[desiredReplicasAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[maxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}
