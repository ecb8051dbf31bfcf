package scheduler

import (
	v1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// addHandlers routes informer events: bound pods and nodes to the cache
// (and, as cluster events, to the queue), pending pods of ours to the
// queue, namespaces to the cache. The services, ReplicaSets and
// StatefulSets informers only serve listers for default spreading.
func (s *Scheduler) addHandlers() error {
	f := s.informers
	regs := []struct {
		informer toolscache.SharedIndexInformer
		handler  toolscache.ResourceEventHandler
	}{
		{f.Core().V1().Pods().Informer(), toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.onPod(nil, obj) },
			UpdateFunc: s.onPod,
			DeleteFunc: s.onPodDelete,
		}},
		{f.Core().V1().Nodes().Informer(), toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.onNode(nil, obj) },
			UpdateFunc: s.onNode,
			DeleteFunc: s.onNodeDelete,
		}},
		{f.Core().V1().Namespaces().Informer(), toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.onNamespace(nil, obj) },
			UpdateFunc: s.onNamespace,
			DeleteFunc: s.onNamespaceDelete,
		}},
	}
	for _, r := range regs {
		reg, err := r.informer.AddEventHandler(r.handler)
		if err != nil {
			return err
		}
		// Waiting for the handler, not just the informer, means every
		// bound pod is in the cache before the first decision.
		s.synced = append(s.synced, reg.HasSynced)
	}
	s.synced = append(s.synced,
		f.Core().V1().Services().Informer().HasSynced,
		f.Apps().V1().ReplicaSets().Informer().HasSynced,
		f.Apps().V1().StatefulSets().Informer().HasSynced,
	)
	return nil
}

// finished pods hold no resources; kube-scheduler does not even watch
// them (its pod informer filters on status.phase).
func finished(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}

func (s *Scheduler) ours(pod *v1.Pod) bool {
	name := pod.Spec.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	return name == s.opts.SchedulerName
}

// pending reports whether a pod should be in our queue: unbound, ours,
// alive, not finished, not held by scheduling gates.
func (s *Scheduler) pending(pod *v1.Pod) bool {
	return pod.Spec.NodeName == "" && s.ours(pod) && pod.DeletionTimestamp == nil &&
		!finished(pod) && len(pod.Spec.SchedulingGates) == 0
}

func (s *Scheduler) onPod(oldObj, newObj any) {
	pod, ok := newObj.(*v1.Pod)
	if !ok {
		return
	}
	var old *v1.Pod
	if oldObj != nil {
		old, _ = oldObj.(*v1.Pod)
	}
	if pod.Spec.NodeName == "" {
		if s.pending(pod) {
			s.queue.Add(pod)
		} else {
			s.queue.Delete(pod)
		}
		return
	}
	// Bound (by us or anyone): it leaves the queue and counts on its node.
	if old == nil || old.Spec.NodeName == "" {
		s.queue.Delete(pod)
	}
	if finished(pod) {
		s.cache.RemovePod(pod)
		s.queue.Move(s.podGoneEvent(pod))
		return
	}
	s.cache.AddPod(pod)
	if old == nil || old.Spec.NodeName == "" || !sameLabels(old.Labels, pod.Labels) {
		s.queue.Move(s.podArrivedEvent(pod))
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		tomb, isTomb := obj.(toolscache.DeletedFinalStateUnknown)
		if !isTomb {
			return
		}
		if pod, ok = tomb.Obj.(*v1.Pod); !ok {
			return
		}
	}
	if pod.Spec.NodeName == "" {
		s.queue.Delete(pod)
		return
	}
	s.cache.RemovePod(pod)
	s.queue.Move(s.podGoneEvent(pod))
}

func (s *Scheduler) onNode(oldObj, newObj any) {
	node, ok := newObj.(*v1.Node)
	if !ok {
		return
	}
	if oldObj == nil {
		s.cache.AddNode(node)
		s.queue.Move(s.nodeAddedEvent(node))
		return
	}
	old, _ := oldObj.(*v1.Node)
	s.cache.UpdateNode(node)
	if old != nil && schedulingPropertiesChanged(old, node) {
		s.queue.Move(s.nodeChangedEvent(old, node))
	}
}

func (s *Scheduler) onNodeDelete(obj any) {
	node, ok := obj.(*v1.Node)
	if !ok {
		tomb, isTomb := obj.(toolscache.DeletedFinalStateUnknown)
		if !isTomb {
			return
		}
		if node, ok = tomb.Obj.(*v1.Node); !ok {
			return
		}
	}
	// A node going away helps no pending pod.
	s.cache.RemoveNode(node.Name)
}

func (s *Scheduler) onNamespace(oldObj, newObj any) {
	ns, ok := newObj.(*v1.Namespace)
	if !ok {
		return
	}
	s.cache.SetNamespace(ns)
	if old, _ := oldObj.(*v1.Namespace); old == nil || !sameLabels(old.Labels, ns.Labels) {
		s.queue.Move(s.namespaceEvent())
	}
}

func (s *Scheduler) onNamespaceDelete(obj any) {
	ns, ok := obj.(*v1.Namespace)
	if !ok {
		tomb, isTomb := obj.(toolscache.DeletedFinalStateUnknown)
		if !isTomb {
			return
		}
		if ns, ok = tomb.Obj.(*v1.Namespace); !ok {
			return
		}
	}
	s.cache.RemoveNamespace(ns.Name)
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
