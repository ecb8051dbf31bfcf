package framework

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
)

// HostPort is a host port a pod binds, with the API defaults applied
// (protocol TCP, host IP 0.0.0.0).
type HostPort struct {
	IP       string
	Protocol v1.Protocol
	Port     int32
}

// DefaultBindAllHostIP is the wildcard host IP: it conflicts with the same
// protocol and port on every IP.
const DefaultBindAllHostIP = "0.0.0.0"

// hostPorts lists the host ports of the pod's app containers and of its
// sidecars (init containers with restartPolicy Always, which run for the
// pod's lifetime); ordinary init containers finish before the pod runs.
func hostPorts(pod *v1.Pod) []HostPort {
	var out []HostPort
	add := func(c *v1.Container) {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			hp := HostPort{IP: p.HostIP, Protocol: p.Protocol, Port: p.HostPort}
			if hp.IP == "" {
				hp.IP = DefaultBindAllHostIP
			}
			if hp.Protocol == "" {
				hp.Protocol = v1.ProtocolTCP
			}
			out = append(out, hp)
		}
	}
	for i := range pod.Spec.InitContainers {
		if isRestartable(&pod.Spec.InitContainers[i]) {
			add(&pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	return out
}

// PodInfo is a pod with everything the filters and scores need computed
// once. It is immutable.
type PodInfo struct {
	Pod *v1.Pod
	// Requests is what NodeResourcesFit counts against allocatable.
	Requests Resource
	// NonZeroMilliCPU and NonZeroMemory are the requests with the
	// scheduler's defaults for containers that set none (scoring only).
	NonZeroMilliCPU, NonZeroMemory int64
	HostPorts                      []HostPort

	RequiredNodeAffinity  RequiredNodeAffinity
	PreferredNodeAffinity PreferredNodeAffinity
	// NodeNames, when not nil, is the only set of node names the pod's
	// required node affinity can match (matchFields metadata.name In).
	NodeNames map[string]struct{}
	// NodeNamesConflict is set when the name pins of all terms exclude
	// each other, so no node can match.
	NodeNamesConflict bool

	RequiredAffinity      []AffinityTerm
	RequiredAntiAffinity  []AffinityTerm
	PreferredAffinity     []WeightedAffinityTerm
	PreferredAntiAffinity []WeightedAffinityTerm
	// AffinityErr is set when a pod (anti-)affinity label selector does
	// not parse; such a pod cannot be placed by the affinity rules.
	AffinityErr error
}

// NewPodInfo computes a PodInfo.
func NewPodInfo(pod *v1.Pod) *PodInfo {
	p := &PodInfo{
		Pod:                   pod,
		Requests:              podRequests(pod, nil).resource(),
		HostPorts:             hostPorts(pod),
		RequiredNodeAffinity:  newRequiredNodeAffinity(pod),
		PreferredNodeAffinity: newPreferredNodeAffinity(pod),
	}
	nonZero := podRequests(pod, quantities{v1.ResourceCPU: DefaultMilliCPURequest, v1.ResourceMemory: DefaultMemoryRequest})
	p.NonZeroMilliCPU, p.NonZeroMemory = nonZero[v1.ResourceCPU], nonZero[v1.ResourceMemory]
	p.NodeNames, p.NodeNamesConflict = nodeNamesFromAffinity(pod)
	if a := pod.Spec.Affinity; a != nil {
		var errs []error
		if pa := a.PodAffinity; pa != nil {
			var err1, err2 error
			p.RequiredAffinity, err1 = affinityTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			p.PreferredAffinity, err2 = weightedAffinityTerms(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
			errs = append(errs, err1, err2)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			var err1, err2 error
			p.RequiredAntiAffinity, err1 = affinityTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			p.PreferredAntiAffinity, err2 = weightedAffinityTerms(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
			errs = append(errs, err1, err2)
		}
		for _, err := range errs {
			if err != nil {
				p.AffinityErr = fmt.Errorf("parse pod affinity of %s/%s: %w", pod.Namespace, pod.Name, err)
				break
			}
		}
	}
	return p
}

// Key is the pod's namespace/name, the identity the scheduler tracks it by.
func (p *PodInfo) Key() string { return PodKey(p.Pod) }

// PodKey is namespace/name.
func PodKey(pod *v1.Pod) string { return pod.Namespace + "/" + pod.Name }

// HasAffinity reports whether the pod has any pod affinity or
// anti-affinity, required or preferred.
func (p *PodInfo) HasAffinity() bool {
	a := p.Pod.Spec.Affinity
	return a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil)
}
