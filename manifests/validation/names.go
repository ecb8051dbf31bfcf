package validation

import (
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
)

// Name rules, as Kubernetes applies them per kind.
var (
	// NameIsDNSSubdomain: lower-case RFC 1123 subdomain, ≤253 characters.
	NameIsDNSSubdomain = apivalidation.NameIsDNSSubdomain
	// NameIsDNSLabel: lower-case RFC 1123 label, ≤63 characters.
	NameIsDNSLabel = apivalidation.NameIsDNSLabel
	// NameIsDNS1035Label: RFC 1035 label (starts with a letter), ≤63 characters.
	NameIsDNS1035Label = apivalidation.NameIsDNS1035Label
	// ValidateNamespaceName: namespaces are DNS labels.
	ValidateNamespaceName = apivalidation.ValidateNamespaceName
)


