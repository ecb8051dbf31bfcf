package framework

import (
	"maps"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Scheduler defaults for a container that sets no cpu or memory request,
// used only for scoring (upstream's DefaultMilliCPURequest and
// DefaultMemoryRequest): without them a node full of best-effort pods
// would look empty to LeastAllocated.
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is an amount of each resource the scheduler accounts for.
// CPU is in millicores, everything else in units of the resource.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// Pods is the number of pods a node allows (allocatable only).
	Pods int64
	// Scalar holds extended resources, hugepages and other
	// domain-prefixed resources. It is shared between copies: treat it
	// as read-only.
	Scalar map[v1.ResourceName]int64
}

// IsScalar reports whether the scheduler counts name as a scalar
// resource: extended resources (example.com/gpu), kubernetes.io/-prefixed
// ones, hugepages-* and attachable-volumes-*, as upstream's
// IsScalarResourceName does.
func IsScalar(name v1.ResourceName) bool {
	s := string(name)
	switch {
	case strings.HasPrefix(s, v1.ResourceHugePagesPrefix), strings.HasPrefix(s, "attachable-volumes-"):
		return true
	case strings.Contains(s, "/"):
		return !strings.HasPrefix(s, v1.DefaultResourceRequestsPrefix)
	}
	return false
}

// ResourceFromList converts a node's allocatable (or any ResourceList).
func ResourceFromList(rl v1.ResourceList) Resource {
	var r Resource
	for name, q := range rl {
		switch name {
		case v1.ResourceCPU:
			r.MilliCPU = q.MilliValue()
		case v1.ResourceMemory:
			r.Memory = q.Value()
		case v1.ResourceEphemeralStorage:
			r.EphemeralStorage = q.Value()
		case v1.ResourcePods:
			r.Pods = q.Value()
		default:
			if IsScalar(name) {
				if r.Scalar == nil {
					r.Scalar = map[v1.ResourceName]int64{}
				}
				r.Scalar[name] = q.Value()
			}
		}
	}
	return r
}

// plus returns r + sign*o. The Scalar map is copied, never mutated, so
// NodeInfo values that share it stay immutable.
func (r Resource) plus(o Resource, sign int64) Resource {
	out := Resource{
		MilliCPU:         r.MilliCPU + sign*o.MilliCPU,
		Memory:           r.Memory + sign*o.Memory,
		EphemeralStorage: r.EphemeralStorage + sign*o.EphemeralStorage,
		Pods:             r.Pods + sign*o.Pods,
		Scalar:           r.Scalar,
	}
	if len(o.Scalar) > 0 {
		out.Scalar = maps.Clone(r.Scalar)
		if out.Scalar == nil {
			out.Scalar = make(map[v1.ResourceName]int64, len(o.Scalar))
		}
		for name, v := range o.Scalar {
			out.Scalar[name] += sign * v
		}
	}
	return out
}

// IsZero reports whether r requests nothing.
func (r Resource) IsZero() bool {
	if r.MilliCPU != 0 || r.Memory != 0 || r.EphemeralStorage != 0 {
		return false
	}
	for _, v := range r.Scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

// quantities is a resource list in int64 (cpu in millicores), the working
// form of the request arithmetic below.
type quantities map[v1.ResourceName]int64

func toQuantities(rl v1.ResourceList, defaults quantities) quantities {
	q := make(quantities, len(rl)+len(defaults))
	for name, v := range rl {
		if name == v1.ResourceCPU {
			q[name] = v.MilliValue()
		} else {
			q[name] = v.Value()
		}
	}
	// A default only fills a request that is absent; an explicit 0 stays 0.
	for name, v := range defaults {
		if _, set := rl[name]; !set {
			q[name] = v
		}
	}
	return q
}

func (q quantities) add(o quantities) {
	for name, v := range o {
		q[name] += v
	}
}

func (q quantities) max(o quantities) {
	for name, v := range o {
		if v > q[name] {
			q[name] = v
		}
	}
}

func isRestartable(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// podRequests computes what a pod requests the way k8s.io/component-helpers
// resource.PodRequests does: app containers add up; init containers run
// one at a time, so only the largest counts, except sidecars
// (restartPolicy: Always) which keep running and so add to everything
// after them; pod-level requests, when set, replace the container sum for
// the resources they name; overhead is added on top. defaults fills
// container requests that are absent (for the scheduler's non-zero view).
func podRequests(pod *v1.Pod, defaults quantities) quantities {
	total := quantities{}
	for i := range pod.Spec.Containers {
		total.add(toQuantities(pod.Spec.Containers[i].Resources.Requests, defaults))
	}
	sidecars := quantities{}
	initMax := quantities{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		q := toQuantities(c.Resources.Requests, defaults)
		if isRestartable(c) {
			total.add(q)
			sidecars.add(q)
			q = maps.Clone(sidecars)
		} else {
			q.add(sidecars)
		}
		initMax.max(q)
	}
	total.max(initMax)
	if pod.Spec.Resources != nil {
		for name, v := range pod.Spec.Resources.Requests {
			if name == v1.ResourceCPU || name == v1.ResourceMemory || strings.HasPrefix(string(name), v1.ResourceHugePagesPrefix) {
				if name == v1.ResourceCPU {
					total[name] = v.MilliValue()
				} else {
					total[name] = v.Value()
				}
			}
		}
	}
	total.add(toQuantities(pod.Spec.Overhead, nil))
	return total
}

func (q quantities) resource() Resource {
	var r Resource
	for name, v := range q {
		switch name {
		case v1.ResourceCPU:
			r.MilliCPU = v
		case v1.ResourceMemory:
			r.Memory = v
		case v1.ResourceEphemeralStorage:
			r.EphemeralStorage = v
		case v1.ResourcePods:
			// A pod cannot request pods; the count is tracked separately.
		default:
			if IsScalar(name) {
				if r.Scalar == nil {
					r.Scalar = map[v1.ResourceName]int64{}
				}
				r.Scalar[name] = v
			}
		}
	}
	return r
}
