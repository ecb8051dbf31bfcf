package replicaset

import (
	"context"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// statusUpdateRetries is how often a conflicting status write is retried
// on a fresh read before the key goes back to the rate-limited queue.
const statusUpdateRetries = 1

// calculateStatus counts the controlled pods. Only pods already ready
// count as ready; a pod is available once it has been ready for
// minReadySeconds. A failed create or delete raises ReplicaFailure, and
// the next sync without failure clears it.
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	template := labels.SelectorFromSet(rs.Spec.Template.Labels)
	var fully, ready, available int32
	for _, p := range pods {
		if template.Matches(labels.Set(p.Labels)) {
			fully++
		}
		if isPodReady(p) {
			ready++
			if isPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	failure := replicaSetCondition(rs.Status, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := ""
		want := 1
		if rs.Spec.Replicas != nil {
			want = int(*rs.Spec.Replicas)
		}
		if diff := len(pods) - want; diff < 0 {
			reason = "FailedCreate"
		} else if diff > 0 {
			reason = "FailedDelete"
		}
		setReplicaSetCondition(&st, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		st.Conditions = withoutReplicaSetCondition(st.Conditions, appsv1.ReplicaSetReplicaFailure)
	}
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas = fully
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	return st
}

// updateStatus writes status unless nothing changed, with
// observedGeneration set to the generation this sync acted on.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if rs.Status.Replicas == st.Replicas &&
		rs.Status.FullyLabeledReplicas == st.FullyLabeledReplicas &&
		rs.Status.ReadyReplicas == st.ReadyReplicas &&
		rs.Status.AvailableReplicas == st.AvailableReplicas &&
		rs.Generation == rs.Status.ObservedGeneration &&
		reflect.DeepEqual(rs.Status.Conditions, st.Conditions) {
		return rs, nil
	}
	st.ObservedGeneration = rs.Generation
	cur := rs
	for i := 0; ; i++ {
		cur.Status = st
		updated, err := c.client.AppsV1().ReplicaSets(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			c.log.Debug("status updated", "replicaset", cur.Namespace+"/"+cur.Name,
				"replicas", st.Replicas, "ready", st.ReadyReplicas, "available", st.AvailableReplicas, "observedGeneration", st.ObservedGeneration)
			return updated, nil
		}
		if i >= statusUpdateRetries {
			return nil, err
		}
		fresh, getErr := c.client.AppsV1().ReplicaSets(cur.Namespace).Get(ctx, cur.Name, metav1.GetOptions{})
		if getErr != nil {
			return nil, getErr
		}
		cur = fresh
	}
}

func replicaSetCondition(st appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setReplicaSetCondition replaces the condition of its type unless one
// with the same status and reason is already there.
func setReplicaSetCondition(st *appsv1.ReplicaSetStatus, cond appsv1.ReplicaSetCondition) {
	if cur := replicaSetCondition(*st, cond.Type); cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason {
		return
	}
	st.Conditions = append(withoutReplicaSetCondition(st.Conditions, cond.Type), cond)
}

func withoutReplicaSetCondition(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

func podReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func isPodReady(p *corev1.Pod) bool {
	c := podReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// isPodAvailable: ready, and for longer than minReadySeconds.
func isPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !isPodReady(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	c := podReadyCondition(p)
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}
