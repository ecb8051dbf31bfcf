package podsecurity

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Privilege escalation (restricted, 1.8+): every container must set
// securityContext.allowPrivilegeEscalation=false; unset means allowed, so
// it must be explicit.
func allowPrivilegeEscalation(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var containers []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
			containers = append(containers, c.Name)
		}
	})
	if len(containers) == 0 {
		return nil
	}
	return &Violation{Control: "allowPrivilegeEscalation != false", Detail: containersPhrase(containers) + " must set securityContext.allowPrivilegeEscalation=false"}
}

// restrictedVolumeType names the volume source of a volume restricted
// forbids, as upstream names it, or "" for the allowed ones: those backed
// by API objects, the pod itself, or a PersistentVolume an admin vetted.
func restrictedVolumeType(v *corev1.Volume) string {
	switch {
	case v.ConfigMap != nil, v.CSI != nil, v.DownwardAPI != nil, v.EmptyDir != nil, v.Ephemeral != nil,
		v.Image != nil, v.PersistentVolumeClaim != nil, v.Projected != nil, v.Secret != nil:
		return ""
	case v.HostPath != nil:
		return "hostPath"
	case v.GCEPersistentDisk != nil:
		return "gcePersistentDisk"
	case v.AWSElasticBlockStore != nil:
		return "awsElasticBlockStore"
	case v.GitRepo != nil:
		return "gitRepo"
	case v.NFS != nil:
		return "nfs"
	case v.ISCSI != nil:
		return "iscsi"
	case v.Glusterfs != nil:
		return "glusterfs"
	case v.RBD != nil:
		return "rbd"
	case v.FlexVolume != nil:
		return "flexVolume"
	case v.Cinder != nil:
		return "cinder"
	case v.CephFS != nil:
		return "cephfs"
	case v.Flocker != nil:
		return "flocker"
	case v.FC != nil:
		return "fc"
	case v.AzureFile != nil:
		return "azureFile"
	case v.VsphereVolume != nil:
		return "vsphereVolume"
	case v.Quobyte != nil:
		return "quobyte"
	case v.AzureDisk != nil:
		return "azureDisk"
	case v.PhotonPersistentDisk != nil:
		return "photonPersistentDisk"
	case v.PortworxVolume != nil:
		return "portworxVolume"
	case v.ScaleIO != nil:
		return "scaleIO"
	case v.StorageOS != nil:
		return "storageos"
	}
	// A source newer than this list, or none at all: refused, so that a
	// new volume type is never allowed before someone decides it is safe.
	return "unknown"
}

// Volume types (restricted): only configMap, csi, downwardAPI, emptyDir,
// ephemeral, image, persistentVolumeClaim, projected and secret volumes.
// It replaces the baseline hostPath check, whose volumes it also refuses.
func restrictedVolumes(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var names []string
	types := sets.New[string]()
	for i := range spec.Volumes {
		if t := restrictedVolumeType(&spec.Volumes[i]); t != "" {
			names = append(names, spec.Volumes[i].Name)
			types.Insert(t)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return &Violation{
		Control: "restricted volume types",
		Detail: fmt.Sprintf("%s %s %s %s %s", pluralize("volume", "volumes", len(names)), joinQuote(names), pluralize("uses", "use", len(names)),
			pluralize("restricted volume type", "restricted volume types", types.Len()), joinQuote(sets.List(types))),
	}
}

// Running as non-root (restricted): runAsNonRoot must be true, on the pod
// (inherited by containers that leave it unset) or on every container, and
// false nowhere.
func runAsNonRoot(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var setters []string
	podTrue := false
	if sc := spec.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		if *sc.RunAsNonRoot {
			podTrue = true
		} else {
			setters = append(setters, "pod")
		}
	}
	var falseContainers, unsetContainers []string
	visitContainers(spec, func(c *corev1.Container) {
		switch sc := c.SecurityContext; {
		case sc != nil && sc.RunAsNonRoot != nil:
			if !*sc.RunAsNonRoot {
				falseContainers = append(falseContainers, c.Name)
			}
		case !podTrue:
			unsetContainers = append(unsetContainers, c.Name)
		}
	})
	if len(falseContainers) > 0 {
		setters = append(setters, containersPhrase(falseContainers))
	}
	if len(setters) > 0 {
		return &Violation{Control: "runAsNonRoot != true", Detail: strings.Join(setters, " and ") + " must not set securityContext.runAsNonRoot=false"}
	}
	if len(unsetContainers) > 0 {
		return &Violation{Control: "runAsNonRoot != true", Detail: "pod or " + containersPhrase(unsetContainers) + " must set securityContext.runAsNonRoot=true"}
	}
	return nil
}

// Running as a non-root user (restricted, 1.23+): runAsUser must not be 0
// on the pod or any container; unset is left to runAsNonRoot.
func runAsUser(_ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var setters []string
	if sc := spec.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		setters = append(setters, "pod")
	}
	var containers []string
	visitContainers(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			containers = append(containers, c.Name)
		}
	})
	if len(containers) > 0 {
		setters = append(setters, containersPhrase(containers))
	}
	if len(setters) == 0 {
		return nil
	}
	return &Violation{Control: "runAsUser=0", Detail: strings.Join(setters, " and ") + " must not set runAsUser=0"}
}
