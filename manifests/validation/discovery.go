package validation

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Limits from kubernetes/pkg/apis/discovery/validation.
const (
	maxTopologyLabels = 16
	maxAddresses      = 100
	maxPorts          = 20000
	maxEndpoints      = 1000
	maxZoneHints      = 8
)

var addressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

// ValidateEndpointSlice checks a new EndpointSlice: addresses of its
// addressType, at most 1000 endpoints of at most 100 addresses, unique port
// names.
func ValidateEndpointSlice(obj *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	typePath := field.NewPath("addressType")
	if obj.AddressType == "" {
		allErrs = append(allErrs, field.Required(typePath, ""))
	} else if !sets.New(addressTypes...).Has(obj.AddressType) {
		allErrs = append(allErrs, field.NotSupported(typePath, obj.AddressType, addressTypes))
	}
	allErrs = append(allErrs, sliceEndpoints(obj.Endpoints, obj.AddressType, field.NewPath("endpoints"))...)
	return append(allErrs, slicePorts(obj.Ports, field.NewPath("ports"))...)
}

// ValidateEndpointSliceUpdate checks a change to an EndpointSlice, whose
// addressType never changes.
func ValidateEndpointSliceUpdate(obj, old *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateEndpointSlice(obj)...)
	return append(allErrs, immutable(obj.AddressType, old.AddressType, field.NewPath("addressType"))...)
}

func sliceEndpoints(endpoints []discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(endpoints) > maxEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(endpoints), maxEndpoints)}
	}
	var allErrs field.ErrorList
	for i, ep := range endpoints {
		idxPath := fldPath.Index(i)
		addrPath := idxPath.Child("addresses")
		if len(ep.Addresses) == 0 {
			allErrs = append(allErrs, field.Required(addrPath, "must contain at least 1 address"))
		} else if len(ep.Addresses) > maxAddresses {
			allErrs = append(allErrs, field.TooMany(addrPath, len(ep.Addresses), maxAddresses))
		}
		for j, a := range ep.Addresses {
			p := addrPath.Index(j)
			switch addrType {
			case discoveryv1.AddressTypeIPv4:
				if parsed := netutils.ParseIPSloppy(a); parsed == nil || parsed.To4() == nil {
					allErrs = append(allErrs, field.Invalid(p, a, "must be a valid IPv4 address"))
				}
				allErrs = append(allErrs, nonSpecialIP(a, p)...)
			case discoveryv1.AddressTypeIPv6:
				if parsed := netutils.ParseIPSloppy(a); parsed == nil || parsed.To4() != nil {
					allErrs = append(allErrs, field.Invalid(p, a, "must be a valid IPv6 address"))
				}
				allErrs = append(allErrs, nonSpecialIP(a, p)...)
			case discoveryv1.AddressTypeFQDN:
				allErrs = append(allErrs, validation.IsFullyQualifiedDomainName(p, a)...)
			}
		}
		if ep.NodeName != nil {
			allErrs = append(allErrs, objectName(NameIsDNSSubdomain, *ep.NodeName, idxPath.Child("nodeName"))...)
		}
		topoPath := idxPath.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxTopologyLabels {
			allErrs = append(allErrs, field.TooMany(topoPath, len(ep.DeprecatedTopology), maxTopologyLabels))
		}
		allErrs = append(allErrs, metavalidation.ValidateLabels(ep.DeprecatedTopology, topoPath)...)
		if ep.Hostname != nil {
			allErrs = append(allErrs, dns1123Label(*ep.Hostname, idxPath.Child("hostname"))...)
		}
		if ep.Hints != nil {
			allErrs = append(allErrs, zoneHints(ep.Hints, idxPath.Child("hints"))...)
		}
	}
	return allErrs
}

func zoneHints(h *discoveryv1.EndpointHints, fldPath *field.Path) field.ErrorList {
	p := fldPath.Child("forZones")
	if len(h.ForZones) > maxZoneHints {
		return field.ErrorList{field.TooMany(p, len(h.ForZones), maxZoneHints)}
	}
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, z := range h.ForZones {
		zp := p.Index(i).Child("name")
		if seen.Has(z.Name) {
			allErrs = append(allErrs, field.Duplicate(zp, z.Name))
		}
		seen.Insert(z.Name)
		for _, msg := range validation.IsValidLabelValue(z.Name) {
			allErrs = append(allErrs, field.Invalid(zp, z.Name, msg))
		}
	}
	return allErrs
}

func slicePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > maxPorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), maxPorts)}
	}
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		idxPath := fldPath.Index(i)
		n := ""
		if p.Name != nil {
			n = *p.Name
		}
		if n != "" {
			allErrs = append(allErrs, dns1123Label(n, idxPath.Child("name"))...)
		}
		if names.Has(n) {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), n))
		}
		names.Insert(n)
		if p.Protocol == nil {
			allErrs = append(allErrs, field.Required(idxPath.Child("protocol"), ""))
		} else if *p.Protocol != corev1.ProtocolTCP && *p.Protocol != corev1.ProtocolUDP && *p.Protocol != corev1.ProtocolSCTP {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("protocol"), *p.Protocol, supportedProtocols))
		}
		if p.AppProtocol != nil {
			allErrs = append(allErrs, qualifiedName(*p.AppProtocol, idxPath.Child("appProtocol"))...)
		}
	}
	return allErrs
}
