package scheduler

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// defaultSpread returns the selector of the pods a pod should spread away
// from when it has no topologySpreadConstraints: the selectors of the
// services that select it and of the ReplicaSet or StatefulSet that
// controls it, ANDed, as kube-scheduler's helper.DefaultSelector builds
// it. Skiff serves no ReplicationControllers, so they are not consulted.
// nil means no default spreading.
func (s *Scheduler) defaultSpread(pod *v1.Pod) labels.Selector {
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		return nil
	}
	set := labels.Set{}
	if services, err := s.services.Services(pod.Namespace).List(labels.Everything()); err == nil {
		for _, svc := range services {
			// A service without a selector selects nothing, not everything.
			if svc.Spec.Selector == nil {
				continue
			}
			if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				set = labels.Merge(set, svc.Spec.Selector)
			}
		}
	}
	sel := labels.SelectorFromSet(set)
	owner := metav1.GetControllerOfNoCopy(pod)
	if owner == nil {
		return sel
	}
	gv, err := schema.ParseGroupVersion(owner.APIVersion)
	if err != nil || gv.Group != "apps" {
		return sel
	}
	var ownerSel *metav1.LabelSelector
	switch owner.Kind {
	case "ReplicaSet":
		if rs, err := s.replicaSets.ReplicaSets(pod.Namespace).Get(owner.Name); err == nil {
			ownerSel = rs.Spec.Selector
		}
	case "StatefulSet":
		if ss, err := s.statefulSets.StatefulSets(pod.Namespace).Get(owner.Name); err == nil {
			ownerSel = ss.Spec.Selector
		}
	}
	if ownerSel == nil {
		return sel
	}
	other, err := metav1.LabelSelectorAsSelector(ownerSel)
	if err != nil {
		return sel
	}
	if reqs, ok := other.Requirements(); ok {
		sel = sel.Add(reqs...)
	}
	return sel
}
