package podsecurity

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// plainPod is what `kubectl run c --image=busybox` creates: it meets
// baseline and misses restricted.
func plainPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

// restrictedPod meets restricted.
func restrictedPod() *corev1.Pod {
	p := plainPod()
	p.Spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	p.Spec.Containers[0].SecurityContext = restrictedContainerContext()
	return p
}

func restrictedContainerContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

func sc(p *corev1.Pod) *corev1.SecurityContext {
	if p.Spec.Containers[0].SecurityContext == nil {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{}
	}
	return p.Spec.Containers[0].SecurityContext
}

func podSC(p *corev1.Pod) *corev1.PodSecurityContext {
	if p.Spec.SecurityContext == nil {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	return p.Spec.SecurityContext
}

func hostPathVolume(name, path string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}}}
}

var (
	baselineLV   = LevelVersion{Level: LevelBaseline}
	restrictedLV = LevelVersion{Level: LevelRestricted}
	privilegedLV = LevelVersion{Level: LevelPrivileged}
)

func at(l Level, minor int) LevelVersion { return LevelVersion{Level: l, Version: V1(minor)} }

func TestCheck(t *testing.T) {
	cases := []struct {
		name   string
		lv     LevelVersion
		base   func() *corev1.Pod
		mutate func(p *corev1.Pod)
		want   string // Describe of the violations; "" when allowed
	}{
		// Baseline: a default pod passes; every control refuses its field.
		{"plain pod meets baseline", baselineLV, plainPod, func(*corev1.Pod) {}, ""},
		{"hostProcess on the pod", baselineLV, plainPod, func(p *corev1.Pod) {
			podSC(p).WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(true)}
		}, `hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)`},
		{"hostProcess on pod and container", baselineLV, plainPod, func(p *corev1.Pod) {
			podSC(p).WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(true)}
			sc(p).WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(true)}
		}, `hostProcess (pod and container "c" must not set securityContext.windowsOptions.hostProcess=true)`},
		{"hostProcess false", baselineLV, plainPod, func(p *corev1.Pod) {
			sc(p).WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(false)}
		}, ""},
		{"hostNetwork and hostPID", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.HostNetwork, p.Spec.HostPID = true, true
		}, `host namespaces (hostNetwork=true, hostPID=true)`},
		{"hostIPC", baselineLV, plainPod, func(p *corev1.Pod) { p.Spec.HostIPC = true }, `host namespaces (hostIPC=true)`},
		{"privileged init container and container", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}
			sc(p).Privileged = ptr.To(true)
		}, `privileged (containers "i", "c" must not set securityContext.privileged=true)`},
		{"privileged ephemeral container", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}}
		}, `privileged (container "debug" must not set securityContext.privileged=true)`},
		{"privileged false", baselineLV, plainPod, func(p *corev1.Pod) { sc(p).Privileged = ptr.To(false) }, ""},
		{"capabilities from the default set", baselineLV, plainPod, func(p *corev1.Pod) {
			sc(p).Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE", "CHOWN", "SYS_CHROOT"}}
		}, ""},
		{"capabilities beyond the default set", baselineLV, plainPod, func(p *corev1.Pod) {
			sc(p).Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN", "CHOWN", "NET_RAW"}}
		}, `non-default capabilities (container "c" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add)`},
		{"hostPath volumes, in spec order", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{hostPathVolume("sock", "/var/run/docker.sock"),
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, hostPathVolume("etc", "/etc")}
		}, `hostPath volumes (volumes "sock", "etc")`},
		{"emptyDir and configMap volumes", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}}
		}, ""},
		{"one hostPort", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		}, `hostPort (container "c" uses hostPort 8080)`},
		{"hostPorts of two containers", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "d", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}})
		}, `hostPort (containers "c", "d" use hostPorts 80, 8080)`},
		{"container ports without hostPort", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}}
		}, ""},
		{"AppArmor Unconfined on the pod", baselineLV, plainPod, func(p *corev1.Pod) {
			podSC(p).AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
		}, `forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")`},
		{"AppArmor RuntimeDefault and Localhost", baselineLV, plainPod, func(p *corev1.Pod) {
			podSC(p).AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
			sc(p).AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr.To("mine")}
			p.Annotations = map[string]string{corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + "c": "localhost/mine"}
		}, ""},
		{"AppArmor unconfined annotation and container field", baselineLV, plainPod, func(p *corev1.Pod) {
			sc(p).AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
			p.Annotations = map[string]string{corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + "c": "unconfined"}
		}, `forbidden AppArmor profiles (container "c" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/c="unconfined"")`},
		{"SELinux container type", baselineLV, plainPod, func(p *corev1.Pod) {
			sc(p).SELinuxOptions = &corev1.SELinuxOptions{Type: "spc_t"}
		}, `seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: type "spc_t")`},
		{"SELinux user and role on the pod", baselineLV, plainPod, func(p *corev1.Pod) {
			podSC(p).SELinuxOptions = &corev1.SELinuxOptions{User: "system_u", Role: "system_r", Type: "container_t"}
		}, `seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: user may not be set; role may not be set)`},
		{"SELinux allowed type and level", baselineLV, plainPod, func(p *corev1.Pod) {
			sc(p).SELinuxOptions = &corev1.SELinuxOptions{Type: "container_init_t", Level: "s0:c1,c2"}
		}, ""},
		{"SELinux container_engine_t from 1.31", baselineLV, plainPod, func(p *corev1.Pod) {
			sc(p).SELinuxOptions = &corev1.SELinuxOptions{Type: "container_engine_t"}
		}, ""},
		{"SELinux container_engine_t before 1.31", at(LevelBaseline, 30), plainPod, func(p *corev1.Pod) {
			sc(p).SELinuxOptions = &corev1.SELinuxOptions{Type: "container_engine_t"}
		}, `seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: type "container_engine_t")`},
		{"procMount Unmasked", baselineLV, plainPod, func(p *corev1.Pod) {
			sc(p).ProcMount = ptr.To(corev1.UnmaskedProcMount)
		}, `procMount (container "c" must not set securityContext.procMount to "Unmasked")`},
		{"procMount Unmasked even without host users", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.HostUsers = ptr.To(false)
			sc(p).ProcMount = ptr.To(corev1.UnmaskedProcMount)
		}, `procMount (container "c" must not set securityContext.procMount to "Unmasked")`},
		{"procMount Default", baselineLV, plainPod, func(p *corev1.Pod) { sc(p).ProcMount = ptr.To(corev1.DefaultProcMount) }, ""},
		{"seccomp Unconfined on pod and container", baselineLV, plainPod, func(p *corev1.Pod) {
			podSC(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
			sc(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, `seccompProfile (pod and container "c" must not set securityContext.seccompProfile.type to "Unconfined")`},
		{"seccomp RuntimeDefault and Localhost", baselineLV, plainPod, func(p *corev1.Pod) {
			podSC(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
			sc(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}
		}, ""},
		{"seccomp annotation before 1.19", at(LevelBaseline, 18), plainPod, func(p *corev1.Pod) {
			p.Annotations = map[string]string{corev1.SeccompPodAnnotationKey: "unconfined"}
			podSC(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, `seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")`},
		{"seccomp annotations are not read from 1.19", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Annotations = map[string]string{corev1.SeccompPodAnnotationKey: "unconfined"}
		}, ""},
		{"safe sysctls", baselineLV, plainPod, func(p *corev1.Pod) {
			podSC(p).Sysctls = []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "net.ipv4.tcp_notsent_lowat", Value: "1"}}
		}, ""},
		{"unsafe sysctls", baselineLV, plainPod, func(p *corev1.Pod) {
			podSC(p).Sysctls = []corev1.Sysctl{{Name: "kernel.msgmax", Value: "1"}, {Name: "net.ipv4.tcp_syncookies", Value: "1"}, {Name: "vm.swappiness", Value: "1"}}
		}, `forbidden sysctls (kernel.msgmax, vm.swappiness)`},
		{"sysctl added in 1.32, at 1.31", at(LevelBaseline, 31), plainPod, func(p *corev1.Pod) {
			podSC(p).Sysctls = []corev1.Sysctl{{Name: "net.ipv4.tcp_rmem", Value: "4096 87380 6291456"}}
		}, `forbidden sysctls (net.ipv4.tcp_rmem)`},
		{"sysctl added in 1.37, at 1.36", at(LevelBaseline, 36), plainPod, func(p *corev1.Pod) {
			podSC(p).Sysctls = []corev1.Sysctl{{Name: "net.ipv4.tcp_slow_start_after_idle", Value: "0"}}
		}, `forbidden sysctls (net.ipv4.tcp_slow_start_after_idle)`},
		{"probe and lifecycle hosts", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: "10.0.0.1"}}}
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{TCPSocket: &corev1.TCPSocketAction{Host: "metadata"}}}
		}, `probe or lifecycle host (container "c" uses probe or lifecycle hosts "10.0.0.1", "metadata")`},
		{"probe host before 1.34", at(LevelBaseline, 33), plainPod, func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: "10.0.0.1"}}}
		}, ""},
		{"probes without a host", baselineLV, plainPod, func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}}}
		}, ""},
		{"several controls, in upstream's order", baselineLV, plainPod, func(p *corev1.Pod) {
			sc(p).Privileged = ptr.To(true)
			p.Spec.Volumes = []corev1.Volume{hostPathVolume("sock", "/var/run/docker.sock")}
			p.Spec.HostNetwork = true
			sc(p).Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}
		}, `non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add), host namespaces (hostNetwork=true), hostPath volumes (volume "sock"), privileged (container "c" must not set securityContext.privileged=true)`},

		// Restricted: baseline plus its own controls, each replacing the
		// baseline control it extends.
		{"restricted pod", restrictedLV, restrictedPod, func(*corev1.Pod) {}, ""},
		{"plain pod at restricted", restrictedLV, plainPod, func(*corev1.Pod) {},
			`allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
				`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
				`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
				`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`},
		{"restricted still checks baseline", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			sc(p).Privileged = ptr.To(true)
		}, `privileged (container "c" must not set securityContext.privileged=true)`},
		{"hostPath is a restricted volume type, named once", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{hostPathVolume("sock", "/var/run/docker.sock")}
		}, `restricted volume types (volume "sock" uses restricted volume type "hostPath")`},
		{"restricted volume types", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{
				{Name: "share", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/"}}},
				hostPathVolume("sock", "/run/docker.sock"),
				{Name: "repo", VolumeSource: corev1.VolumeSource{GitRepo: &corev1.GitRepoVolumeSource{Repository: "r"}}},
				{Name: "none"},
			}
		}, `restricted volume types (volumes "share", "sock", "repo", "none" use restricted volume types "gitRepo", "hostPath", "nfs", "unknown")`},
		{"allowed volume types", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{
				{Name: "a", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
				{Name: "b", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}},
				{Name: "c", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "d", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{}}},
				{Name: "e", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}},
				{Name: "f", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "x"}}},
				{Name: "g", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d"}}},
				{Name: "h", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
				{Name: "i", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "busybox"}}},
			}
		}, ""},
		{"allowPrivilegeEscalation true", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			sc(p).AllowPrivilegeEscalation = ptr.To(true)
		}, `allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)`},
		{"allowPrivilegeEscalation before 1.8", at(LevelRestricted, 7), restrictedPod, func(p *corev1.Pod) {
			sc(p).AllowPrivilegeEscalation = ptr.To(true)
		}, ""},
		{"NET_BIND_SERVICE may be added back", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			sc(p).Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
		}, ""},
		{"baseline capability at restricted", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			sc(p).Capabilities.Add = []corev1.Capability{"CHOWN"}
		}, `unrestricted capabilities (container "c" must not include "CHOWN" in securityContext.capabilities.add)`},
		{"capabilities neither dropped nor limited", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			sc(p).Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}
		}, `unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]; container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)`},
		{"before 1.22 restricted checks capabilities as baseline", at(LevelRestricted, 21), restrictedPod, func(p *corev1.Pod) {
			sc(p).Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}
		}, `non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)`},
		{"runAsNonRoot false on the pod", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			podSC(p).RunAsNonRoot = ptr.To(false)
		}, `runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)`},
		{"runAsNonRoot false on pod and container", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			podSC(p).RunAsNonRoot = ptr.To(false)
			sc(p).RunAsNonRoot = ptr.To(false)
		}, `runAsNonRoot != true (pod and container "c" must not set securityContext.runAsNonRoot=false)`},
		{"runAsNonRoot on every container instead of the pod", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			podSC(p).RunAsNonRoot = nil
			sc(p).RunAsNonRoot = ptr.To(true)
		}, ""},
		{"runAsNonRoot is not relaxed without host users", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			p.Spec.HostUsers = ptr.To(false)
			podSC(p).RunAsNonRoot = nil
		}, `runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)`},
		{"runAsUser 0", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			podSC(p).RunAsUser = ptr.To(int64(0))
			sc(p).RunAsUser = ptr.To(int64(0))
		}, `runAsUser=0 (pod and container "c" must not set runAsUser=0)`},
		{"runAsUser 1000", restrictedLV, restrictedPod, func(p *corev1.Pod) { sc(p).RunAsUser = ptr.To(int64(1000)) }, ""},
		{"runAsUser 0 before 1.23", at(LevelRestricted, 22), restrictedPod, func(p *corev1.Pod) {
			podSC(p).RunAsUser = ptr.To(int64(0))
		}, ""},
		{"seccomp on every container instead of the pod", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			podSC(p).SeccompProfile = nil
			sc(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}
		}, ""},
		{"seccomp Unconfined at restricted, named once", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			podSC(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, `seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")`},
		{"seccomp is not required before 1.19", at(LevelRestricted, 18), restrictedPod, func(p *corev1.Pod) {
			podSC(p).SeccompProfile = nil
		}, ""},
		{"procMount is listed among restricted controls from 1.35", restrictedLV, restrictedPod, func(p *corev1.Pod) {
			sc(p).AllowPrivilegeEscalation = ptr.To(true)
			sc(p).ProcMount = ptr.To(corev1.UnmaskedProcMount)
		}, `allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), procMount (container "c" must not set securityContext.procMount to "Unmasked")`},
		{"procMount is listed among baseline controls before 1.35", at(LevelRestricted, 34), restrictedPod, func(p *corev1.Pod) {
			sc(p).AllowPrivilegeEscalation = ptr.To(true)
			sc(p).ProcMount = ptr.To(corev1.UnmaskedProcMount)
		}, `procMount (container "c" must not set securityContext.procMount to "Unmasked"), allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)`},
		{"no exemption for Windows pods", restrictedLV, plainPod, func(p *corev1.Pod) {
			p.Spec.OS = &corev1.PodOS{Name: corev1.Windows}
			podSC(p).RunAsNonRoot = ptr.To(true)
			podSC(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
		}, `allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"])`},
		{"an unknown level is evaluated as restricted", LevelVersion{Level: "strict"}, plainPod, func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = restrictedContainerContext()
			podSC(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
		}, `runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)`},

		// Privileged checks nothing.
		{"privileged allows everything", privilegedLV, plainPod, func(p *corev1.Pod) {
			sc(p).Privileged = ptr.To(true)
			p.Spec.HostNetwork, p.Spec.HostPID = true, true
			p.Spec.Volumes = []corev1.Volume{hostPathVolume("sock", "/var/run/docker.sock")}
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.base()
			c.mutate(p)
			vs := Check(c.lv, &p.Spec, &p.ObjectMeta)
			if got := Describe(vs); got != c.want {
				t.Errorf("Check(%s)\n got: %s\nwant: %s", c.lv, got, c.want)
			}
			if (len(vs) == 0) != (c.want == "") {
				t.Errorf("Check(%s) returned %d violations for %q", c.lv, len(vs), c.want)
			}
		})
	}
}

// The Docker socket is the whole host: whatever path names it, a pod
// mounting it is refused at baseline and restricted, and only a
// privileged namespace admits it.
func TestDockerSocketIsRefusedBelowPrivileged(t *testing.T) {
	for _, path := range []string{
		"/var/run/docker.sock",
		"/run/docker.sock",
		"/var/run",
		"/run",
		"/",
		"/var//run/./docker.sock",
		"/var/lib/../run/docker.sock",
	} {
		p := plainPod()
		p.Spec.Volumes = []corev1.Volume{hostPathVolume("sock", path)}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "sock", MountPath: "/var/run/docker.sock"}}
		if got, want := Describe(Check(baselineLV, &p.Spec, &p.ObjectMeta)), `hostPath volumes (volume "sock")`; got != want {
			t.Errorf("hostPath %s at baseline: %q, want %q", path, got, want)
		}
		rp := restrictedPod()
		rp.Spec.Volumes = p.Spec.Volumes
		if got, want := Describe(Check(restrictedLV, &rp.Spec, &rp.ObjectMeta)), `restricted volume types (volume "sock" uses restricted volume type "hostPath")`; got != want {
			t.Errorf("hostPath %s at restricted: %q, want %q", path, got, want)
		}
		if vs := Check(privilegedLV, &p.Spec, &p.ObjectMeta); vs != nil {
			t.Errorf("hostPath %s at privileged: %v", path, vs)
		}
	}
}

func TestViolationFields(t *testing.T) {
	p := plainPod()
	sc(p).Privileged = ptr.To(true)
	got := Check(baselineLV, &p.Spec, &p.ObjectMeta)
	want := []Violation{{Control: "privileged", Detail: `container "c" must not set securityContext.privileged=true`}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Check = %#v, want %#v", got, want)
	}
	if got := Describe([]Violation{{Control: "a", Detail: "x"}, {Control: "b"}, {Control: "c", Detail: "y"}}); got != "a (x), b, c (y)" {
		t.Errorf("Describe = %q", got)
	}
	if got := controls(Check(restrictedLV, &plainPod().Spec, nil)); got != "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile" {
		t.Errorf("controls = %q", got)
	}
}

// The table is what keeps messages stable: baseline IDs sorted, then
// restricted IDs sorted, each check's revisions ascending, overrides
// naming baseline checks, and "latest" meaning the newest revision.
func TestCheckTableIsOrderedLikeUpstream(t *testing.T) {
	var baselineIDs, restrictedIDs []string
	ids := map[string]Level{}
	newest := 0
	for _, c := range checks {
		ids[c.id] = c.level
		switch c.level {
		case LevelBaseline:
			if len(restrictedIDs) > 0 {
				t.Errorf("baseline check %s listed after restricted checks", c.id)
			}
			baselineIDs = append(baselineIDs, c.id)
		case LevelRestricted:
			restrictedIDs = append(restrictedIDs, c.id)
		default:
			t.Errorf("check %s has level %q", c.id, c.level)
		}
		for i, r := range c.revisions {
			if i > 0 && r.since <= c.revisions[i-1].since {
				t.Errorf("check %s: revisions not ascending", c.id)
			}
			newest = max(newest, r.since)
		}
	}
	if !sort.StringsAreSorted(baselineIDs) || !sort.StringsAreSorted(restrictedIDs) {
		t.Errorf("IDs not sorted: %v / %v", baselineIDs, restrictedIDs)
	}
	for _, c := range checks {
		for _, r := range c.revisions {
			for _, o := range r.overrides {
				if c.level != LevelRestricted || ids[o] != LevelBaseline {
					t.Errorf("check %s overrides %s: only restricted checks may override baseline checks", c.id, o)
				}
			}
		}
	}
	if newest != newestMinor {
		t.Errorf("newestMinor = %d, newest revision is 1.%d", newestMinor, newest)
	}
	// A version newer than any revision evaluates as the newest.
	p := plainPod()
	podSC(p).Sysctls = []corev1.Sysctl{{Name: "net.ipv4.tcp_notsent_lowat", Value: "1"}}
	if vs := Check(at(LevelBaseline, 99), &p.Spec, &p.ObjectMeta); vs != nil {
		t.Errorf("v1.99 = %v, want latest's verdict", vs)
	}
	if !strings.Contains(Describe(Check(at(LevelBaseline, 36), &p.Spec, &p.ObjectMeta)), "forbidden sysctls") {
		t.Errorf("v1.36 allowed a sysctl only 1.37 made safe")
	}
}
