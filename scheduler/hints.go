package scheduler

import (
	"reflect"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/skiff-dev/skiff/scheduler/filter"
	"github.com/skiff-dev/skiff/scheduler/framework"
	"github.com/skiff-dev/skiff/scheduler/queue"
)

// The cluster events below decide which unschedulable pods to retry, like
// kube-scheduler's queueing hints: an event moves a pod only if it could
// change the verdict of a filter that rejected it.

// topologyFilters can be satisfied by pods or nodes appearing anywhere,
// not just on the node the pod would go to.
var topologyFilters = filter.Of(filter.PodTopologySpread, filter.InterPodAffinity)

// nodeAddedEvent helps a pod that the new node can take, judging by the
// filters that look at the node alone (the topology filters cannot make
// a node that fails those acceptable). A pod rejected for lack of any
// node at all is always retried.
func (s *Scheduler) nodeAddedEvent(node *v1.Node) queue.Event {
	return queue.Event{Name: "NodeAdd", Hint: func(qp *queue.QueuedPod) bool {
		if qp.RejectedBy == 0 {
			return true
		}
		n := s.cache.NodeInfo(node.Name)
		return n != nil && filter.NodeLocal(framework.NewPodInfo(qp.Pod), n) == nil
	}}
}

// nodeChangedEvent helps a pod that the node could not take before the
// change and can now, or, for the topology filters, whose node labels
// changed under a node that can take it.
func (s *Scheduler) nodeChangedEvent(old, node *v1.Node) queue.Event {
	labelsChanged := !sameLabels(old.Labels, node.Labels)
	return queue.Event{Name: "NodeUpdate", Hint: func(qp *queue.QueuedPod) bool {
		n := s.cache.NodeInfo(node.Name)
		if n == nil {
			return false
		}
		pod := framework.NewPodInfo(qp.Pod)
		if filter.NodeLocal(pod, n) != nil {
			return false
		}
		if labelsChanged && qp.RejectedBy.HasAny(topologyFilters) {
			return true
		}
		return filter.NodeLocal(pod, n.WithNode(old)) != nil
	}}
}

// schedulingPropertiesChanged reports whether a node update can matter
// to any filter: a heartbeat that only bumps timestamps does not.
func schedulingPropertiesChanged(old, node *v1.Node) bool {
	return old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!sameLabels(old.Labels, node.Labels) ||
		!apiequality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) ||
		!reflect.DeepEqual(framework.EffectiveTaints(old), framework.EffectiveTaints(node))
}

// podGoneEvent is a bound pod deleted, finished, or an assumed one
// forgotten: its node has room and ports again, and spreading and
// anti-affinity counts drop.
func (s *Scheduler) podGoneEvent(pod *v1.Pod) queue.Event {
	nodeName := pod.Spec.NodeName
	return queue.Event{Name: "AssignedPodDelete", Hint: func(qp *queue.QueuedPod) bool {
		if qp.RejectedBy.HasAny(topologyFilters) {
			return true
		}
		if !qp.RejectedBy.HasAny(filter.Of(filter.NodeResourcesFit, filter.NodePorts)) {
			return false
		}
		n := s.cache.NodeInfo(nodeName)
		return n != nil && filter.NodeLocal(framework.NewPodInfo(qp.Pod), n) == nil
	}}
}

// podArrivedEvent is a pod newly bound, or a bound pod relabelled: it can
// satisfy pod affinity or raise a spreading minimum, never free room.
func (s *Scheduler) podArrivedEvent(*v1.Pod) queue.Event {
	return queue.Event{Name: "AssignedPodAdd", Hint: func(qp *queue.QueuedPod) bool {
		return qp.RejectedBy.HasAny(topologyFilters)
	}}
}

// namespaceEvent is a namespace added or relabelled: it can change what a
// namespaceSelector of a pod affinity term selects.
func (s *Scheduler) namespaceEvent() queue.Event {
	return queue.Event{Name: "NamespaceChange", Hint: func(qp *queue.QueuedPod) bool {
		return qp.RejectedBy.Has(filter.InterPodAffinity)
	}}
}
