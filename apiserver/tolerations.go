package apiserver

import (
	corev1 "k8s.io/api/core/v1"
)

// DefaultTolerationSeconds is how long a pod stays on a node that is not
// ready or unreachable before the taint-eviction controller evicts it,
// unless the pod says otherwise (kube-apiserver's DefaultTolerationSeconds
// admission plugin, 300 s).
const DefaultTolerationSeconds = 300

// addDefaultTolerations gives a pod tolerations for the not-ready and
// unreachable NoExecute taints, bounded in time, unless it already
// tolerates them: the DefaultTolerationSeconds admission plugin.
func (s *Server) addDefaultTolerations(pod *corev1.Pod) {
	add := func(key string, seconds int64) {
		for _, t := range pod.Spec.Tolerations {
			if (t.Key == key || (t.Key == "" && t.Operator == corev1.TolerationOpExists)) &&
				(t.Effect == "" || t.Effect == corev1.TaintEffectNoExecute) {
				return
			}
		}
		sec := seconds
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &sec,
		})
	}
	add(corev1.TaintNodeNotReady, s.cfg.NotReadyTolerationSeconds)
	add(corev1.TaintNodeUnreachable, s.cfg.UnreachableTolerationSeconds)
}
