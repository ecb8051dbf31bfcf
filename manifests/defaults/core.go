package defaults

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Namespace fills the fields of a Namespace that the Kubernetes API server
// defaults: the kubernetes.io/metadata.name label, status.phase Active and,
// on a namespace not yet stored, the "kubernetes" finalizer that makes
// deletion wait until the namespace is empty.
func Namespace(obj *corev1.Namespace) {
	// Nameless namespaces (generateName) get the label once named.
	if obj.Name != "" {
		if obj.Labels == nil {
			obj.Labels = map[string]string{}
		}
		obj.Labels[corev1.LabelMetadataName] = obj.Name
	}
	if obj.Status.Phase == "" {
		obj.Status.Phase = corev1.NamespaceActive
	}
	// The namespace controller removes the finalizer through /finalize when
	// the namespace is empty; adding it back to a stored object would keep
	// the namespace Terminating forever.
	// A create never carries a resourceVersion; an update does.
	stored := obj.ResourceVersion != "" || obj.DeletionTimestamp != nil
	if !stored && !slices.Contains(obj.Spec.Finalizers, corev1.FinalizerKubernetes) {
		obj.Spec.Finalizers = append(obj.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
}

// Service fills the fields of a Service that the Kubernetes API server
// defaults. It does not allocate cluster IPs, node ports or IP families:
// those depend on the cluster and are the API server's.
func Service(obj *corev1.Service) {
	spec := &obj.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		spec.SessionAffinityConfig = nil
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		c := spec.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{
				ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(corev1.DefaultClientIPServiceAffinitySeconds)},
			}
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if ExternallyAccessible(obj) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.InternalTrafficPolicy == nil {
		switch spec.Type {
		case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
			spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
		}
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		if spec.AllocateLoadBalancerNodePorts == nil {
			spec.AllocateLoadBalancerNodePorts = ptr.To(true)
		}
		for i := range obj.Status.LoadBalancer.Ingress {
			ing := &obj.Status.LoadBalancer.Ingress[i]
			if ing.IP != "" && ing.IPMode == nil {
				ing.IPMode = ptr.To(corev1.LoadBalancerIPModeVIP)
			}
		}
	}
	// Old clients set only clusterIP; the server keeps clusterIPs in step.
	if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	// The allocator picks the family policy of every service that gets a
	// cluster IP (or "None"); a headless service without a selector may
	// publish endpoints of every family.
	if spec.Type != corev1.ServiceTypeExternalName && spec.IPFamilyPolicy == nil {
		policy := corev1.IPFamilyPolicySingleStack
		if spec.ClusterIP == corev1.ClusterIPNone && len(spec.Selector) == 0 {
			policy = corev1.IPFamilyPolicyRequireDualStack
		}
		spec.IPFamilyPolicy = &policy
	}
}

// ExternallyAccessible tells whether traffic from outside the cluster can
// reach the service (NodePort, LoadBalancer, or ClusterIP with external
// IPs), which is when externalTrafficPolicy applies.
func ExternallyAccessible(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer ||
		svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0)
}

// ServiceForUpdate does what the Kubernetes service storage does to an
// update before validating it: it keeps clusterIPs in step with a changed
// clusterIP; it carries over the allocated cluster IPs, IP families, node
// ports and health-check node port a client left out (kubectl replace of a
// manifest that never had them); and it clears the values the old type
// needed and the new one forbids when the client did not touch them (so
// that changing a NodePort service to ClusterIP drops the allocated
// nodePorts instead of failing validation). Call it after Service, before
// validation.ValidateServiceUpdate.
func ServiceForUpdate(obj, old *corev1.Service) {
	spec, oldSpec := &obj.Spec, &old.Spec
	patchAllocated(obj, old)
	if spec.ClusterIP != oldSpec.ClusterIP && slices.Equal(spec.ClusterIPs, oldSpec.ClusterIPs) {
		switch {
		case spec.ClusterIP == "":
			spec.ClusterIPs = nil
		case len(spec.ClusterIPs) <= 1:
			spec.ClusterIPs = []string{spec.ClusterIP}
		default:
			spec.ClusterIPs = append([]string{spec.ClusterIP}, spec.ClusterIPs[1:]...)
		}
	}
	if spec.Type == corev1.ServiceTypeExternalName {
		if len(oldSpec.ClusterIPs) > 0 && slices.Equal(spec.ClusterIPs, oldSpec.ClusterIPs) && spec.ClusterIP == oldSpec.ClusterIP {
			spec.ClusterIP, spec.ClusterIPs = "", nil
		}
		if len(oldSpec.IPFamilies) > 0 && slices.Equal(spec.IPFamilies, oldSpec.IPFamilies) {
			spec.IPFamilies = nil
		}
		if oldSpec.IPFamilyPolicy != nil && ptr.Equal(spec.IPFamilyPolicy, oldSpec.IPFamilyPolicy) {
			spec.IPFamilyPolicy = nil
		}
	}
	if needsNodePort(old) && !needsNodePort(obj) && sameNodePorts(obj, old) {
		for i := range spec.Ports {
			spec.Ports[i].NodePort = 0
		}
	}
	if needsHealthCheckNodePort(old) && !needsHealthCheckNodePort(obj) && spec.HealthCheckNodePort == oldSpec.HealthCheckNodePort {
		spec.HealthCheckNodePort = 0
	}
	if oldSpec.Type == corev1.ServiceTypeLoadBalancer && spec.Type != corev1.ServiceTypeLoadBalancer {
		if spec.AllocateLoadBalancerNodePorts != nil && ptr.Equal(spec.AllocateLoadBalancerNodePorts, oldSpec.AllocateLoadBalancerNodePorts) {
			spec.AllocateLoadBalancerNodePorts = nil
		}
		if ptr.Equal(spec.LoadBalancerClass, oldSpec.LoadBalancerClass) {
			spec.LoadBalancerClass = nil
		}
	}
	if ExternallyAccessible(old) && !ExternallyAccessible(obj) && spec.ExternalTrafficPolicy == oldSpec.ExternalTrafficPolicy {
		spec.ExternalTrafficPolicy = ""
	}
	if spec.Type != corev1.ServiceTypeLoadBalancer {
		obj.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

func patchAllocated(obj, old *corev1.Service) {
	spec, oldSpec := &obj.Spec, &old.Spec
	if spec.Type != corev1.ServiceTypeExternalName && oldSpec.Type != corev1.ServiceTypeExternalName {
		if spec.ClusterIP == "" && len(spec.ClusterIPs) == 0 {
			spec.ClusterIP = oldSpec.ClusterIP
			spec.ClusterIPs = slices.Clone(oldSpec.ClusterIPs)
		}
		if len(spec.IPFamilies) == 0 {
			spec.IPFamilies = slices.Clone(oldSpec.IPFamilies)
		}
	}
	if needsNodePort(old) && needsNodePort(obj) {
		inNew := map[int32]bool{}
		for _, p := range spec.Ports {
			inNew[p.NodePort] = true
		}
		byName := map[string]int32{}
		for _, p := range oldSpec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range spec.Ports {
			p := &spec.Ports[i]
			if v := byName[p.Name]; p.NodePort == 0 && !inNew[v] {
				p.NodePort = v
			}
		}
	}
	if needsHealthCheckNodePort(old) && needsHealthCheckNodePort(obj) && spec.HealthCheckNodePort == 0 {
		spec.HealthCheckNodePort = oldSpec.HealthCheckNodePort
	}
}

func needsNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

func needsHealthCheckNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// sameNodePorts tells whether every node port obj names was already
// allocated to old, i.e. the client did not ask for a new one.
func sameNodePorts(obj, old *corev1.Service) bool {
	had := map[int32]bool{}
	for _, p := range old.Spec.Ports {
		had[p.NodePort] = true
	}
	for _, p := range obj.Spec.Ports {
		if p.NodePort != 0 && !had[p.NodePort] {
			return false
		}
	}
	return true
}

// Endpoints fills the fields of an Endpoints that the Kubernetes API server
// defaults: port protocol TCP.
func Endpoints(obj *corev1.Endpoints) {
	for i := range obj.Subsets {
		for j := range obj.Subsets[i].Ports {
			if obj.Subsets[i].Ports[j].Protocol == "" {
				obj.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
}

// ConfigMap fills the fields of a ConfigMap that the Kubernetes API server
// defaults: an empty data map, which serializes to nothing.
func ConfigMap(obj *corev1.ConfigMap) {
	if obj.Data == nil {
		obj.Data = map[string]string{}
	}
}

// Secret fills the fields of a Secret that the Kubernetes API server
// defaults: type Opaque. It also folds stringData into data, overwriting
// keys present in both, because stringData is write-only in Kubernetes.
func Secret(obj *corev1.Secret) {
	if obj.Type == "" {
		obj.Type = corev1.SecretTypeOpaque
	}
	if len(obj.StringData) > 0 {
		if obj.Data == nil {
			obj.Data = make(map[string][]byte, len(obj.StringData))
		}
		for k, v := range obj.StringData {
			obj.Data[k] = []byte(v)
		}
	}
	obj.StringData = nil
}

// ServiceAccount fills the fields of a ServiceAccount that the Kubernetes
// API server defaults; there are none.
func ServiceAccount(obj *corev1.ServiceAccount) {}

// Node fills the fields of a Node that the Kubernetes API server defaults:
// podCIDR and podCIDRs mirror each other, allocatable defaults to capacity,
// and quantities are rounded to milli precision.
func Node(obj *corev1.Node) {
	if len(obj.Spec.PodCIDRs) == 0 && obj.Spec.PodCIDR != "" {
		obj.Spec.PodCIDRs = []string{obj.Spec.PodCIDR}
	}
	if obj.Spec.PodCIDR == "" && len(obj.Spec.PodCIDRs) > 0 {
		obj.Spec.PodCIDR = obj.Spec.PodCIDRs[0]
	}
	st := &obj.Status
	if st.Allocatable == nil && st.Capacity != nil {
		st.Allocatable = st.Capacity.DeepCopy()
	}
	resourceList(st.Capacity)
	resourceList(st.Allocatable)
}

// Event fills the fields of an Event that the Kubernetes API server
// defaults; there are none.
func Event(obj *corev1.Event) {}
