package deployment

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, as upstream spells them (kubectl and users match on
// them: rollout status fails on ProgressDeadlineExceeded).
const (
	reasonRSUpdated           = "ReplicaSetUpdated"
	reasonFailedRSCreate      = "ReplicaSetCreateError"
	reasonNewRSCreated        = "NewReplicaSetCreated"
	reasonFoundNewRS          = "FoundNewReplicaSet"
	reasonNewRSAvailable      = "NewReplicaSetAvailable"
	reasonTimedOut            = "ProgressDeadlineExceeded"
	reasonPaused              = "DeploymentPaused"
	reasonResumed             = "DeploymentResumed"
	reasonMinimumAvailable    = "MinimumReplicasAvailable"
	reasonMinimumNotAvailable = "MinimumReplicasUnavailable"
)

func newCondition(t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	n := metav1.NewTime(now)
	return appsv1.DeploymentCondition{Type: t, Status: status, LastUpdateTime: n, LastTransitionTime: n, Reason: reason, Message: msg}
}

func getCondition(st appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			c := st.Conditions[i]
			return &c
		}
	}
	return nil
}

// setCondition replaces the condition of its type, unless one with the
// same status and reason is there already (so its times stay). The
// transition time is kept while the status does not change.
func setCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	cur := getCondition(*st, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	st.Conditions = append(withoutCondition(st.Conditions, c.Type), c)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	st.Conditions = withoutCondition(st.Conditions, t)
}

func withoutCondition(conds []appsv1.DeploymentCondition, t appsv1.DeploymentConditionType) []appsv1.DeploymentCondition {
	var out []appsv1.DeploymentCondition
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

// fromReplicaSetCondition promotes a ReplicaSet's ReplicaFailure to the
// Deployment, so a refused pod shows on the object the user watches.
func fromReplicaSetCondition(c appsv1.ReplicaSetCondition) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{
		Type: appsv1.DeploymentConditionType(c.Type), Status: c.Status,
		LastTransitionTime: c.LastTransitionTime, LastUpdateTime: c.LastTransitionTime,
		Reason: c.Reason, Message: c.Message,
	}
}
