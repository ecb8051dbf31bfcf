package servicepods

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Selects reports whether the endpoint controllers manage endpoints for
// svc. A Service without a selector has its endpoints written by someone
// else, and an ExternalName Service has none (kubernetes#105986). An empty
// selector counts as none: the API drops an empty map, so a stored
// Service can only have a nil one.
func Selects(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && len(svc.Spec.Selector) > 0
}

// Selector is the pod selector of a Service for which Selects is true.
func Selector(svc *corev1.Service) labels.Selector {
	return labels.Set(svc.Spec.Selector).AsSelectorPreValidated()
}

// Ready reports whether the pod's Ready condition is True.
func Ready(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readySince is when the pod's Ready condition last changed (zero if it
// has none): the moment a pod's change reaches its Service's endpoints.
func readySince(pod *corev1.Pod) time.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// Included reports whether the pod belongs in a Service's endpoints at
// all: it has an address and has not finished (Succeeded or Failed pods
// never serve again). Pods being deleted are included only when
// includeTerminating is set: EndpointSlices carry them with the
// terminating condition so proxies can drain, Endpoints drop them unless
// the Service publishes not-ready addresses.
func Included(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// IPs are the pod's addresses, from status.podIPs or, for a status
// written by an older agent, status.podIP.
func IPs(pod *corev1.Pod) []string {
	if len(pod.Status.PodIPs) == 0 {
		if pod.Status.PodIP == "" {
			return nil
		}
		return []string{pod.Status.PodIP}
	}
	out := make([]string, 0, len(pod.Status.PodIPs))
	for _, ip := range pod.Status.PodIPs {
		out = append(out, ip.IP)
	}
	return out
}

// SetsHostname reports whether the pod's endpoint carries its hostname:
// it asked for one in the Service's subdomain, which is what makes
// <hostname>.<service> resolvable for a headless Service.
func SetsHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

// ErrNoPort: the pod declares no container port with the name a Service
// port's targetPort gives. Such a pod is left out of that port only.
var ErrNoPort = errors.New("no container port matches the service's targetPort")

// FindPort resolves a Service port's targetPort in one pod. A number is
// taken as is (no targetPort means the Service port itself); a name is
// looked up in the pod's containers, then in its sidecars (init
// containers that keep running), with the Service port's protocol, so
// two pods may serve one name on different numbers.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	if tp.Type == intstr.String && tp.StrVal != "" {
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		match := func(cs []corev1.Container, sidecarsOnly bool) (int32, bool) {
			for _, c := range cs {
				if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
					continue
				}
				for _, p := range c.Ports {
					pp := p.Protocol
					if pp == "" {
						pp = corev1.ProtocolTCP
					}
					if p.Name == tp.StrVal && pp == proto {
						return p.ContainerPort, true
					}
				}
			}
			return 0, false
		}
		if n, ok := match(pod.Spec.Containers, false); ok {
			return n, nil
		}
		if n, ok := match(pod.Spec.InitContainers, true); ok {
			return n, nil
		}
		return 0, fmt.Errorf("pod %s/%s, port %q: %w", pod.Namespace, pod.Name, tp.StrVal, ErrNoPort)
	}
	if n := tp.IntValue(); n > 0 {
		return int32(n), nil
	}
	return sp.Port, nil
}

// ServicesFor returns the keys of the Services in namespace whose selector
// matches the pod labels podLabels.
func ServicesFor(services corelisters.ServiceLister, namespace string, podLabels labels.Set) (sets.Set[string], error) {
	list, err := services.Services(namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := sets.New[string]()
	for _, svc := range list {
		if len(svc.Spec.Selector) == 0 {
			// A missing selector selects nothing, not everything.
			continue
		}
		if Selector(svc).Matches(podLabels) {
			out.Insert(svc.Namespace + "/" + svc.Name)
		}
	}
	return out, nil
}

// PodFromEvent returns the pod of an informer add, update or delete
// notification, unwrapping a tombstone (nil if obj is neither).
func PodFromEvent(obj any) *corev1.Pod {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o
	case cache.DeletedFinalStateUnknown:
		p, _ := o.Obj.(*corev1.Pod)
		return p
	}
	return nil
}

// ServicesForUpdate returns the keys of the Services a pod update
// concerns: none if nothing endpoints show changed; those selecting the
// pod if its readiness, addresses or deletion changed; and, when its
// labels (or hostname/subdomain) changed, also those it left or joined.
// Resyncs (same resourceVersion) concern none.
func ServicesForUpdate(services corelisters.ServiceLister, oldObj, newObj any) (sets.Set[string], error) {
	oldPod, newPod := PodFromEvent(oldObj), PodFromEvent(newObj)
	if oldPod == nil || newPod == nil || oldPod.ResourceVersion == newPod.ResourceVersion {
		return nil, nil
	}
	podChanged := endpointsChanged(oldPod, newPod)
	labelsChanged := !reflect.DeepEqual(oldPod.Labels, newPod.Labels) ||
		oldPod.Spec.Hostname != newPod.Spec.Hostname || oldPod.Spec.Subdomain != newPod.Spec.Subdomain
	if !podChanged && !labelsChanged {
		return nil, nil
	}
	cur, err := ServicesFor(services, newPod.Namespace, newPod.Labels)
	if err != nil || !labelsChanged {
		return cur, err
	}
	old, err := ServicesFor(services, oldPod.Namespace, oldPod.Labels)
	if err != nil {
		return nil, err
	}
	// A hostname shows in every endpoint of the pod, so a change of it
	// concerns all the Services, as does a change of the endpoint itself.
	if podChanged || oldPod.Spec.Hostname != newPod.Spec.Hostname || oldPod.Spec.Subdomain != newPod.Spec.Subdomain {
		return cur.Union(old), nil
	}
	// Only membership moved: the Services the pod stayed in see nothing new.
	return cur.SymmetricDifference(old), nil
}

// endpointsChanged reports whether a pod changed in a way its endpoint
// shows: deletion, readiness, addresses. Name, namespace and UID never
// change, and the node is set before the pod gets an address.
func endpointsChanged(oldPod, newPod *corev1.Pod) bool {
	if (oldPod.DeletionTimestamp == nil) != (newPod.DeletionTimestamp == nil) {
		return true
	}
	if Ready(oldPod) != Ready(newPod) {
		return true
	}
	if oldPod.Status.Phase != newPod.Status.Phase {
		return true
	}
	return !reflect.DeepEqual(IPs(oldPod), IPs(newPod))
}
