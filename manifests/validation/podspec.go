package validation

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podOptions switches the rules that differ between a Pod and a pod
// template, and the ones Kubernetes relaxes on update when the stored object
// already broke them (so that old objects stay updatable).
type podOptions struct {
	// resourceIsPod is set for a Pod, unset for a template in a workload.
	resourceIsPod bool
	// podName is the Pod's name, used to check generated PVC names.
	podName string

	allowInvalidPodDeletionCost                  bool
	allowInvalidLabelValueInSelector             bool
	allowInvalidTopologySpreadSelector           bool
	allowIndivisibleHugePages                    bool
	allowNamespacedSysctlsForHostNetAndHostIPC   bool
	allowInvalidLabelValueInRequiredNodeAffinity bool
}

// podOptionsFor relaxes, on update, each rule the stored template or pod
// already breaks.
func podOptionsFor(old *corev1.PodTemplateSpec, resourceIsPod bool) podOptions {
	opts := podOptions{resourceIsPod: resourceIsPod}
	if old == nil {
		return opts
	}
	spec := &old.Spec
	opts.allowInvalidPodDeletionCost = len(podDeletionCost(old.Annotations, unreported())) > 0
	opts.allowInvalidLabelValueInSelector = affinitySelectorsHaveInvalidValue(spec.Affinity)
	for _, c := range spec.TopologySpreadConstraints {
		if len(metavalidation.ValidateLabelSelector(c.LabelSelector, metavalidation.LabelSelectorValidationOptions{}, unreported())) > 0 {
			opts.allowInvalidTopologySpreadSelector = true
		}
	}
	visitContainers(spec, func(c *corev1.Container) {
		for _, l := range []corev1.ResourceList{c.Resources.Limits, c.Resources.Requests} {
			for n, q := range l {
				if isHugePageResourceName(n) && !hugePageValueDivisible(n, q) {
					opts.allowIndivisibleHugePages = true
				}
			}
		}
	})
	if sc := spec.SecurityContext; sc != nil {
		for _, s := range sc.Sysctls {
			if hostSysctl(s.Name, spec, unreported()) != nil {
				opts.allowNamespacedSysctlsForHostNetAndHostIPC = true
			}
		}
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, r := range t.MatchExpressions {
				for _, v := range r.Values {
					if len(validation.IsValidLabelValue(v)) > 0 {
						opts.allowInvalidLabelValueInRequiredNodeAffinity = true
					}
				}
			}
		}
	}
	return opts
}

func visitContainers(spec *corev1.PodSpec, fn func(*corev1.Container)) {
	for i := range spec.InitContainers {
		fn(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		fn(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		fn((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
}

// ValidatePodSpec checks a pod spec at fldPath. Workload kinds (Deployment,
// Job, …) call it on their pod templates so the rules live in one place. It
// expects a defaulted spec (defaults.PodSpec): fields Kubernetes always
// defaults, such as terminationGracePeriodSeconds or a container's
// imagePullPolicy, are required here.
func ValidatePodSpec(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	return validatePodSpec(spec, fldPath, podOptions{})
}

// ValidatePodTemplateSpec checks a pod template (labels, annotations and
// spec) at fldPath.
func ValidatePodTemplateSpec(tmpl *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	return validatePodTemplateSpec(tmpl, fldPath, podOptions{})
}

func validatePodTemplateSpec(tmpl *corev1.PodTemplateSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := metavalidation.ValidateLabels(tmpl.Labels, fldPath.Child("labels"))
	allErrs = append(allErrs, validateAnnotations(tmpl.Annotations, fldPath.Child("annotations"))...)
	allErrs = append(allErrs, podSpecificAnnotations(tmpl.Annotations, &tmpl.Spec, fldPath.Child("annotations"), opts)...)
	allErrs = append(allErrs, validatePodSpec(&tmpl.Spec, fldPath.Child("spec"), opts)...)
	if len(tmpl.Spec.EphemeralContainers) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return allErrs
}

func validatePodSpec(spec *corev1.PodSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	if spec.TerminationGracePeriodSeconds == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("terminationGracePeriodSeconds"), ""))
	}
	gracePeriod := spec.TerminationGracePeriodSeconds
	hostUsers := spec.HostUsers == nil || *spec.HostUsers

	vols, vErrs := validateVolumes(spec.Volumes, fldPath.Child("volumes"), opts)
	allErrs = append(allErrs, vErrs...)
	cv := containerValidator{volumes: vols, gracePeriod: gracePeriod, restartPolicy: spec.RestartPolicy, hostUsers: hostUsers, opts: opts}
	allErrs = append(allErrs, cv.containers(spec.Containers, fldPath.Child("containers"))...)
	allErrs = append(allErrs, cv.initContainers(spec.InitContainers, spec.Containers, fldPath.Child("initContainers"))...)
	allErrs = append(allErrs, cv.ephemeralContainers(spec.EphemeralContainers, spec.Containers, spec.InitContainers, fldPath.Child("ephemeralContainers"))...)

	allErrs = append(allErrs, hostNetworkDeps(spec, fldPath, opts)...)
	allErrs = append(allErrs, restartPolicy(spec.RestartPolicy, fldPath.Child("restartPolicy"))...)
	allErrs = append(allErrs, dnsPolicy(spec.DNSPolicy, fldPath.Child("dnsPolicy"))...)
	allErrs = append(allErrs, metavalidation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	allErrs = append(allErrs, podSecurityContext(spec, fldPath.Child("securityContext"), opts)...)
	allErrs = append(allErrs, affinity(spec.Affinity, opts, fldPath.Child("affinity"))...)
	allErrs = append(allErrs, podDNSConfig(spec.DNSConfig, spec.DNSPolicy, fldPath.Child("dnsConfig"))...)
	for i, g := range spec.ReadinessGates {
		allErrs = append(allErrs, qualifiedName(string(g.ConditionType), fldPath.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	allErrs = append(allErrs, schedulingGates(spec.SchedulingGates, fldPath.Child("schedulingGates"))...)
	allErrs = append(allErrs, topologySpreadConstraints(spec.TopologySpreadConstraints, fldPath.Child("topologySpreadConstraints"), opts)...)
	allErrs = append(allErrs, windowsHostProcess(spec, fldPath)...)
	allErrs = append(allErrs, hostUsersDeps(spec, fldPath)...)
	if spec.ServiceAccountName != "" {
		allErrs = append(allErrs, objectName(NameIsDNSSubdomain, spec.ServiceAccountName, fldPath.Child("serviceAccountName"))...)
	}
	if spec.NodeName != "" {
		allErrs = append(allErrs, objectName(NameIsDNSSubdomain, spec.NodeName, fldPath.Child("nodeName"))...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if spec.Hostname != "" {
		allErrs = append(allErrs, dns1123Label(spec.Hostname, fldPath.Child("hostname"))...)
	}
	if spec.Subdomain != "" {
		allErrs = append(allErrs, dns1123Label(spec.Subdomain, fldPath.Child("subdomain"))...)
	}
	allErrs = append(allErrs, ValidateTolerations(spec.Tolerations, fldPath.Child("tolerations"))...)
	for i, h := range spec.HostAliases {
		allErrs = append(allErrs, ip(fldPath.Child("hostAliases").Index(i).Child("ip"), h.IP)...)
		for j, hn := range h.Hostnames {
			allErrs = append(allErrs, dns1123Subdomain(hn, fldPath.Child("hostAliases").Index(i).Child("hostnames").Index(j))...)
		}
	}
	if spec.PriorityClassName != "" {
		allErrs = append(allErrs, objectName(NameIsDNSSubdomain, spec.PriorityClassName, fldPath.Child("priorityClassName"))...)
	}
	if spec.RuntimeClassName != nil {
		allErrs = append(allErrs, objectName(NameIsDNSSubdomain, *spec.RuntimeClassName, fldPath.Child("runtimeClassName"))...)
	}
	if p := spec.PreemptionPolicy; p != nil {
		switch *p {
		case corev1.PreemptLowerPriority, corev1.PreemptNever:
		case "":
			allErrs = append(allErrs, field.Required(fldPath.Child("preemptionPolicy"), ""))
		default:
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("preemptionPolicy"), p, []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}))
		}
	}
	if spec.Overhead != nil {
		allErrs = append(allErrs, resourceRequirements(&corev1.ResourceRequirements{Limits: spec.Overhead}, fldPath.Child("overhead"), opts)...)
	}
	if spec.OS != nil {
		allErrs = append(allErrs, podOS(spec, fldPath)...)
	}
	return allErrs
}

func restartPolicy(p corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath, p, []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever})}
	}
}

func dnsPolicy(p corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath, p, []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone})}
	}
}

// hostNetworkDeps: on the host network a container's hostPort is its
// containerPort. A template may leave it 0, the Pod default fills it.
func hostNetworkDeps(spec *corev1.PodSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	if !spec.HostNetwork {
		return nil
	}
	var allErrs field.ErrorList
	for i, c := range spec.Containers {
		for j, p := range c.Ports {
			if (opts.resourceIsPod || p.HostPort != 0) && p.HostPort != p.ContainerPort {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("containers").Index(i).Child("ports").Index(j).Child("hostPort"), p.HostPort, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
	}
	return allErrs
}

// Limits Kubernetes derives from libc's resolver.
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
)

func podDNSConfig(c *corev1.PodDNSConfig, policy corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	if policy == corev1.DNSNone {
		if c == nil {
			return field.ErrorList{field.Required(fldPath, fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone))}
		}
		if len(c.Nameservers) == 0 {
			return field.ErrorList{field.Required(fldPath.Child("nameservers"), fmt.Sprintf("must provide at least one DNS nameserver when `dnsPolicy` is %s", corev1.DNSNone))}
		}
	}
	if c == nil {
		return nil
	}
	var allErrs field.ErrorList
	if len(c.Nameservers) > maxDNSNameservers {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("nameservers"), c.Nameservers, fmt.Sprintf("must not have more than %v nameservers", maxDNSNameservers)))
	}
	for i, ns := range c.Nameservers {
		allErrs = append(allErrs, ip(fldPath.Child("nameservers").Index(i), ns)...)
	}
	if len(c.Searches) > maxDNSSearchPaths {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("searches"), c.Searches, fmt.Sprintf("must not have more than %v search paths", maxDNSSearchPaths)))
	}
	if len(strings.Join(c.Searches, " ")) > maxDNSSearchListChars {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("searches"), c.Searches, fmt.Sprintf("must not have more than %v characters (including spaces) in the search list", maxDNSSearchListChars)))
	}
	// RelaxedDNSSearchValidation is on in v1.33: "." and underscores pass.
	for i, s := range c.Searches {
		if s == "." {
			continue
		}
		s = strings.TrimSuffix(s, ".")
		for _, msg := range validation.IsDNS1123SubdomainWithUnderscore(s) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("searches").Index(i), s, msg))
		}
	}
	for i, o := range c.Options {
		if o.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("options").Index(i), "must not be empty"))
		}
	}
	return allErrs
}

func schedulingGates(gates []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, g := range gates {
		allErrs = append(allErrs, qualifiedName(g.Name, fldPath.Index(i))...)
		if seen.Has(g.Name) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Index(i), g.Name))
		}
		seen.Insert(g.Name)
	}
	return allErrs
}

// hostUsersDeps: a pod in its own user namespace may not share the host's
// network, PID or IPC namespace.
func hostUsersDeps(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	if spec.HostUsers == nil || *spec.HostUsers {
		return nil
	}
	var allErrs field.ErrorList
	if spec.HostNetwork {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("hostNetwork"), "when `pod.Spec.HostUsers` is false"))
	}
	if spec.HostPID {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("HostPID"), "when `pod.Spec.HostUsers` is false"))
	}
	if spec.HostIPC {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("HostIPC"), "when `pod.Spec.HostUsers` is false"))
	}
	return allErrs
}

// windowsHostProcess: hostProcess containers come all together and on the
// host network.
func windowsHostProcess(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var podHostProcess *bool
	if spec.SecurityContext != nil && spec.SecurityContext.WindowsOptions != nil {
		podHostProcess = spec.SecurityContext.WindowsOptions.HostProcess
	}
	var allErrs field.ErrorList
	count, hostProcess := 0, 0
	visitContainersWithPath(spec, fldPath, func(c *corev1.Container, p *field.Path) {
		count++
		var ctr *bool
		if c.SecurityContext != nil && c.SecurityContext.WindowsOptions != nil {
			ctr = c.SecurityContext.WindowsOptions.HostProcess
		}
		if podHostProcess != nil && ctr != nil && *podHostProcess != *ctr {
			allErrs = append(allErrs, field.Invalid(p.Child("securityContext", "windowsOptions", "hostProcess"), *ctr, fmt.Sprintf("pod hostProcess value must be identical if both are specified, was %v", *podHostProcess)))
		}
		if (ctr != nil && *ctr) || (ctr == nil && podHostProcess != nil && *podHostProcess) {
			hostProcess++
		}
	})
	if hostProcess > 0 {
		if hostProcess != count {
			allErrs = append(allErrs, field.Invalid(fldPath, "", "If pod contains any hostProcess containers then all containers must be HostProcess containers"))
		}
		if !spec.HostNetwork {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("hostNetwork"), spec.HostNetwork, "hostNetwork must be true if pod contains any hostProcess containers"))
		}
	}
	return allErrs
}

// visitContainersWithPath calls fn for every init, regular and ephemeral
// container with its field path, in that order.
func visitContainersWithPath(spec *corev1.PodSpec, fldPath *field.Path, fn func(*corev1.Container, *field.Path)) {
	for i := range spec.InitContainers {
		fn(&spec.InitContainers[i], fldPath.Child("initContainers").Index(i))
	}
	for i := range spec.Containers {
		fn(&spec.Containers[i], fldPath.Child("containers").Index(i))
	}
	for i := range spec.EphemeralContainers {
		fn((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon), fldPath.Child("ephemeralContainers").Index(i))
	}
}

func podOS(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	osPath := fldPath.Child("os")
	switch spec.OS.Name {
	case "":
		return field.ErrorList{field.Required(osPath.Child("name"), "cannot be empty")}
	case corev1.Linux:
		var allErrs field.ErrorList
		if sc := spec.SecurityContext; sc != nil && sc.WindowsOptions != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("securityContext", "windowsOptions"), "windows options cannot be set for a linux pod"))
		}
		visitContainersWithPath(spec, fldPath, func(c *corev1.Container, p *field.Path) {
			if c.SecurityContext != nil && c.SecurityContext.WindowsOptions != nil {
				allErrs = append(allErrs, field.Forbidden(p.Child("securityContext", "windowsOptions"), "windows options cannot be set for a linux pod"))
			}
		})
		return allErrs
	case corev1.Windows:
		return windowsPod(spec, fldPath)
	default:
		return field.ErrorList{field.NotSupported(osPath, spec.OS.Name, []corev1.OSName{corev1.Linux, corev1.Windows})}
	}
}

func windowsPod(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	const msg = "cannot be set for a windows pod"
	var allErrs field.ErrorList
	scPath := fldPath.Child("securityContext")
	if sc := spec.SecurityContext; sc != nil {
		forbid := func(set bool, p *field.Path) {
			if set {
				allErrs = append(allErrs, field.Forbidden(p, msg))
			}
		}
		forbid(sc.AppArmorProfile != nil, scPath.Child("appArmorProfile"))
		forbid(sc.SELinuxOptions != nil, scPath.Child("seLinuxOptions"))
		forbid(sc.SeccompProfile != nil, scPath.Child("seccompProfile"))
		forbid(sc.FSGroup != nil, scPath.Child("fsGroup"))
		forbid(sc.FSGroupChangePolicy != nil, scPath.Child("fsGroupChangePolicy"))
		forbid(len(sc.Sysctls) > 0, scPath.Child("sysctls"))
		forbid(sc.RunAsUser != nil, scPath.Child("runAsUser"))
		forbid(sc.RunAsGroup != nil, scPath.Child("runAsGroup"))
		forbid(sc.SupplementalGroups != nil, scPath.Child("supplementalGroups"))
		forbid(sc.SupplementalGroupsPolicy != nil, scPath.Child("supplementalGroupsPolicy"))
		forbid(sc.SELinuxChangePolicy != nil, scPath.Child("seLinuxChangePolicy"))
	}
	if spec.HostUsers != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("hostUsers"), msg))
	}
	if spec.HostPID {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("hostPID"), msg))
	}
	if spec.HostIPC {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("hostIPC"), msg))
	}
	if spec.ShareProcessNamespace != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("shareProcessNamespace"), msg))
	}
	visitContainersWithPath(spec, fldPath, func(c *corev1.Container, p *field.Path) {
		sc := c.SecurityContext
		if sc == nil {
			return
		}
		p = p.Child("securityContext")
		for _, f := range []struct {
			set  bool
			name string
		}{
			{sc.AppArmorProfile != nil, "appArmorProfile"},
			{sc.SELinuxOptions != nil, "seLinuxOptions"},
			{sc.SeccompProfile != nil, "seccompProfile"},
			{sc.Capabilities != nil, "capabilities"},
			{sc.ReadOnlyRootFilesystem != nil, "readOnlyRootFilesystem"},
			{sc.Privileged != nil, "privileged"},
			{sc.AllowPrivilegeEscalation != nil, "allowPrivilegeEscalation"},
			{sc.ProcMount != nil, "procMount"},
			{sc.RunAsUser != nil, "runAsUser"},
			{sc.RunAsGroup != nil, "runAsGroup"},
		} {
			if f.set {
				allErrs = append(allErrs, field.Forbidden(p.Child(f.name), msg))
			}
		}
	})
	return allErrs
}

// Annotation keys with meaning to the API server.
const (
	mirrorPodAnnotation           = "kubernetes.io/config.mirror"
	tolerationsAnnotation         = "scheduler.alpha.kubernetes.io/tolerations"
	podDeletionCostAnnotation     = "controller.kubernetes.io/pod-deletion-cost"
	seccompPodAnnotation          = "seccomp.security.alpha.kubernetes.io/pod"
	seccompContainerAnnotationPfx = "container.seccomp.security.alpha.kubernetes.io/"
	appArmorAnnotationPfx         = "container.apparmor.security.beta.kubernetes.io/"
)

// podSpecificAnnotations checks the annotations the API server reads on a
// pod or pod template.
func podSpecificAnnotations(annotations map[string]string, spec *corev1.PodSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	if v, ok := annotations[mirrorPodAnnotation]; ok && spec.NodeName == "" {
		allErrs = append(allErrs, field.Invalid(fldPath.Key(mirrorPodAnnotation), v, "must set spec.nodeName if mirror pod annotation is set"))
	}
	if v := annotations[tolerationsAnnotation]; v != "" {
		var tolerations []corev1.Toleration
		if err := json.Unmarshal([]byte(v), &tolerations); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, tolerationsAnnotation, err.Error()))
		} else {
			allErrs = append(allErrs, ValidateTolerations(tolerations, fldPath.Child(tolerationsAnnotation))...)
		}
	}
	if !opts.allowInvalidPodDeletionCost {
		allErrs = append(allErrs, podDeletionCost(annotations, fldPath)...)
	}
	if p, ok := annotations[seccompPodAnnotation]; ok {
		allErrs = append(allErrs, seccompProfileAnnotation(p, fldPath.Child(seccompPodAnnotation))...)
	}
	for k, v := range annotations {
		if strings.HasPrefix(k, seccompContainerAnnotationPfx) {
			allErrs = append(allErrs, seccompProfileAnnotation(v, fldPath.Child(k))...)
		}
		if strings.HasPrefix(k, appArmorAnnotationPfx) {
			ctr := strings.TrimPrefix(k, appArmorAnnotationPfx)
			if !podSpecHasContainer(spec, ctr) {
				allErrs = append(allErrs, field.Invalid(fldPath.Key(k), ctr, "container not found"))
			}
			if v != "" && v != "runtime/default" && v != "unconfined" && !strings.HasPrefix(v, "localhost/") {
				allErrs = append(allErrs, field.Invalid(fldPath.Key(k), v, fmt.Sprintf("invalid AppArmor profile name: %q", v)))
			}
		}
	}
	return allErrs
}

func podDeletionCost(annotations map[string]string, fldPath *field.Path) field.ErrorList {
	v, ok := annotations[podDeletionCostAnnotation]
	if !ok {
		return nil
	}
	// "+10" and "008" parse as integers but are not canonical.
	validFirst := v != "" && (v[0] == '-' || v == "0" || (v[0] >= '1' && v[0] <= '9'))
	if _, err := strconv.ParseInt(v, 10, 32); err != nil || !validFirst {
		return field.ErrorList{field.Invalid(fldPath.Key(podDeletionCostAnnotation), v, "must be a 32bit integer")}
	}
	return nil
}

func seccompProfileAnnotation(p string, fldPath *field.Path) field.ErrorList {
	switch {
	case p == "runtime/default", p == "docker/default", p == "unconfined":
		return nil
	case strings.HasPrefix(p, "localhost/"):
		return localDescendingPath(strings.TrimPrefix(p, "localhost/"), fldPath)
	}
	return field.ErrorList{field.Invalid(fldPath, p, "must be a valid seccomp profile")}
}

func podSpecHasContainer(spec *corev1.PodSpec, name string) bool {
	found := false
	visitContainers(spec, func(c *corev1.Container) {
		if c.Name == name {
			found = true
		}
	})
	return found
}

// ValidateTolerations checks tolerations at fldPath.
func ValidateTolerations(tolerations []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range tolerations {
		idxPath := fldPath.Index(i)
		if t.Key != "" {
			allErrs = append(allErrs, metavalidation.ValidateLabelName(t.Key, idxPath.Child("key"))...)
		}
		// An empty key with Exists matches every taint.
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			if errs := validation.IsValidLabelValue(t.Value); len(errs) != 0 {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), t.Value, strings.Join(errs, ";")))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("operator"), t.Operator, []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if t.Effect != "" {
			allErrs = append(allErrs, taintEffect(t.Effect, true, idxPath.Child("effect"))...)
		}
	}
	return allErrs
}

func taintEffect(effect corev1.TaintEffect, allowEmpty bool, fldPath *field.Path) field.ErrorList {
	switch effect {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return nil
	case "":
		if allowEmpty {
			return nil
		}
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return field.ErrorList{field.NotSupported(fldPath, effect, []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute})}
}

// validateAnnotations is apimachinery's ValidateAnnotations, named here so
// the call sites read alike.
func validateAnnotations(a map[string]string, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateAnnotations(a, fldPath)
}

// templateObjectMeta: an embedded template (ephemeral volume claim) may set
// labels and annotations only.
func templateObjectMeta(m *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	allErrs := validateAnnotations(m.Annotations, fldPath.Child("annotations"))
	allErrs = append(allErrs, metavalidation.ValidateLabels(m.Labels, fldPath.Child("labels"))...)
	rest := m.DeepCopy()
	rest.Labels, rest.Annotations = nil, nil
	if rest.Name != "" {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("name"), "cannot be set"))
	}
	if rest.GenerateName != "" {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("generateName"), "cannot be set"))
	}
	if rest.Namespace != "" {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("namespace"), "cannot be set"))
	}
	if len(rest.Finalizers) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("finalizers"), "cannot be set"))
	}
	if len(rest.OwnerReferences) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("ownerReferences"), "cannot be set"))
	}
	return allErrs
}
