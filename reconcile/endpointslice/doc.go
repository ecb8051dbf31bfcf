// Package endpointslice is Skiff's EndpointSlice controller: for every
// Service with a selector it keeps discovery.k8s.io/v1 EndpointSlices
// listing the pods the selector matches, as kube-controller-manager's
// endpointslice controller does, so that proxies and DNS (Skiff's agent,
// or any written for Kubernetes) know where to send a Service's traffic.
//
// Each slice holds at most 100 endpoints of one address type and one
// resolved port list, is named <service>-<random> (generateName), carries
// the kubernetes.io/service-name and
// endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io
// labels and is owned by its Service. An endpoint is a pod with an
// address: ready (Ready and not terminating, or always when the Service
// publishes not-ready addresses), serving (Ready), terminating (being
// deleted), with its node, zone, and a reference to the pod.
//
// Inputs: Services, Pods, Nodes and EndpointSlices through the shared
// informers. Output: EndpointSlice creates, updates and deletes through
// the API, and a FailedToUpdateEndpointSlices event on the Service when
// they fail. computePlan (plan.go) is the pure part: it turns a Service,
// its pods and its existing slices into the writes to make. Slices of
// Services that are deleted or lose their selector are deleted here
// rather than left to the garbage collector. Slices not labelled as
// managed by this controller are never touched.
//
// The servicepods subpackage holds what this controller and the
// endpoints controller must agree on.
package endpointslice
