package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// containerValidator holds what container rules need from the pod spec.
type containerValidator struct {
	volumes       map[string]corev1.VolumeSource
	gracePeriod   *int64
	restartPolicy corev1.RestartPolicy
	hostUsers     bool
	opts          podOptions
}

func (v containerValidator) containers(cs []corev1.Container, fldPath *field.Path) field.ErrorList {
	if len(cs) == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i := range cs {
		c := &cs[i]
		path := fldPath.Index(i)
		allErrs = append(allErrs, v.common(c, path)...)
		// Clashes with init and ephemeral containers are reported there.
		if names.Has(c.Name) {
			allErrs = append(allErrs, field.Duplicate(path.Child("name"), c.Name))
		} else {
			names.Insert(c.Name)
		}
		allErrs = append(allErrs, v.lifecycleAndProbes(c, path)...)
		if c.RestartPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("restartPolicy"), "may not be set for non-init containers"))
		}
	}
	allErrs = append(allErrs, hostPortConflicts(cs, fldPath)...)
	return allErrs
}

func (v containerValidator) initContainers(cs, regular []corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for _, c := range regular {
		names.Insert(c.Name)
	}
	for i := range cs {
		c := &cs[i]
		path := fldPath.Index(i)
		allErrs = append(allErrs, v.common(c, path)...)
		restartAlways := false
		if c.RestartPolicy != nil {
			if *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
				allErrs = append(allErrs, field.NotSupported(path.Child("restartPolicy"), *c.RestartPolicy, []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
			}
			restartAlways = *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
		if names.Has(c.Name) {
			allErrs = append(allErrs, field.Duplicate(path.Child("name"), c.Name))
		} else if c.Name != "" {
			names.Insert(c.Name)
		}
		// Init containers run one at a time, so only ports within one clash.
		allErrs = append(allErrs, hostPortConflicts([]corev1.Container{*c}, fldPath)...)
		if restartAlways {
			allErrs = append(allErrs, v.lifecycleAndProbes(c, path)...)
			continue
		}
		const msg = "may not be set for init containers without restartPolicy=Always"
		if c.Lifecycle != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("lifecycle"), msg))
		}
		if c.LivenessProbe != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("livenessProbe"), msg))
		}
		if c.ReadinessProbe != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("readinessProbe"), msg))
		}
		if c.StartupProbe != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("startupProbe"), msg))
		}
	}
	return allErrs
}

func (v containerValidator) ephemeralContainers(ecs []corev1.EphemeralContainer, containers, inits []corev1.Container, fldPath *field.Path) field.ErrorList {
	if len(ecs) == 0 {
		return nil
	}
	var allErrs field.ErrorList
	other, all := sets.New[string](), sets.New[string]()
	for _, c := range containers {
		other.Insert(c.Name)
		all.Insert(c.Name)
	}
	for _, c := range inits {
		other.Insert(c.Name)
		all.Insert(c.Name)
	}
	for i := range ecs {
		ec := &ecs[i]
		path := fldPath.Index(i)
		c := (*corev1.Container)(&ec.EphemeralContainerCommon)
		allErrs = append(allErrs, v.common(c, path)...)
		allErrs = append(allErrs, imageWhitespace(c, path)...)
		if all.Has(ec.Name) {
			allErrs = append(allErrs, field.Duplicate(path.Child("name"), ec.Name))
		} else {
			all.Insert(ec.Name)
		}
		if ec.TargetContainerName != "" && !other.Has(ec.TargetContainerName) {
			allErrs = append(allErrs, field.NotFound(path.Child("targetContainerName"), ec.TargetContainerName))
		}
		// Ephemeral containers must not become part of the workload.
		const msg = "cannot be set for an Ephemeral Container"
		for _, f := range []struct {
			set  bool
			name string
		}{
			{len(c.Ports) > 0, "ports"},
			{len(c.Resources.Limits)+len(c.Resources.Requests)+len(c.Resources.Claims) > 0, "resources"},
			{c.LivenessProbe != nil, "livenessProbe"},
			{c.ReadinessProbe != nil, "readinessProbe"},
			{c.StartupProbe != nil, "startupProbe"},
			{c.Lifecycle != nil, "lifecycle"},
			{len(c.ResizePolicy) > 0, "resizePolicy"},
			{c.RestartPolicy != nil, "restartPolicy"},
		} {
			if f.set {
				allErrs = append(allErrs, field.Forbidden(path.Child(f.name), msg))
			}
		}
		for j, m := range c.VolumeMounts {
			if m.SubPath != "" {
				allErrs = append(allErrs, field.Forbidden(path.Child("volumeMounts").Index(j).Child("subPath"), msg))
			}
			if m.SubPathExpr != "" {
				allErrs = append(allErrs, field.Forbidden(path.Child("volumeMounts").Index(j).Child("subPathExpr"), msg))
			}
		}
	}
	return allErrs
}

// common applies the rules every kind of container shares.
func (v containerValidator) common(c *corev1.Container, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if c.Name == "" {
		allErrs = append(allErrs, field.Required(path.Child("name"), ""))
	} else {
		allErrs = append(allErrs, dns1123Label(c.Name, path.Child("name"))...)
	}
	// Whitespace-only images are tolerated in templates (OpenShift uses " "
	// as a placeholder); pods check it in imageWhitespace.
	if c.Image == "" {
		allErrs = append(allErrs, field.Required(path.Child("image"), ""))
	}
	switch c.TerminationMessagePolicy {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	case "":
		allErrs = append(allErrs, field.Required(path.Child("terminationMessagePolicy"), ""))
	default:
		allErrs = append(allErrs, field.NotSupported(path.Child("terminationMessagePolicy"), c.TerminationMessagePolicy,
			[]corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}))
	}
	allErrs = append(allErrs, containerPorts(c.Ports, path.Child("ports"))...)
	allErrs = append(allErrs, ValidateEnv(c.Env, path.Child("env"))...)
	allErrs = append(allErrs, envFrom(c.EnvFrom, path.Child("envFrom"))...)
	allErrs = append(allErrs, volumeMounts(c, v.volumes, path.Child("volumeMounts"))...)
	allErrs = append(allErrs, volumeDevices(c, v.volumes, path.Child("volumeDevices"))...)
	allErrs = append(allErrs, pullPolicy(c.ImagePullPolicy, path.Child("imagePullPolicy"))...)
	allErrs = append(allErrs, resourceRequirements(&c.Resources, path.Child("resources"), v.opts)...)
	allErrs = append(allErrs, resizePolicy(c.ResizePolicy, v.restartPolicy, path.Child("resizePolicy"))...)
	allErrs = append(allErrs, securityContext(c.SecurityContext, path.Child("securityContext"), v.hostUsers)...)
	return allErrs
}

// imageWhitespace is a Pod-only rule: the runtime cannot pull " nginx".
func imageWhitespace(c *corev1.Container, path *field.Path) field.ErrorList {
	if len(c.Image) != len(strings.TrimSpace(c.Image)) {
		return field.ErrorList{field.Invalid(path.Child("image"), c.Image, "must not have leading or trailing whitespace")}
	}
	return nil
}

func (v containerValidator) lifecycleAndProbes(c *corev1.Container, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if c.Lifecycle != nil {
		if h := c.Lifecycle.PostStart; h != nil {
			allErrs = append(allErrs, handler(lifecycleHandler(h), v.gracePeriod, path.Child("lifecycle", "postStart"))...)
		}
		if h := c.Lifecycle.PreStop; h != nil {
			allErrs = append(allErrs, handler(lifecycleHandler(h), v.gracePeriod, path.Child("lifecycle", "preStop"))...)
		}
	}
	if p := c.LivenessProbe; p != nil {
		fp := path.Child("livenessProbe")
		allErrs = append(allErrs, probe(p, v.gracePeriod, fp)...)
		if p.SuccessThreshold != 1 {
			allErrs = append(allErrs, field.Invalid(fp.Child("successThreshold"), p.SuccessThreshold, "must be 1"))
		}
	}
	if p := c.ReadinessProbe; p != nil {
		fp := path.Child("readinessProbe")
		allErrs = append(allErrs, probe(p, v.gracePeriod, fp)...)
		if p.TerminationGracePeriodSeconds != nil {
			allErrs = append(allErrs, field.Invalid(fp.Child("terminationGracePeriodSeconds"), p.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
		}
	}
	if p := c.StartupProbe; p != nil {
		fp := path.Child("startupProbe")
		allErrs = append(allErrs, probe(p, v.gracePeriod, fp)...)
		if p.SuccessThreshold != 1 {
			allErrs = append(allErrs, field.Invalid(fp.Child("successThreshold"), p.SuccessThreshold, "must be 1"))
		}
	}
	return allErrs
}

// hostPortConflicts refuses two ports claiming the same host port, protocol
// and host IP.
func hostPortConflicts(cs []corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for ci, c := range cs {
		for pi, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", p.Protocol, p.HostIP, p.HostPort)
			if seen.Has(key) {
				allErrs = append(allErrs, field.Duplicate(fldPath.Index(ci).Child("ports").Index(pi).Child("hostPort"), key))
			}
			seen.Insert(key)
		}
	}
	return allErrs
}

var supportedProtocols = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}

func protocol(p corev1.Protocol, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return field.ErrorList{field.NotSupported(fldPath, p, supportedProtocols)}
}

func containerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		idxPath := fldPath.Index(i)
		if p.Name != "" {
			if msgs := validation.IsValidPortName(p.Name); len(msgs) != 0 {
				for _, msg := range msgs {
					allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), p.Name, msg))
				}
			} else if names.Has(p.Name) {
				allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), p.Name))
			} else {
				names.Insert(p.Name)
			}
		}
		if p.ContainerPort == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(p.ContainerPort)) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("containerPort"), p.ContainerPort, msg))
			}
		}
		if p.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(p.HostPort)) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("hostPort"), p.HostPort, msg))
			}
		}
		allErrs = append(allErrs, protocol(p.Protocol, idxPath.Child("protocol"))...)
	}
	return allErrs
}

func pullPolicy(p corev1.PullPolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return field.ErrorList{field.NotSupported(fldPath, p, []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever})}
}

func resizePolicy(policies []corev1.ContainerResizePolicy, podRestartPolicy corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[corev1.ResourceName]bool{}
	for i, p := range policies {
		if seen[p.ResourceName] {
			allErrs = append(allErrs, field.Duplicate(fldPath.Index(i), p.ResourceName))
		}
		seen[p.ResourceName] = true
		switch p.ResourceName {
		case corev1.ResourceCPU, corev1.ResourceMemory:
		case "":
			allErrs = append(allErrs, field.Required(fldPath, ""))
		default:
			allErrs = append(allErrs, field.NotSupported(fldPath, p.ResourceName, []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}))
		}
		switch p.RestartPolicy {
		case corev1.NotRequired, corev1.RestartContainer:
		case "":
			allErrs = append(allErrs, field.Required(fldPath, ""))
		default:
			allErrs = append(allErrs, field.NotSupported(fldPath, p.RestartPolicy, []corev1.ResourceResizeRestartPolicy{corev1.NotRequired, corev1.RestartContainer}))
		}
		if podRestartPolicy == corev1.RestartPolicyNever && p.RestartPolicy != corev1.NotRequired {
			allErrs = append(allErrs, field.Invalid(fldPath, p.RestartPolicy, "must be 'NotRequired' when `restartPolicy` is 'Never'"))
		}
	}
	return allErrs
}

// commonHandler is the union of probe and lifecycle handlers.
type commonHandler struct {
	exec      *corev1.ExecAction
	httpGet   *corev1.HTTPGetAction
	tcpSocket *corev1.TCPSocketAction
	grpc      *corev1.GRPCAction
	sleep     *corev1.SleepAction
}

func lifecycleHandler(h *corev1.LifecycleHandler) commonHandler {
	return commonHandler{exec: h.Exec, httpGet: h.HTTPGet, tcpSocket: h.TCPSocket, sleep: h.Sleep}
}

func probe(p *corev1.Probe, gracePeriod *int64, fldPath *field.Path) field.ErrorList {
	h := commonHandler{exec: p.Exec, httpGet: p.HTTPGet, tcpSocket: p.TCPSocket, grpc: p.GRPC}
	allErrs := handler(h, gracePeriod, fldPath)
	allErrs = append(allErrs, nonNegative(int64(p.InitialDelaySeconds), fldPath.Child("initialDelaySeconds"))...)
	allErrs = append(allErrs, nonNegative(int64(p.TimeoutSeconds), fldPath.Child("timeoutSeconds"))...)
	allErrs = append(allErrs, nonNegative(int64(p.PeriodSeconds), fldPath.Child("periodSeconds"))...)
	allErrs = append(allErrs, nonNegative(int64(p.SuccessThreshold), fldPath.Child("successThreshold"))...)
	allErrs = append(allErrs, nonNegative(int64(p.FailureThreshold), fldPath.Child("failureThreshold"))...)
	if p.TerminationGracePeriodSeconds != nil && *p.TerminationGracePeriodSeconds <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *p.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return allErrs
}

// handler requires exactly one action.
func handler(h commonHandler, gracePeriod *int64, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	add := func(set bool, name string, check func(*field.Path) field.ErrorList) {
		if !set {
			return
		}
		if n > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(name), "may not specify more than 1 handler type"))
			return
		}
		n++
		allErrs = append(allErrs, check(fldPath.Child(name))...)
	}
	add(h.exec != nil, "exec", func(p *field.Path) field.ErrorList {
		if len(h.exec.Command) == 0 {
			return field.ErrorList{field.Required(p.Child("command"), "")}
		}
		return nil
	})
	add(h.httpGet != nil, "httpGet", func(p *field.Path) field.ErrorList { return httpGetAction(h.httpGet, p) })
	add(h.tcpSocket != nil, "tcpSocket", func(p *field.Path) field.ErrorList { return portNumOrName(h.tcpSocket.Port, p.Child("port")) })
	add(h.grpc != nil, "grpc", func(p *field.Path) field.ErrorList {
		return portNumOrName(intstr.FromInt32(h.grpc.Port), p.Child("port"))
	})
	add(h.sleep != nil, "sleep", func(p *field.Path) field.ErrorList {
		// PodLifecycleSleepActionAllowZero is on in v1.33.
		if gracePeriod != nil && (h.sleep.Seconds < 0 || h.sleep.Seconds > *gracePeriod) {
			return field.ErrorList{field.Invalid(p, h.sleep.Seconds, fmt.Sprintf("must be non-negative and less than terminationGracePeriodSeconds (%d)", *gracePeriod))}
		}
		return nil
	})
	if n == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a handler type"))
	}
	return allErrs
}

func httpGetAction(a *corev1.HTTPGetAction, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if a.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, portNumOrName(a.Port, fldPath.Child("port"))...)
	if a.Scheme != corev1.URISchemeHTTP && a.Scheme != corev1.URISchemeHTTPS {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("scheme"), a.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
	}
	for _, h := range a.HTTPHeaders {
		for _, msg := range validation.IsHTTPHeaderName(h.Name) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("httpHeaders"), h.Name, msg))
		}
	}
	return allErrs
}

// portNumOrName accepts 1-65535 or an IANA_SVC_NAME.
func portNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch port.Type {
	case intstr.Int:
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			allErrs = append(allErrs, field.Invalid(fldPath, port.IntValue(), msg))
		}
	case intstr.String:
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			allErrs = append(allErrs, field.Invalid(fldPath, port.StrVal, msg))
		}
	default:
		allErrs = append(allErrs, field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type)))
	}
	return allErrs
}
