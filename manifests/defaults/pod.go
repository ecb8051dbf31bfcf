package defaults

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// Pod fills the fields of a Pod that the Kubernetes API server defaults.
// On top of the PodSpec defaults a Pod (not a pod template) gets requests
// copied from limits, enableServiceLinks, hostPorts equal to containerPorts
// on the host network, and the Pending phase and QoS class the pod strategy
// sets on create.
func Pod(obj *corev1.Pod) {
	spec := &obj.Spec
	for _, cs := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for i := range cs {
			requestsFromLimits(&cs[i].Resources)
		}
	}
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = ptr.To(corev1.DefaultEnableServiceLinks)
	}
	if spec.HostNetwork {
		for _, cs := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
			for i := range cs {
				for j := range cs[i].Ports {
					if cs[i].Ports[j].HostPort == 0 {
						cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
					}
				}
			}
		}
	}
	PodSpec(spec)

	st := &obj.Status
	if st.Phase == "" {
		st.Phase = corev1.PodPending
	}
	if st.QOSClass == "" {
		st.QOSClass = PodQOSClass(obj)
	}
	// v1 conversion keeps podIP/hostIP as the first entry of podIPs/hostIPs.
	if len(st.PodIPs) == 0 && st.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	if st.PodIP == "" && len(st.PodIPs) > 0 {
		st.PodIP = st.PodIPs[0].IP
	}
	if len(st.HostIPs) == 0 && st.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
	if st.HostIP == "" && len(st.HostIPs) > 0 {
		st.HostIP = st.HostIPs[0].IP
	}
}

func requestsFromLimits(r *corev1.ResourceRequirements) {
	if r.Limits == nil {
		return
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = q.DeepCopy()
		}
	}
}

// PodQOSClass computes the quality-of-service class Kubernetes reports in
// status.qosClass: Guaranteed when every container has equal, non-zero CPU
// and memory requests and limits, BestEffort when none has any, Burstable
// otherwise.
func PodQOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true
	var all []corev1.Container
	all = append(all, pod.Spec.Containers...)
	all = append(all, pod.Spec.InitContainers...)
	for _, c := range all {
		for name, q := range c.Resources.Requests {
			if !isQOSResource(name) || q.Sign() <= 0 {
				continue
			}
			addQuantity(requests, name, q)
		}
		found := map[corev1.ResourceName]bool{}
		for name, q := range c.Resources.Limits {
			if !isQOSResource(name) || q.Sign() <= 0 {
				continue
			}
			found[name] = true
			addQuantity(limits, name, q)
		}
		if !found[corev1.ResourceCPU] || !found[corev1.ResourceMemory] {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func isQOSResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory
}

func addQuantity(l corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
	sum := q.DeepCopy()
	if prev, ok := l[name]; ok {
		sum.Add(prev)
	}
	l[name] = sum
}
