// Package servicelb is Skiff's load balancer for Services of type
// LoadBalancer, in the manner of k3s's ServiceLB (klipper-lb): there is no
// cloud load balancer, so a LoadBalancer Service is reached on the nodes
// themselves, at its node ports (which the API server allocates because
// allocateLoadBalancerNodePorts defaults to true) — and the controller
// publishes the nodes' addresses as the Service's
// status.loadBalancer.ingress, so `kubectl get svc` shows an EXTERNAL-IP
// and tools that wait for one (helm --wait, kubectl wait) proceed.
//
// Inputs: Services and Nodes through the shared informers. Output: the
// status subresource of LoadBalancer Services: one ingress entry (ipMode
// VIP) per distinct InternalIP of the Ready nodes, sorted; none while no
// node is Ready (the Service shows <pending>, as on any cloud).
//
// Differences from k3s: k3s runs a DaemonSet of svclb pods that forward
// each LoadBalancer port from the node's address (one Service per port per
// node); Skiff's node agents program node ports directly, so there is no
// per-port limit and no pods. k3s prefers a node's ExternalIP and, with
// externalTrafficPolicy Local, lists only nodes with ready endpoints;
// Skiff lists every Ready node's InternalIP. A Service with a
// loadBalancerClass belongs to another implementation and is left alone,
// as upstream's cloud service controller does.
package servicelb
