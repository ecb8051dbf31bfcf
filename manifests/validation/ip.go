package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// ip validates an IP address field that predates strict IP validation, as
// Kubernetes v1.33 does with StrictIPCIDRValidation off: leading zeros and
// non-canonical forms are accepted.
func ip(fldPath *field.Path, value string) field.ErrorList {
	return validation.IsValidIPForLegacyField(fldPath, value, false, nil)
}

// cidr is ip for CIDR fields.
func cidr(fldPath *field.Path, value string) field.ErrorList {
	return validation.IsValidCIDRForLegacyField(fldPath, value, false, nil)
}

// nonSpecialIP refuses addresses that make no sense as an endpoint or an
// external IP: unspecified, loopback and link-local.
func nonSpecialIP(value string, fldPath *field.Path) field.ErrorList {
	addr := netutils.ParseIPSloppy(value)
	if addr == nil {
		return field.ErrorList{field.Invalid(fldPath, value, "must be a valid IP address")}
	}
	var allErrs field.ErrorList
	if addr.IsUnspecified() {
		allErrs = append(allErrs, field.Invalid(fldPath, value, fmt.Sprintf("may not be unspecified (%v)", value)))
	}
	if addr.IsLoopback() {
		allErrs = append(allErrs, field.Invalid(fldPath, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if addr.IsLinkLocalUnicast() {
		allErrs = append(allErrs, field.Invalid(fldPath, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if addr.IsLinkLocalMulticast() {
		allErrs = append(allErrs, field.Invalid(fldPath, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return allErrs
}
