package validation

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// ValidateNamespace checks a new Namespace.
func ValidateNamespace(obj *corev1.Namespace) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, false, ValidateNamespaceName, field.NewPath("metadata"))
	// Kubernetes reports every entry at the list's path.
	p := field.NewPath("spec", "finalizers")
	for _, f := range obj.Spec.Finalizers {
		allErrs = append(allErrs, apivalidation.ValidateFinalizerName(string(f), p)...)
		allErrs = append(allErrs, kubeFinalizerName(string(f), p)...)
	}
	return allErrs
}

// ValidateNamespaceUpdate checks a change to a Namespace.
func ValidateNamespaceUpdate(obj, old *corev1.Namespace) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateNamespace(obj)...)
}

// ValidateEndpoints checks a new Endpoints.
func ValidateEndpoints(obj *corev1.Endpoints) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	for i := range obj.Subsets {
		ss := &obj.Subsets[i]
		idxPath := field.NewPath("subsets").Index(i)
		// A headless service's endpoints may have no ports, but never no
		// addresses.
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			allErrs = append(allErrs, field.Required(idxPath, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			allErrs = append(allErrs, endpointAddress(&ss.Addresses[j], idxPath.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			allErrs = append(allErrs, endpointAddress(&ss.NotReadyAddresses[j], idxPath.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			allErrs = append(allErrs, endpointPort(&ss.Ports[j], len(ss.Ports) > 1, idxPath.Child("ports").Index(j))...)
		}
	}
	return allErrs
}

// ValidateEndpointsUpdate checks a change to an Endpoints.
func ValidateEndpointsUpdate(obj, old *corev1.Endpoints) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateEndpoints(obj)...)
}

func endpointAddress(a *corev1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	allErrs := ip(fldPath.Child("ip"), a.IP)
	if a.Hostname != "" {
		allErrs = append(allErrs, dns1123Label(a.Hostname, fldPath.Child("hostname"))...)
	}
	if a.NodeName != nil {
		allErrs = append(allErrs, objectName(NameIsDNSSubdomain, *a.NodeName, fldPath.Child("nodeName"))...)
	}
	return append(allErrs, nonSpecialIP(a.IP, fldPath.Child("ip"))...)
}

func endpointPort(p *corev1.EndpointPort, requireName bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if requireName && p.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else if p.Name != "" {
		allErrs = append(allErrs, dns1123Label(p.Name, fldPath.Child("name"))...)
	}
	for _, msg := range validation.IsValidPortNum(int(p.Port)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("port"), p.Port, msg))
	}
	allErrs = append(allErrs, protocol(p.Protocol, fldPath.Child("protocol"))...)
	if p.AppProtocol != nil {
		allErrs = append(allErrs, qualifiedName(*p.AppProtocol, fldPath.Child("appProtocol"))...)
	}
	return allErrs
}

// MaxConfigSize is the limit on the total size of a ConfigMap's or
// Secret's data: 1 MiB, what etcd can store comfortably.
const MaxConfigSize = 1 * 1024 * 1024

// ValidateConfigMap checks a new ConfigMap.
func ValidateConfigMap(obj *corev1.ConfigMap) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	size := 0
	for k, v := range obj.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("data").Key(k), k, msg))
		}
		if _, dup := obj.BinaryData[k]; dup {
			allErrs = append(allErrs, field.Invalid(field.NewPath("data").Key(k), k, "duplicate of key present in binaryData"))
		}
		size += len(v)
	}
	for k, v := range obj.BinaryData {
		for _, msg := range validation.IsConfigMapKey(k) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("binaryData").Key(k), k, msg))
		}
		size += len(v)
	}
	if size > MaxConfigSize {
		// The empty path means the error is about the whole object.
		allErrs = append(allErrs, field.TooLong(field.NewPath(""), "", MaxConfigSize))
	}
	return allErrs
}

// ValidateConfigMapUpdate checks a change to a ConfigMap: once immutable, a
// ConfigMap keeps its data and stays immutable.
func ValidateConfigMapUpdate(obj, old *corev1.ConfigMap) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	if old.Immutable != nil && *old.Immutable {
		if obj.Immutable == nil || !*obj.Immutable {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !apiequality.Semantic.DeepEqual(obj.Data, old.Data) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
		if !apiequality.Semantic.DeepEqual(obj.BinaryData, old.BinaryData) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
		}
	}
	return append(allErrs, ValidateConfigMap(obj)...)
}

// secretData is what Kubernetes validates: data with stringData folded in.
func secretData(s *corev1.Secret) map[string][]byte {
	if len(s.StringData) == 0 {
		return s.Data
	}
	data := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return data
}

// ValidateSecret checks a new Secret: key names, total size, and the keys
// each well-known type requires.
func ValidateSecret(obj *corev1.Secret) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	dataPath := field.NewPath("data")
	data := secretData(obj)
	size := 0
	for k, v := range data {
		for _, msg := range validation.IsConfigMapKey(k) {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(k), k, msg))
		}
		size += len(v)
	}
	if size > MaxConfigSize {
		allErrs = append(allErrs, field.TooLong(dataPath, "", MaxConfigSize))
	}
	jsonKey := func(key string) {
		b, ok := data[key]
		if !ok {
			allErrs = append(allErrs, field.Required(dataPath.Key(key), ""))
			return
		}
		if err := json.Unmarshal(b, &map[string]any{}); err != nil {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch obj.Type {
	case corev1.SecretTypeServiceAccountToken:
		// The token and UID are filled in later by the token controller.
		if obj.Annotations[corev1.ServiceAccountNameKey] == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		jsonKey(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		jsonKey(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, user := data[corev1.BasicAuthUsernameKey]
		_, pass := data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""))
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(data[corev1.SSHAuthPrivateKey]) == 0 {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		if _, ok := data[corev1.TLSCertKey]; !ok {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.TLSCertKey), ""))
		}
		if _, ok := data[corev1.TLSPrivateKeyKey]; !ok {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	return allErrs
}

// ValidateSecretUpdate checks a change to a Secret: its type never changes,
// and once immutable it keeps its data and stays immutable.
func ValidateSecretUpdate(obj, old *corev1.Secret) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, immutable(obj.Type, old.Type, field.NewPath("type"))...)
	if old.Immutable != nil && *old.Immutable {
		if obj.Immutable == nil || !*obj.Immutable {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !apiequality.Semantic.DeepEqual(secretData(obj), secretData(old)) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return append(allErrs, ValidateSecret(obj)...)
}

// ValidateServiceAccount checks a new ServiceAccount.
func ValidateServiceAccount(obj *corev1.ServiceAccount) field.ErrorList {
	return objectMeta(&obj.ObjectMeta, true, apivalidation.ValidateServiceAccountName, field.NewPath("metadata"))
}

// ValidateServiceAccountUpdate checks a change to a ServiceAccount.
func ValidateServiceAccountUpdate(obj, old *corev1.ServiceAccount) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateServiceAccount(obj)...)
}

// ValidateNode checks a new Node: taints, resource quantities in status,
// pod CIDRs.
func ValidateNode(obj *corev1.Node) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := objectMeta(&obj.ObjectMeta, false, NameIsDNSSubdomain, metaPath)
	allErrs = append(allErrs, nodeTaints(obj.Spec.Taints, metaPath.Child("taints"))...)
	allErrs = append(allErrs, nodeResources(obj)...)
	cidrs := nodePodCIDRs(obj)
	p := field.NewPath("spec", "podCIDRs")
	for i, c := range cidrs {
		allErrs = append(allErrs, cidr(p.Index(i), c)...)
	}
	if len(cidrs) > 1 {
		if ok, err := netutils.IsDualStackCIDRStrings(cidrs); err == nil && (!ok || len(cidrs) > 2) {
			allErrs = append(allErrs, field.Invalid(p, cidrs, "may specify no more than one CIDR for each IP family"))
		}
		seen := sets.New[string]()
		for i, c := range cidrs {
			if seen.Has(c) {
				allErrs = append(allErrs, field.Duplicate(p.Index(i), c))
			}
			seen.Insert(c)
		}
	}
	return allErrs
}

// nodePodCIDRs is the node's pod CIDR list; old clients set only podCIDR.
func nodePodCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

// nodeTaints: valid keys and values, known effects, unique by key and
// effect. Kubernetes reports them under metadata.taints.
func nodeTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	unique := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, metavalidation.ValidateLabelName(t.Key, idxPath.Child("key"))...)
		if errs := validation.IsValidLabelValue(t.Value); len(errs) != 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("value"), t.Value, strings.Join(errs, ";")))
		}
		allErrs = append(allErrs, taintEffect(t.Effect, false, idxPath.Child("effect"))...)
		if unique[t.Effect].Has(t.Key) {
			dup := field.Duplicate(idxPath, t)
			dup.Detail = "taints must be unique by key and effect pair"
			allErrs = append(allErrs, dup)
			continue
		}
		if unique[t.Effect] == nil {
			unique[t.Effect] = sets.New[string]()
		}
		unique[t.Effect].Insert(t.Key)
	}
	return allErrs
}

func nodeResources(n *corev1.Node) field.ErrorList {
	var allErrs field.ErrorList
	for k, v := range n.Status.Capacity {
		allErrs = append(allErrs, resourceQuantity(k, v, field.NewPath("status", "capacity", string(k)))...)
	}
	for k, v := range n.Status.Allocatable {
		allErrs = append(allErrs, resourceQuantity(k, v, field.NewPath("status", "allocatable", string(k)))...)
	}
	return allErrs
}

// ValidateNodeUpdate checks a change to a Node: pod CIDRs and the provider
// ID may be set once, never changed; status addresses are unique.
func ValidateNodeUpdate(obj, old *corev1.Node) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, metaPath)
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range obj.Status.Addresses {
		if seen[a] {
			allErrs = append(allErrs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	// The node IPAM controller assigns a CIDR to a node that has none.
	if oldCIDRs, cidrs := nodePodCIDRs(old), nodePodCIDRs(obj); len(oldCIDRs) > 0 {
		changed := len(oldCIDRs) != len(cidrs)
		for i := 0; !changed && i < len(oldCIDRs); i++ {
			changed = oldCIDRs[i] != cidrs[i]
		}
		if changed {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
		}
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != obj.Spec.ProviderID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if obj.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return append(allErrs, ValidateNode(obj)...)
}
