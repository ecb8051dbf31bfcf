package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

var (
	serviceTypes = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}
	affinities   = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	ipFamilies   = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	familyPols   = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}
)

const (
	annotationTopologyAwareHints = "service.kubernetes.io/topology-aware-hints"
	annotationTopologyMode       = "service.kubernetes.io/topology-mode"
	annotationLBSourceRanges     = "service.beta.kubernetes.io/load-balancer-source-ranges"
	maxClientIPAffinitySeconds   = 86400
)

func isHeadless(svc *corev1.Service) bool {
	return len(svc.Spec.ClusterIPs) == 1 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone
}

func externallyAccessible(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer || svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0)
}

// ValidateService checks a new Service. Cluster IPs, node ports and the
// health-check node port are allocated by the API server, so an unset one
// is not an error here; a set one must be well formed.
func ValidateService(obj *corev1.Service) field.ErrorList {
	metaPath, specPath := field.NewPath("metadata"), field.NewPath("spec")
	spec := &obj.Spec
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNS1035Label, metaPath)
	hints, hintsSet := obj.Annotations[annotationTopologyAwareHints]
	mode, modeSet := obj.Annotations[annotationTopologyMode]
	if hintsSet && modeSet && hints != mode {
		allErrs = append(allErrs, field.Invalid(metaPath.Child("annotations").Key(annotationTopologyMode), mode,
			fmt.Sprintf("must match annotations[%s] when both are specified", annotationTopologyAwareHints)))
	}
	if len(spec.Ports) == 0 && !isHeadless(obj) && spec.Type != corev1.ServiceTypeExternalName {
		allErrs = append(allErrs, field.Required(specPath.Child("ports"), ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if isHeadless(obj) {
			allErrs = append(allErrs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIPs[0], fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if len(spec.ClusterIPs) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// A trailing dot marks a fully qualified name.
		if cname := strings.TrimSuffix(spec.ExternalName, "."); cname != "" {
			allErrs = append(allErrs, dns1123Subdomain(cname, specPath.Child("externalName"))...)
		} else {
			allErrs = append(allErrs, field.Required(specPath.Child("externalName"), ""))
		}
	}

	portsPath := specPath.Child("ports")
	names := sets.New[string]()
	for i := range spec.Ports {
		allErrs = append(allErrs, servicePort(&spec.Ports[i], len(spec.Ports) > 1, names, portsPath.Index(i))...)
	}
	if spec.Selector != nil {
		allErrs = append(allErrs, metavalidation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	switch spec.SessionAffinity {
	case "":
		allErrs = append(allErrs, field.Required(specPath.Child("sessionAffinity"), ""))
	case corev1.ServiceAffinityClientIP:
		allErrs = append(allErrs, clientIPAffinity(spec.SessionAffinityConfig, specPath.Child("sessionAffinityConfig"))...)
	case corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(specPath.Child("sessionAffinity"), spec.SessionAffinity, affinities))
	}
	allErrs = append(allErrs, clusterIPsRelatedFields(obj)...)
	for i, eip := range spec.ExternalIPs {
		p := specPath.Child("externalIPs").Index(i)
		if errs := ip(p, eip); len(errs) != 0 {
			allErrs = append(allErrs, errs...)
		} else {
			allErrs = append(allErrs, nonSpecialIP(eip, p)...)
		}
	}
	if spec.Type == "" {
		allErrs = append(allErrs, field.Required(specPath.Child("type"), ""))
	} else if !sets.New(serviceTypes...).Has(spec.Type) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("type"), spec.Type, serviceTypes))
	}
	if spec.Type == corev1.ServiceTypeClusterIP {
		for i, p := range spec.Ports {
			if p.NodePort != 0 {
				allErrs = append(allErrs, field.Forbidden(portsPath.Index(i).Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			}
		}
	}
	nodePorts := map[corev1.ServicePort]bool{}
	ports := map[corev1.ServicePort]bool{}
	for i, p := range spec.Ports {
		if p.NodePort != 0 {
			key := corev1.ServicePort{Protocol: p.Protocol, NodePort: p.NodePort}
			if nodePorts[key] {
				allErrs = append(allErrs, field.Duplicate(portsPath.Index(i).Child("nodePort"), p.NodePort))
			}
			nodePorts[key] = true
		}
		key := corev1.ServicePort{Protocol: p.Protocol, Port: p.Port}
		if ports[key] {
			allErrs = append(allErrs, field.Duplicate(portsPath.Index(i), key))
		}
		ports[key] = true
	}
	allErrs = append(allErrs, sourceRanges(obj)...)
	if spec.AllocateLoadBalancerNodePorts != nil && spec.Type != corev1.ServiceTypeLoadBalancer {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		// Kubernetes reports this one without the spec prefix.
		allErrs = append(allErrs, field.Required(field.NewPath("allocateLoadBalancerNodePorts"), ""))
	}
	if spec.LoadBalancerClass != nil {
		if spec.Type == corev1.ServiceTypeLoadBalancer {
			allErrs = append(allErrs, qualifiedName(*spec.LoadBalancerClass, specPath.Child("loadBalancerClass"))...)
		} else {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		}
	}
	allErrs = append(allErrs, externalTrafficPolicy(obj)...)
	if spec.InternalTrafficPolicy == nil {
		switch spec.Type {
		case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeClusterIP:
			allErrs = append(allErrs, field.Required(specPath.Child("internalTrafficPolicy"), ""))
		}
	} else if p := *spec.InternalTrafficPolicy; p != corev1.ServiceInternalTrafficPolicyCluster && p != corev1.ServiceInternalTrafficPolicyLocal {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("internalTrafficPolicy"), p,
			[]corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}))
	}
	if d := spec.TrafficDistribution; d != nil && *d != corev1.ServiceTrafficDistributionPreferClose {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("trafficDistribution"), *d, []string{corev1.ServiceTrafficDistributionPreferClose}))
	}
	return allErrs
}

func servicePort(sp *corev1.ServicePort, requireName bool, names sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if requireName && sp.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else if sp.Name != "" {
		allErrs = append(allErrs, dns1123Label(sp.Name, fldPath.Child("name"))...)
		if names.Has(sp.Name) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Child("name"), sp.Name))
		} else {
			names.Insert(sp.Name)
		}
	}
	for _, msg := range validation.IsValidPortNum(int(sp.Port)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("port"), sp.Port, msg))
	}
	allErrs = append(allErrs, protocol(sp.Protocol, fldPath.Child("protocol"))...)
	allErrs = append(allErrs, portNumOrName(sp.TargetPort, fldPath.Child("targetPort"))...)
	if sp.AppProtocol != nil {
		allErrs = append(allErrs, qualifiedName(*sp.AppProtocol, fldPath.Child("appProtocol"))...)
	}
	return allErrs
}

func clientIPAffinity(c *corev1.SessionAffinityConfig, fldPath *field.Path) field.ErrorList {
	detail := fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)
	switch {
	case c == nil:
		return field.ErrorList{field.Required(fldPath, detail)}
	case c.ClientIP == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP"), detail)}
	case c.ClientIP.TimeoutSeconds == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP").Child("timeoutSeconds"), detail)}
	}
	if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
		return field.ErrorList{field.Invalid(fldPath.Child("clientIP").Child("timeoutSeconds"), t, fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds))}
	}
	return nil
}

// clusterIPsRelatedFields checks clusterIP, clusterIPs, ipFamilies and
// ipFamilyPolicy together.
func clusterIPsRelatedFields(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var allErrs field.ErrorList
	specPath := field.NewPath("spec")
	ipsPath := specPath.Child("clusterIPs")
	if spec.ClusterIP != "" {
		if len(spec.ClusterIPs) == 0 {
			allErrs = append(allErrs, field.Required(ipsPath, ""))
		} else if spec.ClusterIPs[0] != spec.ClusterIP {
			allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(spec.ClusterIPs) != 0 {
		allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	seen := sets.New[corev1.IPFamily]()
	for i, f := range spec.IPFamilies {
		if !sets.New(ipFamilies...).Has(f) {
			allErrs = append(allErrs, field.NotSupported(specPath.Child("ipFamilies").Index(i), f, ipFamilies))
		}
		if seen.Has(f) {
			allErrs = append(allErrs, field.Duplicate(specPath.Child("ipFamilies").Index(i), f))
		}
		seen.Insert(f)
	}
	if p := spec.IPFamilyPolicy; p != nil && !sets.New(familyPols...).Has(*p) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("ipFamilyPolicy"), p, familyPols))
	}
	invalid := false
	for i, cip := range spec.ClusterIPs {
		if i == 0 && cip == corev1.ClusterIPNone {
			if len(spec.ClusterIPs) > 1 {
				invalid = true
				allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		errs := ip(ipsPath.Index(i), cip)
		invalid = invalid || len(errs) != 0
		allErrs = append(allErrs, errs...)
	}
	if len(spec.ClusterIPs) > 2 {
		allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	if invalid {
		return allErrs
	}
	if len(spec.ClusterIPs) > 1 {
		if ok, _ := netutils.IsDualStackIPStrings(spec.ClusterIPs); !ok {
			allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "may specify no more than one IP for each IP family"))
		}
	}
	if !isHeadless(svc) {
		for i, cip := range spec.ClusterIPs {
			if i >= len(spec.IPFamilies) {
				break
			}
			v6 := netutils.IsIPv6String(cip)
			if spec.IPFamilies[i] == corev1.IPv4Protocol && v6 {
				allErrs = append(allErrs, field.Invalid(ipsPath.Index(i), cip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			}
			if spec.IPFamilies[i] == corev1.IPv6Protocol && !v6 {
				allErrs = append(allErrs, field.Invalid(ipsPath.Index(i), cip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return allErrs
}

func sourceRanges(svc *corev1.Service) field.ErrorList {
	var allErrs field.ErrorList
	if len(svc.Spec.LoadBalancerSourceRanges) > 0 {
		p := field.NewPath("spec").Child("LoadBalancerSourceRanges")
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			allErrs = append(allErrs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		// Space padding is allowed for historical reasons.
		for i, v := range svc.Spec.LoadBalancerSourceRanges {
			allErrs = append(allErrs, cidr(p.Index(i), strings.TrimSpace(v))...)
		}
	} else if v, ok := svc.Annotations[annotationLBSourceRanges]; ok {
		p := field.NewPath("metadata", "annotations").Key(annotationLBSourceRanges)
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			allErrs = append(allErrs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		if v = strings.TrimSpace(v); v != "" {
			for _, c := range strings.Split(v, ",") {
				allErrs = append(allErrs, cidr(p, strings.TrimSpace(c))...)
			}
		}
	}
	return allErrs
}

func externalTrafficPolicy(svc *corev1.Service) field.ErrorList {
	var allErrs field.ErrorList
	specPath := field.NewPath("spec")
	etp := svc.Spec.ExternalTrafficPolicy
	if !externallyAccessible(svc) {
		if etp != "" {
			allErrs = append(allErrs, field.Invalid(specPath.Child("externalTrafficPolicy"), etp, "may only be set for externally-accessible services"))
		}
	} else if etp == "" {
		allErrs = append(allErrs, field.Required(specPath.Child("externalTrafficPolicy"), ""))
	} else if etp != corev1.ServiceExternalTrafficPolicyCluster && etp != corev1.ServiceExternalTrafficPolicyLocal {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("externalTrafficPolicy"), etp,
			[]corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}))
	}
	needsHealthCheck := svc.Spec.Type == corev1.ServiceTypeLoadBalancer && etp == corev1.ServiceExternalTrafficPolicyLocal
	hc := svc.Spec.HealthCheckNodePort
	if !needsHealthCheck && hc != 0 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("healthCheckNodePort"), hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	}
	if needsHealthCheck && hc != 0 {
		for _, msg := range validation.IsValidPortNum(int(hc)) {
			allErrs = append(allErrs, field.Invalid(specPath.Child("healthCheckNodePort"), hc, msg))
		}
	}
	return allErrs
}

// ValidateServiceUpdate checks a change to a Service: the new service must
// be valid, and its cluster IPs and IP families may not change except to add
// or release a secondary one or to switch to or from ExternalName. The API
// server runs defaults.ServiceForUpdate first, as Kubernetes does.
func ValidateServiceUpdate(obj, old *corev1.Service) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, clusterIPsUpdate(obj, old)...)
	allErrs = append(allErrs, ipFamiliesUpdate(obj, old)...)
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && obj.Spec.Type == corev1.ServiceTypeLoadBalancer {
		o, n := old.Spec.LoadBalancerClass, obj.Spec.LoadBalancerClass
		if (o == nil) != (n == nil) || (o != nil && *o != *n) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "loadBalancerClass"), n, "may not change once set"))
		}
	}
	needsHC := func(s *corev1.Service) bool {
		return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	}
	if needsHC(old) && needsHC(obj) && obj.Spec.HealthCheckNodePort != old.Spec.HealthCheckNodePort && obj.Spec.HealthCheckNodePort != 0 {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "healthCheckNodePort"), "field is immutable"))
	}
	return append(allErrs, ValidateService(obj)...)
}

func clusterIPsUpdate(obj, old *corev1.Service) field.ErrorList {
	if obj.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	if isHeadless(obj) && isHeadless(old) {
		return nil
	}
	var allErrs field.ErrorList
	p := field.NewPath("spec", "clusterIPs")
	n, o := obj.Spec.ClusterIPs, old.Spec.ClusterIPs
	switch {
	case len(o) == len(n):
		for i := range o {
			if o[i] != n[i] {
				allErrs = append(allErrs, field.Invalid(p.Index(i), n, "may not change once set"))
			}
		}
	case len(o) > len(n):
		if len(n) == 0 {
			allErrs = append(allErrs, field.Invalid(p.Index(0), n, "primary clusterIP can not be unset"))
		}
		if len(n) > 0 && n[0] != o[0] {
			allErrs = append(allErrs, field.Invalid(p.Index(0), n, "may not change once set"))
		}
		if len(n) == 1 && (obj.Spec.IPFamilyPolicy == nil || *obj.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "ipFamilyPolicy"), obj.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary clusterIP"))
		}
	default:
		if len(o) > 0 && n[0] != o[0] {
			allErrs = append(allErrs, field.Invalid(p.Index(0), n, "may not change once set"))
		}
	}
	return allErrs
}

func ipFamiliesUpdate(obj, old *corev1.Service) field.ErrorList {
	if obj.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	// Headless services may change families, and so may a service that
	// becomes or stops being headless.
	if isHeadless(obj) || isHeadless(old) {
		return nil
	}
	var allErrs field.ErrorList
	p := field.NewPath("spec", "ipFamilies")
	n, o := obj.Spec.IPFamilies, old.Spec.IPFamilies
	switch {
	case len(o) == len(n):
		for i := range o {
			if o[i] != n[i] {
				allErrs = append(allErrs, field.Invalid(p.Index(0), n, "may not change once set"))
			}
		}
	case len(o) > len(n):
		if len(obj.Spec.ClusterIPs) == 0 {
			allErrs = append(allErrs, field.Invalid(p.Index(0), n, "primary ipFamily can not be unset"))
		}
		if len(n) > 0 && n[0] != o[0] {
			allErrs = append(allErrs, field.Invalid(p.Index(0), obj.Spec.ClusterIPs, "may not change once set"))
		}
		if len(n) == 1 && (obj.Spec.IPFamilyPolicy == nil || *obj.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "ipFamilyPolicy"), obj.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary ipFamily"))
		}
	default:
		if len(o) > 0 && n[0] != o[0] {
			allErrs = append(allErrs, field.Invalid(p.Index(0), obj.Spec.ClusterIPs, "may not change once set"))
		}
	}
	return allErrs
}
