package nodeagent

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-dev/skiff/nodeagent/podstate"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// configError is a problem with the pod's configuration that keeps a
// container from being created (CreateContainerConfigError).
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func (a *Agent) podLabels(pod *corev1.Pod) map[string]string {
	return map[string]string{
		runtime.LabelManaged:      "true",
		runtime.LabelCluster:      a.clusterID,
		runtime.LabelNode:         a.opts.NodeName,
		runtime.LabelPodNamespace: pod.Namespace,
		runtime.LabelPodName:      pod.Name,
		runtime.LabelPodUID:       string(pod.UID),
	}
}

// sandboxConfig describes the pod's sandbox.
func (a *Agent) sandboxConfig(pod *corev1.Pod, attempt int) runtime.SandboxConfig {
	labels := a.podLabels(pod)
	labels[runtime.LabelKind] = runtime.KindSandbox
	labels[runtime.LabelRestartCount] = strconv.Itoa(attempt)
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	cfg := runtime.SandboxConfig{
		Name:        podstate.ContainerName(pod, "POD", attempt),
		Labels:      labels,
		Hostname:    hostname,
		Network:     a.networkName,
		HostNetwork: pod.Spec.HostNetwork,
		HostPID:     pod.Spec.HostPID,
		HostIPC:     pod.Spec.HostIPC,
		DNS:         a.dnsConfig(pod),
	}
	for _, h := range pod.Spec.HostAliases {
		for _, n := range h.Hostnames {
			cfg.ExtraHosts = append(cfg.ExtraHosts, n+":"+h.IP)
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			cfg.Ports = append(cfg.Ports, runtime.PortMapping{ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIP: p.HostIP, Protocol: strings.ToLower(string(p.Protocol))})
		}
	}
	if sc := pod.Spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		cfg.Sysctls = map[string]string{}
		for _, s := range sc.Sysctls {
			cfg.Sysctls[s.Name] = s.Value
		}
	}
	return cfg
}

// dnsConfig is the pod's resolv.conf, composed as the kubelet does from
// its dnsPolicy and dnsConfig, this node's cluster DNS (served on the pod
// network's gateway) and the node's resolv.conf (see dns.PodResolvConf).
// It is computed when the sandbox is made, like the kubelet's, and so are
// the warnings it records (DNSConfigForming, MissingClusterDNS).
func (a *Agent) dnsConfig(pod *corev1.Pod) runtime.DNSConfig {
	rc, events := a.dns.PodConfig(pod)
	if a.recorder != nil {
		for _, e := range events {
			if e.OnNode {
				node := &corev1.ObjectReference{Kind: "Node", Name: a.opts.NodeName, UID: types.UID(a.opts.NodeName)}
				a.recorder.Event(node, corev1.EventTypeWarning, e.Reason, e.Message)
			} else {
				a.recorder.Event(pod, corev1.EventTypeWarning, e.Reason, e.Message)
			}
		}
	}
	return runtime.DNSConfig{Servers: rc.Nameservers, Searches: rc.Searches, Options: rc.Options}
}

// containerConfig describes one container of the pod.
func (a *Agent) containerConfig(pod *corev1.Pod, c *corev1.Container, kind string, restartCount, attempt int, sandboxID, podIP string) (runtime.ContainerConfig, error) {
	labels := a.podLabels(pod)
	labels[runtime.LabelKind] = kind
	labels[runtime.LabelContainer] = c.Name
	labels[runtime.LabelRestartCount] = strconv.Itoa(restartCount)
	labels[runtime.LabelSandboxAttempt] = strconv.Itoa(attempt)
	labels[runtime.LabelSpecHash] = podstate.SpecHash(c)

	env, err := a.containerEnv(pod, c, podIP)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	mapping := map[string]string{}
	envList := make([]string, 0, len(env))
	for _, kv := range env {
		mapping[kv.name] = kv.value
		envList = append(envList, kv.name+"="+kv.value)
	}
	cfg := runtime.ContainerConfig{
		Name:                  podstate.ContainerName(pod, c.Name, restartCount),
		Labels:                labels,
		Image:                 c.Image,
		Env:                   envList,
		WorkingDir:            c.WorkingDir,
		SandboxID:             sandboxID,
		ShareProcessNamespace: pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace,
		HostPID:               pod.Spec.HostPID,
		TTY:                   c.TTY,
		Stdin:                 c.Stdin,
		StdinOnce:             c.StdinOnce,
	}
	// command replaces the image's entrypoint and, without args, its cmd
	// too; args alone replace only the cmd (Kubernetes semantics).
	if len(c.Command) > 0 {
		cfg.Entrypoint = expandAll(c.Command, mapping)
		cfg.Cmd = []string{}
	}
	if len(c.Args) > 0 {
		cfg.Cmd = expandAll(c.Args, mapping)
	}
	mounts, err := a.volumes.Mounts(pod, c, mapping)
	if err != nil {
		return runtime.ContainerConfig{}, &configError{msg: err.Error()}
	}
	cfg.Mounts = mounts
	cfg.Resources = resourcesOf(c)
	cfg.Security = securityOf(pod, c)
	return cfg, nil
}

func resourcesOf(c *corev1.Container) runtime.Resources {
	var r runtime.Resources
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.NanoCPUs = q.MilliValue() * 1_000_000
	}
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		// The kubelet's milli-CPU to cgroup shares conversion.
		shares := q.MilliValue() * 1024 / 1000
		r.CPUShares = max(shares, 2)
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryBytes = q.Value()
	}
	return r
}

func securityOf(pod *corev1.Pod, c *corev1.Container) runtime.Security {
	var s runtime.Security
	psc := pod.Spec.SecurityContext
	csc := c.SecurityContext
	var uid, gid *int64
	if psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
		for _, g := range psc.SupplementalGroups {
			s.GroupAdd = append(s.GroupAdd, strconv.FormatInt(g, 10))
		}
		if psc.FSGroup != nil {
			s.GroupAdd = append(s.GroupAdd, strconv.FormatInt(*psc.FSGroup, 10))
		}
	}
	if csc != nil {
		if csc.RunAsUser != nil {
			uid = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			gid = csc.RunAsGroup
		}
		s.Privileged = csc.Privileged != nil && *csc.Privileged
		s.ReadOnlyRootFS = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
		if csc.Capabilities != nil {
			for _, c := range csc.Capabilities.Add {
				s.CapAdd = append(s.CapAdd, string(c))
			}
			for _, c := range csc.Capabilities.Drop {
				s.CapDrop = append(s.CapDrop, string(c))
			}
		}
		s.NoNewPrivileges = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
	}
	if uid != nil {
		s.User = strconv.FormatInt(*uid, 10)
		if gid != nil {
			s.User += ":" + strconv.FormatInt(*gid, 10)
		}
	}
	return s
}

type envVar struct{ name, value string }

// containerEnv resolves env and envFrom as the kubelet does: envFrom
// first (in order), then env, later entries overriding earlier ones, with
// $(VAR) references to earlier variables expanded.
func (a *Agent) containerEnv(pod *corev1.Pod, c *corev1.Container, podIP string) ([]envVar, error) {
	var out []envVar
	index := map[string]int{}
	set := func(k, v string) {
		if i, ok := index[k]; ok {
			out[i].value = v
			return
		}
		index[k] = len(out)
		out = append(out, envVar{k, v})
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := a.source.ConfigMap(pod.Namespace, from.ConfigMapRef.Name)
			if err != nil {
				if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
					continue
				}
				return nil, &configError{msg: fmt.Sprintf("configmap %q not found", from.ConfigMapRef.Name)}
			}
			for _, k := range sortedKeys(cm.Data) {
				set(from.Prefix+k, cm.Data[k])
			}
		case from.SecretRef != nil:
			sec, err := a.source.Secret(pod.Namespace, from.SecretRef.Name)
			if err != nil {
				if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
					continue
				}
				return nil, &configError{msg: fmt.Sprintf("secret %q not found", from.SecretRef.Name)}
			}
			keys := make([]string, 0, len(sec.Data))
			for k := range sec.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				set(from.Prefix+k, string(sec.Data[k]))
			}
		}
	}
	mapping := func() map[string]string {
		m := make(map[string]string, len(out))
		for _, kv := range out {
			m[kv.name] = kv.value
		}
		return m
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, mapping()))
			continue
		}
		v, skip, err := a.envValueFrom(pod, c, e, podIP)
		if err != nil {
			return nil, err
		}
		if !skip {
			set(e.Name, v)
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (a *Agent) envValueFrom(pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, podIP string) (string, bool, error) {
	vf := e.ValueFrom
	switch {
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := a.source.ConfigMap(pod.Namespace, ref.Name)
		if err != nil {
			if optional {
				return "", true, nil
			}
			return "", false, &configError{msg: fmt.Sprintf("configmap %q not found", ref.Name)}
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if b, ok2 := cm.BinaryData[ref.Key]; ok2 {
				return string(b), false, nil
			}
			if optional {
				return "", true, nil
			}
			return "", false, &configError{msg: fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return v, false, nil
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		sec, err := a.source.Secret(pod.Namespace, ref.Name)
		if err != nil {
			if optional {
				return "", true, nil
			}
			return "", false, &configError{msg: fmt.Sprintf("secret %q not found", ref.Name)}
		}
		b, ok := sec.Data[ref.Key]
		if !ok {
			if optional {
				return "", true, nil
			}
			return "", false, &configError{msg: fmt.Sprintf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return string(b), false, nil
	case vf.FieldRef != nil:
		v, err := podField(pod, vf.FieldRef.FieldPath, a.opts.NodeIP, podIP)
		if err != nil {
			return "", false, &configError{msg: err.Error()}
		}
		return v, false, nil
	case vf.ResourceFieldRef != nil:
		v, err := a.resourceField(pod, c, vf.ResourceFieldRef)
		if err != nil {
			return "", false, &configError{msg: err.Error()}
		}
		return v, false, nil
	}
	return "", true, nil
}

// podField is the value of a downward-API field path.
func podField(pod *corev1.Pod, path, hostIP, podIP string) (string, error) {
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// resourceField is a container's resource limit or request, in units of
// the divisor, rounded up; a missing limit is the node's allocatable.
func (a *Agent) resourceField(pod *corev1.Pod, c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	target := c
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		target = nil
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == ref.ContainerName {
				target = &pod.Spec.Containers[i]
			}
		}
		if target == nil {
			return "", fmt.Errorf("container %q not found for resourceFieldRef", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	var q resource.Quantity
	var found bool
	switch kind {
	case "limits":
		q, found = target.Resources.Limits[corev1.ResourceName(name)]
	case "requests":
		q, found = target.Resources.Requests[corev1.ResourceName(name)]
	default:
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	if !found {
		if kind == "requests" && name != "cpu" && name != "memory" && name != "ephemeral-storage" {
			return "", fmt.Errorf("unsupported resource %q", ref.Resource)
		}
		capacity := hostCapacity(a.opts)
		if kind == "limits" {
			q = capacity[corev1.ResourceName(name)]
		} else {
			q = resource.Quantity{}
		}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == "cpu" {
		v := math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue()))
		return strconv.FormatInt(int64(v), 10), nil
	}
	v := math.Ceil(float64(q.Value()) / float64(divisor.Value()))
	return strconv.FormatInt(int64(v), 10), nil
}

func expandAll(in []string, mapping map[string]string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, mapping)
	}
	return out
}

// expand replaces $(VAR) with its value when VAR is defined, keeps it as
// written otherwise, and turns $$ into $ — Kubernetes's expansion rules.
func expand(s string, mapping map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := mapping[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
