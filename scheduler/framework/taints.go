package framework

import (
	"strconv"

	v1 "k8s.io/api/core/v1"
)

// conditionTaints maps a node condition and status to the NoSchedule taint
// Kubernetes' node lifecycle controller puts on such a node
// (TaintNodesByCondition). The scheduler only ever sees those taints, so a
// Skiff node that reports a condition is treated as if the controller had
// already tainted it: tolerations behave as on Kubernetes and the failure
// message names the same taint.
var conditionTaints = map[v1.NodeConditionType]map[v1.ConditionStatus]string{
	v1.NodeReady: {
		v1.ConditionFalse:   v1.TaintNodeNotReady,
		v1.ConditionUnknown: v1.TaintNodeUnreachable,
	},
	v1.NodeMemoryPressure:     {v1.ConditionTrue: v1.TaintNodeMemoryPressure},
	v1.NodeDiskPressure:       {v1.ConditionTrue: v1.TaintNodeDiskPressure},
	v1.NodePIDPressure:        {v1.ConditionTrue: v1.TaintNodePIDPressure},
	v1.NodeNetworkUnavailable: {v1.ConditionTrue: v1.TaintNodeNetworkUnavailable},
}

// EffectiveTaints is the node's taints plus the NoSchedule taints its
// conditions imply. A node with no Ready condition has not reported yet;
// the kubelet registers such a node with the not-ready taint, so it gets
// that taint here too.
func EffectiveTaints(node *v1.Node) []v1.Taint {
	var implied []string
	ready := false
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady {
			ready = true
		}
		if key, ok := conditionTaints[c.Type][c.Status]; ok {
			implied = append(implied, key)
		}
	}
	if !ready {
		implied = append(implied, v1.TaintNodeNotReady)
	}
	if len(implied) == 0 {
		return node.Spec.Taints
	}
	taints := append([]v1.Taint(nil), node.Spec.Taints...)
	for _, key := range implied {
		if !hasTaint(taints, key, v1.TaintEffectNoSchedule) {
			taints = append(taints, v1.Taint{Key: key, Effect: v1.TaintEffectNoSchedule})
		}
	}
	return taints
}

func hasTaint(taints []v1.Taint, key string, effect v1.TaintEffect) bool {
	for _, t := range taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

// Tolerates reports whether toleration t tolerates taint, with the rules
// of core/v1 Toleration.ToleratesTaint: an empty effect matches every
// effect, an empty key with Exists matches every key, Equal (or no
// operator) compares values, Lt and Gt compare them as integers.
func Tolerates(t *v1.Toleration, taint *v1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "", v1.TolerationOpEqual:
		return t.Value == taint.Value
	case v1.TolerationOpExists:
		return true
	case v1.TolerationOpLt, v1.TolerationOpGt:
		want, err1 := strconv.ParseInt(t.Value, 10, 64)
		have, err2 := strconv.ParseInt(taint.Value, 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if t.Operator == v1.TolerationOpLt {
			return have < want
		}
		return have > want
	}
	return false
}

// Tolerated reports whether any of tolerations tolerates taint.
func Tolerated(tolerations []v1.Toleration, taint *v1.Taint) bool {
	for i := range tolerations {
		if Tolerates(&tolerations[i], taint) {
			return true
		}
	}
	return false
}

// UntoleratedTaint returns the first taint with effect NoSchedule or
// NoExecute that no toleration tolerates (PreferNoSchedule only scores).
func UntoleratedTaint(taints []v1.Taint, tolerations []v1.Toleration) (v1.Taint, bool) {
	for i := range taints {
		t := &taints[i]
		if t.Effect != v1.TaintEffectNoSchedule && t.Effect != v1.TaintEffectNoExecute {
			continue
		}
		if !Tolerated(tolerations, t) {
			return *t, true
		}
	}
	return v1.Taint{}, false
}
