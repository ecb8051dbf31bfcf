package daemonset

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/scheduler/framework"
)

// daemonTolerations are added to every daemon pod, as upstream's
// AddOrUpdateDaemonPodTolerations does: a daemon must survive the node
// lifecycle controller's eviction of a not-ready or unreachable node,
// and must land on nodes under resource pressure or cordoned, since it
// is often what relieves the pressure (a log shipper, a CNI agent).
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// hostNetworkToleration: a host-network daemon (the network plugin
// itself) must run on a node whose network is not up yet.
var hostNetworkToleration = corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}

// addDaemonTolerations adds the daemon tolerations to spec. A toleration
// of the same key, operator, value and effect is replaced (so a bounded
// tolerationSeconds becomes unbounded), as upstream does.
func addDaemonTolerations(spec *corev1.PodSpec) {
	for i := range daemonTolerations {
		addOrUpdateToleration(spec, daemonTolerations[i])
	}
	if spec.HostNetwork {
		addOrUpdateToleration(spec, hostNetworkToleration)
	}
}

func addOrUpdateToleration(spec *corev1.PodSpec, t corev1.Toleration) {
	for i := range spec.Tolerations {
		have := &spec.Tolerations[i]
		if have.Key == t.Key && have.Operator == t.Operator && have.Value == t.Value && have.Effect == t.Effect {
			if !equality.Semantic.DeepEqual(*have, t) {
				*have = t
			}
			return
		}
	}
	spec.Tolerations = append(spec.Tolerations, t)
}

// podForNode is the daemon pod ds would run on node, used to judge
// whether the node fits: the template, the daemon tolerations, bound to
// the node.
func podForNode(ds *appsv1.DaemonSet, node string) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: *ds.Spec.Template.ObjectMeta.DeepCopy(), Spec: *ds.Spec.Template.Spec.DeepCopy()}
	pod.Namespace = ds.Namespace
	pod.Spec.NodeName = node
	addDaemonTolerations(&pod.Spec)
	return pod
}

// nodeShouldRun tells whether ds wants a pod on node (shouldRun) and
// whether a pod already there may stay (shouldContinue), with the rules
// of upstream's NodeShouldRunDaemonPod: the template's nodeName, its
// nodeSelector and required node affinity, and the node's taints against
// the pod's tolerations plus the daemon ones. A node tainted NoSchedule
// gets no new pod but keeps a running one; only an untolerated NoExecute
// taint evicts it. Like upstream it reads spec.taints only: taints a
// node's conditions imply are the scheduler's business, and the daemon
// tolerations cover them.
func nodeShouldRun(node *corev1.Node, ds *appsv1.DaemonSet) (shouldRun, shouldContinue bool) {
	if n := ds.Spec.Template.Spec.NodeName; n != "" && n != node.Name {
		return false, false
	}
	pod := podForNode(ds, node.Name)
	info := framework.NewPodInfo(pod)
	if !info.RequiredNodeAffinity.Match(node) {
		return false, false
	}
	if _, untolerated := framework.UntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations); !untolerated {
		return true, true
	}
	var noExecute []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			noExecute = append(noExecute, t)
		}
	}
	_, evicted := framework.UntoleratedTaint(noExecute, pod.Spec.Tolerations)
	return false, !evicted
}

// pinToNode returns affinity with its required node affinity replaced by
// "metadata.name In [node]", as upstream does for every daemon pod: the
// default scheduler then binds the pod to that node (or leaves it
// pending, with the scheduler's reason, if it does not fit), and the
// pod's other scheduling rules stay in force. The user's required node
// terms were already checked by nodeShouldRun.
func pinToNode(affinity *corev1.Affinity, node string) *corev1.Affinity {
	pin := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
	}}}
	out := affinity.DeepCopy()
	if out == nil {
		out = &corev1.Affinity{}
	}
	if out.NodeAffinity == nil {
		out.NodeAffinity = &corev1.NodeAffinity{}
	}
	out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = pin
	return out
}

// targetNode is the node a daemon pod is for: its spec.nodeName once
// bound, else the node its required affinity pins.
func targetNode(pod *corev1.Pod) (string, bool) {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName, true
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return "", false
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range term.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn {
				if len(r.Values) != 1 {
					return "", false
				}
				return r.Values[0], true
			}
		}
	}
	return "", false
}
