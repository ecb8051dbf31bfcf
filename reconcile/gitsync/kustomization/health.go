package kustomization

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Health is an object's rollout state, kstatus's three that matter here.
type Health int

const (
	// InProgress: not there yet; keep waiting.
	InProgress Health = iota
	// Current: rolled out, ready, complete.
	Current
	// Failed: will not get there without a change (a failed Job, a
	// Deployment past its progress deadline).
	Failed
)

// Status judges one live object the way kstatus (which Flux's health
// checks use) does for the built-in kinds; anything else is Current once
// it exists, unless it reports a Ready=False or Stalled=True condition.
// The string says why it is not Current.
func Status(u *unstructured.Unstructured) (Health, string) {
	if og, found, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); found && og < u.GetGeneration() {
		return InProgress, "generation not yet observed"
	}
	st := func(path ...string) int64 {
		v, _, _ := unstructured.NestedInt64(u.Object, append([]string{"status"}, path...)...)
		return v
	}
	replicas := func() int64 {
		v, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if !found {
			return 1
		}
		return v
	}
	group := u.GroupVersionKind().Group
	switch {
	case group == "apps" && u.GetKind() == "Deployment":
		if c := condition(u, "Progressing"); c != nil && c["reason"] == "ProgressDeadlineExceeded" {
			return Failed, "progress deadline exceeded"
		}
		want := replicas()
		switch {
		case st("updatedReplicas") < want:
			return InProgress, fmt.Sprintf("%d of %d replicas updated", st("updatedReplicas"), want)
		case st("replicas") > st("updatedReplicas"):
			return InProgress, fmt.Sprintf("%d old replicas pending termination", st("replicas")-st("updatedReplicas"))
		case st("availableReplicas") < want:
			return InProgress, fmt.Sprintf("%d of %d replicas available", st("availableReplicas"), want)
		}
		return Current, ""
	case group == "apps" && u.GetKind() == "StatefulSet":
		want := replicas()
		if st("readyReplicas") < want {
			return InProgress, fmt.Sprintf("%d of %d replicas ready", st("readyReplicas"), want)
		}
		strategy, _, _ := unstructured.NestedString(u.Object, "spec", "updateStrategy", "type")
		if strategy != "OnDelete" {
			if st("updatedReplicas") < want {
				return InProgress, fmt.Sprintf("%d of %d replicas updated", st("updatedReplicas"), want)
			}
			cur, _, _ := unstructured.NestedString(u.Object, "status", "currentRevision")
			upd, _, _ := unstructured.NestedString(u.Object, "status", "updateRevision")
			if cur != upd {
				return InProgress, "rolling update in progress"
			}
		}
		return Current, ""
	case group == "apps" && u.GetKind() == "DaemonSet":
		want := st("desiredNumberScheduled")
		switch {
		case st("updatedNumberScheduled") < want:
			return InProgress, fmt.Sprintf("%d of %d pods updated", st("updatedNumberScheduled"), want)
		case st("numberAvailable") < want:
			return InProgress, fmt.Sprintf("%d of %d pods available", st("numberAvailable"), want)
		}
		return Current, ""
	case group == "batch" && u.GetKind() == "Job":
		if c := condition(u, "Failed"); c != nil && c["status"] == "True" {
			return Failed, fmt.Sprintf("job failed: %v", c["message"])
		}
		if c := condition(u, "Complete"); c != nil && c["status"] == "True" {
			return Current, ""
		}
		return InProgress, "job not complete"
	case group == "" && u.GetKind() == "Pod":
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		switch phase {
		case "Succeeded":
			return Current, ""
		case "Failed":
			return Failed, "pod failed"
		}
		if c := condition(u, "Ready"); c != nil && c["status"] == "True" {
			return Current, ""
		}
		return InProgress, "pod not ready"
	case group == "" && u.GetKind() == "PersistentVolumeClaim":
		if phase, _, _ := unstructured.NestedString(u.Object, "status", "phase"); phase != "Bound" {
			return InProgress, "claim not bound"
		}
		return Current, ""
	case group == "" && u.GetKind() == "Service":
		if t, _, _ := unstructured.NestedString(u.Object, "spec", "type"); t == "LoadBalancer" {
			ing, _, _ := unstructured.NestedSlice(u.Object, "status", "loadBalancer", "ingress")
			if len(ing) == 0 {
				return InProgress, "load balancer has no ingress"
			}
		}
		return Current, ""
	}
	if c := condition(u, "Stalled"); c != nil && c["status"] == "True" {
		return Failed, fmt.Sprintf("stalled: %v", c["message"])
	}
	if c := condition(u, "Ready"); c != nil && c["status"] == "False" {
		return InProgress, fmt.Sprintf("not ready: %v", c["message"])
	}
	return Current, ""
}

func condition(u *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}
