package validation

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

const annotationIngressClass = "kubernetes.io/ingress.class"

var (
	pathTypes            = []networkingv1.PathType{networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific, networkingv1.PathTypePrefix}
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

// ingressOptions relaxes, on update, what the stored Ingress already
// breaks.
type ingressOptions struct {
	allowInvalidSecretName       bool
	allowInvalidWildcardHostRule bool
}

// ValidateIngress checks a new Ingress: rules or a default backend, hosts
// that are DNS names, paths with a pathType, backends naming one service
// port or one resource.
func ValidateIngress(obj *networkingv1.Ingress) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, ingressSpec(&obj.Spec, field.NewPath("spec"), ingressOptions{})...)
	if v, ok := obj.Annotations[annotationIngressClass]; ok && obj.Spec.IngressClassName != nil && v != *obj.Spec.IngressClassName {
		allErrs = append(allErrs, field.Invalid(field.NewPath("annotations").Child(annotationIngressClass), v, "must match `ingressClassName` when both are specified"))
	}
	return allErrs
}

// ValidateIngressUpdate checks a change to an Ingress.
func ValidateIngressUpdate(obj, old *networkingv1.Ingress) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	var opts ingressOptions
	for _, t := range old.Spec.TLS {
		if t.SecretName != "" && len(NameIsDNSSubdomain(t.SecretName, false)) > 0 {
			opts.allowInvalidSecretName = true
		}
	}
	for _, r := range old.Spec.Rules {
		if strings.Contains(r.Host, "*") && len(ingressRuleValue(&r.IngressRuleValue, unreported(), ingressOptions{})) > 0 {
			opts.allowInvalidWildcardHostRule = true
		}
	}
	allErrs = append(allErrs, objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))...)
	return append(allErrs, ingressSpec(&obj.Spec, field.NewPath("spec"), opts)...)
}

func ingressSpec(spec *networkingv1.IngressSpec, fldPath *field.Path, opts ingressOptions) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		allErrs = append(allErrs, field.Invalid(fldPath, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		allErrs = append(allErrs, ingressBackend(spec.DefaultBackend, fldPath.Child("defaultBackend"))...)
	}
	for i, r := range spec.Rules {
		rulePath := fldPath.Child("rules").Index(i)
		wildcard := false
		if r.Host != "" {
			if netutils.ParseIPSloppy(r.Host) != nil {
				allErrs = append(allErrs, field.Invalid(rulePath.Child("host"), r.Host, "must be a DNS name, not an IP address"))
			}
			if strings.Contains(r.Host, "*") {
				wildcard = true
				for _, msg := range validation.IsWildcardDNS1123Subdomain(r.Host) {
					allErrs = append(allErrs, field.Invalid(rulePath.Child("host"), r.Host, msg))
				}
			} else {
				allErrs = append(allErrs, dns1123Subdomain(r.Host, rulePath.Child("host"))...)
			}
		}
		if !wildcard || !opts.allowInvalidWildcardHostRule {
			allErrs = append(allErrs, ingressRuleValue(&r.IngressRuleValue, rulePath, opts)...)
		}
	}
	for i, t := range spec.TLS {
		tlsPath := fldPath.Child("tls").Index(i)
		for j, h := range t.Hosts {
			hostPath := tlsPath.Child("hosts").Index(j)
			if strings.Contains(h, "*") {
				for _, msg := range validation.IsWildcardDNS1123Subdomain(h) {
					allErrs = append(allErrs, field.Invalid(hostPath, h, msg))
				}
				continue
			}
			allErrs = append(allErrs, dns1123Subdomain(h, hostPath)...)
		}
		if t.SecretName != "" && !opts.allowInvalidSecretName {
			allErrs = append(allErrs, objectName(NameIsDNSSubdomain, t.SecretName, tlsPath.Child("secretName"))...)
		}
	}
	if spec.IngressClassName != nil {
		allErrs = append(allErrs, objectName(NameIsDNSSubdomain, *spec.IngressClassName, fldPath.Child("ingressClassName"))...)
	}
	return allErrs
}

func ingressRuleValue(v *networkingv1.IngressRuleValue, fldPath *field.Path, opts ingressOptions) field.ErrorList {
	if v.HTTP == nil {
		return nil
	}
	httpPath := fldPath.Child("http")
	var allErrs field.ErrorList
	if len(v.HTTP.Paths) == 0 {
		allErrs = append(allErrs, field.Required(httpPath.Child("paths"), ""))
	}
	for i := range v.HTTP.Paths {
		allErrs = append(allErrs, ingressPath(&v.HTTP.Paths[i], httpPath.Child("paths").Index(i))...)
	}
	return allErrs
}

func ingressPath(p *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	if p.PathType == nil {
		return field.ErrorList{field.Required(fldPath.Child("pathType"), "pathType must be specified")}
	}
	var allErrs field.ErrorList
	switch *p.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(p.Path, "/") {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), p.Path, "must be an absolute path"))
		}
		for _, seq := range invalidPathSequences {
			if strings.Contains(p.Path, seq) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), p.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suf := range invalidPathSuffixes {
			if strings.HasSuffix(p.Path, suf) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), p.Path, fmt.Sprintf("cannot end with '%s'", suf)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), p.Path, "must be an absolute path"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("pathType"), *p.PathType, pathTypes))
	}
	return append(allErrs, ingressBackend(&p.Backend, fldPath.Child("backend"))...)
}

func ingressBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return typedLocalObjectReference(b.Resource.APIGroup, b.Resource.Kind, b.Resource.Name, fldPath.Child("resource"))
	case b.Service != nil:
		var allErrs field.ErrorList
		if b.Service.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("service", "name"), ""))
		} else {
			allErrs = append(allErrs, objectName(NameIsDNS1035Label, b.Service.Name, fldPath.Child("service", "name"))...)
		}
		port := b.Service.Port
		switch {
		case port.Name != "" && port.Number != 0:
			allErrs = append(allErrs, field.Invalid(fldPath, "", "cannot set both port name & port number"))
		case port.Name != "":
			for _, msg := range validation.IsValidPortName(port.Name) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("service", "port", "name"), port.Name, msg))
			}
		case port.Number != 0:
			for _, msg := range validation.IsValidPortNum(int(port.Number)) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("service", "port", "number"), port.Number, msg))
			}
		default:
			allErrs = append(allErrs, field.Required(fldPath, "port name or number is required"))
		}
		return allErrs
	}
	return field.ErrorList{field.Invalid(fldPath, "", "resource or service backend is required")}
}

func typedLocalObjectReference(apiGroup *string, kind, objName string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if apiGroup != nil {
		allErrs = append(allErrs, dns1123Subdomain(*apiGroup, fldPath.Child("apiGroup"))...)
	}
	if kind == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("kind"), "kind is required"))
	} else {
		for _, msg := range path.IsValidPathSegmentName(kind) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("kind"), kind, msg))
		}
	}
	if objName == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), "name is required"))
	} else {
		for _, msg := range path.IsValidPathSegmentName(objName) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), objName, msg))
		}
	}
	return allErrs
}
