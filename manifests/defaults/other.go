package defaults

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
)

// EndpointSlice fills the fields of an EndpointSlice that the Kubernetes
// API server defaults: each port's name "" and protocol TCP.
func EndpointSlice(obj *discoveryv1.EndpointSlice) {
	for i := range obj.Ports {
		p := &obj.Ports[i]
		if p.Name == nil {
			p.Name = ptr.To("")
		}
		if p.Protocol == nil {
			p.Protocol = ptr.To(corev1.ProtocolTCP)
		}
	}
}

// Lease fills the fields of a Lease that the Kubernetes API server
// defaults; there are none.
func Lease(obj *coordinationv1.Lease) {}

// EventsV1Event fills the fields of an events.k8s.io/v1 Event that the
// Kubernetes API server defaults; there are none.
func EventsV1Event(obj *eventsv1.Event) {}

// Ingress fills the fields of an Ingress that the Kubernetes API server
// defaults; there are none (a path's pathType is required, not defaulted).
func Ingress(obj *networkingv1.Ingress) {}
