package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	standardResources = sets.New[corev1.ResourceName](
		corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
		corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
		corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
		corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
		corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims,
		corev1.ResourceStorage, corev1.ResourceRequestsStorage,
		corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers)
	standardContainerResources = sets.New[corev1.ResourceName](corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage)
	integerResources           = sets.New[corev1.ResourceName](
		corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
		corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims,
		corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers)
)

func isHugePageResourceName(n corev1.ResourceName) bool {
	return strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix)
}

// isNativeResource: unprefixed or in the kubernetes.io domain.
func isNativeResource(n corev1.ResourceName) bool {
	return !strings.Contains(string(n), "/") || strings.Contains(string(n), corev1.ResourceDefaultNamespacePrefix)
}

// isExtendedResourceName: a device-plugin style resource such as
// example.com/gpu.
func isExtendedResourceName(n corev1.ResourceName) bool {
	if isNativeResource(n) || strings.HasPrefix(string(n), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(n))) == 0
}

// isOvercommitAllowed: requests may be below limits, except for huge pages
// and extended resources.
func isOvercommitAllowed(n corev1.ResourceName) bool {
	return isNativeResource(n) && !isHugePageResourceName(n)
}

func isIntegerResourceName(n corev1.ResourceName) bool {
	return integerResources.Has(n) || isExtendedResourceName(n)
}

func hugePageValueDivisible(n corev1.ResourceName, q resource.Quantity) bool {
	size, err := resource.ParseQuantity(strings.TrimPrefix(string(n), corev1.ResourceHugePagesPrefix))
	if err != nil || size.Sign() <= 0 || size.MilliValue()%1000 != 0 {
		return false
	}
	return q.Value()%size.Value() == 0
}

func containerResourceName(n corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsQualifiedName(string(n)) {
		allErrs = append(allErrs, field.Invalid(fldPath, n, msg))
	}
	if len(allErrs) != 0 {
		return allErrs
	}
	if !strings.Contains(string(n), "/") {
		if !standardResources.Has(n) && !isHugePageResourceName(n) && !strings.HasPrefix(string(n), corev1.ResourceRequestsHugePagesPrefix) {
			allErrs = append(allErrs, field.Invalid(fldPath, n, "must be a standard resource type or fully qualified"))
		}
		if !standardContainerResources.Has(n) && !isHugePageResourceName(n) {
			allErrs = append(allErrs, field.Invalid(fldPath, n, "must be a standard resource for containers"))
		}
	} else if !isNativeResource(n) && !isExtendedResourceName(n) {
		allErrs = append(allErrs, field.Invalid(fldPath, n, "doesn't follow extended resource name standard"))
	}
	return allErrs
}

// resourceQuantity: never negative, whole numbers for countable resources.
func resourceQuantity(n corev1.ResourceName, q resource.Quantity, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if q.Sign() < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, q.String(), "must be greater than or equal to 0"))
	}
	if isIntegerResourceName(n) && q.MilliValue()%1000 != 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, q, "must be an integer"))
	}
	return allErrs
}

// resourceRequirements checks a container's resources: known names,
// non-negative quantities, requests within limits.
func resourceRequirements(r *corev1.ResourceRequirements, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	limCPUOrMem, reqCPUOrMem, hugePages := false, false, false
	for n, q := range r.Limits {
		p := limPath.Key(string(n))
		allErrs = append(allErrs, containerResourceName(n, p)...)
		allErrs = append(allErrs, resourceQuantity(n, q, p)...)
		if isHugePageResourceName(n) {
			hugePages = true
			if !opts.allowIndivisibleHugePages && !hugePageValueDivisible(n, q) {
				allErrs = append(allErrs, field.Invalid(p, q.String(), fmt.Sprintf("%s is not positive integer multiple of %s", q.String(), n)))
			}
		}
		if n == corev1.ResourceCPU || n == corev1.ResourceMemory {
			limCPUOrMem = true
		}
	}
	for n, q := range r.Requests {
		p := reqPath.Key(string(n))
		allErrs = append(allErrs, containerResourceName(n, p)...)
		allErrs = append(allErrs, resourceQuantity(n, q, p)...)
		if lim, ok := r.Limits[n]; ok {
			if q.Cmp(lim) != 0 && !isOvercommitAllowed(n) {
				allErrs = append(allErrs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", n, lim.String())))
			} else if q.Cmp(lim) > 0 {
				allErrs = append(allErrs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", n, lim.String())))
			}
		} else if !isOvercommitAllowed(n) {
			allErrs = append(allErrs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
		if isHugePageResourceName(n) {
			hugePages = true
			if !opts.allowIndivisibleHugePages && !hugePageValueDivisible(n, q) {
				allErrs = append(allErrs, field.Invalid(p, q.String(), fmt.Sprintf("%s is not positive integer multiple of %s", q.String(), n)))
			}
		}
		if n == corev1.ResourceCPU || n == corev1.ResourceMemory {
			reqCPUOrMem = true
		}
	}
	if hugePages && !limCPUOrMem && !reqCPUOrMem {
		allErrs = append(allErrs, field.Forbidden(fldPath, "HugePages require cpu or memory"))
	}
	return allErrs
}
