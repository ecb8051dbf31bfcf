// Package servicepods answers, for the endpointslice and endpoints
// controllers alike, which pods back a Service and how: whether a Service
// gets controller-managed endpoints at all, which pods belong in them and
// whether they are ready, the port a Service port's targetPort names in
// each pod, which Services a pod event concerns, and the
// endpoints.kubernetes.io/last-change-trigger-time value to publish.
//
// It holds no client and does no I/O beyond reading a Service lister, so
// the two controllers that import it stay consistent with each other, as
// kube-controller-manager's share k8s.io/endpointslice/util. Only those
// two controllers import it.
package servicepods
