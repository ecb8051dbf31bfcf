package podsecurity

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Host namespaces (baseline): spec.hostNetwork, hostPID and hostIPC must
// be false.
func hostNamespaces(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	shared := sets.New[string]()
	if spec.HostNetwork {
		shared.Insert("hostNetwork=true")
	}
	if spec.HostPID {
		shared.Insert("hostPID=true")
	}
	if spec.HostIPC {
		shared.Insert("hostIPC=true")
	}
	if shared.Len() == 0 {
		return nil
	}
	return &Violation{Control: "host namespaces", Detail: strings.Join(sets.List(shared), ", ")}
}

// HostPath volumes (baseline): spec.volumes[*].hostPath must be unset,
// whatever the path — the Docker socket included (see the package doc for
// why there is no path allow-list).
func hostPathVolumes(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var names []string
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			names = append(names, v.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return &Violation{Control: "hostPath volumes", Detail: pluralize("volume", "volumes", len(names)) + " " + joinQuote(names)}
}

// Host ports (baseline): ports[*].hostPort of every container must be 0.
// Upstream's built-in admission allows no list of known ports, and
// neither does Skiff.
func hostPorts(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var containers []string
	ports := sets.New[string]()
	visitContainers(spec, func(c *corev1.Container) {
		bad := false
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				bad = true
				ports.Insert(strconv.Itoa(int(p.HostPort)))
			}
		}
		if bad {
			containers = append(containers, c.Name)
		}
	})
	if len(containers) == 0 {
		return nil
	}
	return &Violation{
		Control: "hostPort",
		Detail: fmt.Sprintf("%s %s %s %s", containersPhrase(containers), pluralize("uses", "use", len(containers)),
			pluralize("hostPort", "hostPorts", ports.Len()), strings.Join(sets.List(ports), ", ")),
	}
}

// Host probes and lifecycle hooks (baseline, 1.34+): the host of an
// httpGet or tcpSocket probe or lifecycle handler must be empty, or a pod
// could make the node connect anywhere on its behalf.
func hostProbesAndLifecycle(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	containers := sets.New[string]()
	hosts := sets.New[string]()
	note := func(c *corev1.Container, h *corev1.HTTPGetAction, t *corev1.TCPSocketAction) {
		if h != nil && h.Host != "" {
			containers.Insert(c.Name)
			hosts.Insert(h.Host)
		}
		if t != nil && t.Host != "" {
			containers.Insert(c.Name)
			hosts.Insert(t.Host)
		}
	}
	visitContainers(spec, func(c *corev1.Container) {
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if p != nil {
				note(c, p.HTTPGet, p.TCPSocket)
			}
		}
		if c.Lifecycle != nil {
			for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
				if h != nil {
					note(c, h.HTTPGet, h.TCPSocket)
				}
			}
		}
	})
	if containers.Len() == 0 {
		return nil
	}
	return &Violation{
		Control: "probe or lifecycle host",
		Detail: fmt.Sprintf("%s %s %s %s", containersPhrase(sets.List(containers)), pluralize("uses", "use", containers.Len()),
			pluralize("probe or lifecycle host", "probe or lifecycle hosts", hosts.Len()), joinQuote(sets.List(hosts))),
	}
}

// HostProcess (baseline): Windows host-process containers are the host;
// securityContext.windowsOptions.hostProcess must not be true on the pod
// or any container.
func windowsHostProcess(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	hostProcess := func(o *corev1.WindowsSecurityContextOptions) bool {
		return o != nil && o.HostProcess != nil && *o.HostProcess
	}
	var setters []string
	if spec.SecurityContext != nil && hostProcess(spec.SecurityContext.WindowsOptions) {
		setters = append(setters, "pod")
	}
	var containers []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext != nil && hostProcess(c.SecurityContext.WindowsOptions) {
			containers = append(containers, c.Name)
		}
	})
	if len(containers) > 0 {
		setters = append(setters, containersPhrase(containers))
	}
	if len(setters) == 0 {
		return nil
	}
	return &Violation{Control: "hostProcess", Detail: strings.Join(setters, " and ") + " must not set securityContext.windowsOptions.hostProcess=true"}
}
