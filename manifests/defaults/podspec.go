package defaults

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// PodSpec fills the defaults of a pod spec; workload kinds call it on their
// pod templates.
func PodSpec(spec *corev1.PodSpec) { podSpec(spec, true) }

// PodTemplateSpec fills the defaults of a pod template.
func PodTemplateSpec(tmpl *corev1.PodTemplateSpec) { PodSpec(&tmpl.Spec) }

// jobPodTemplateSpec is PodTemplateSpec without the restartPolicy default:
// a Job's pods must say OnFailure or Never, and leaving the field empty makes
// validation say so instead of reporting an Always nobody wrote.
func jobPodTemplateSpec(tmpl *corev1.PodTemplateSpec) { podSpec(&tmpl.Spec, false) }

func podSpec(spec *corev1.PodSpec, restartPolicy bool) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if restartPolicy && spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = ptr.To(int64(corev1.DefaultTerminationGracePeriodSeconds))
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	// v1 conversion keeps the deprecated serviceAccount field as a mirror
	// of serviceAccountName; old manifests still set only the former.
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	if spec.DeprecatedServiceAccount == "" {
		spec.DeprecatedServiceAccount = spec.ServiceAccountName
	}
	for i := range spec.Volumes {
		volume(&spec.Volumes[i])
	}
	for i := range spec.InitContainers {
		container(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		container(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		container((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	resourceList(spec.Overhead)
}

func container(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = PullPolicyForImage(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil {
			objectFieldSelector(vf.FieldRef)
		}
	}
	resourceList(c.Resources.Limits)
	resourceList(c.Resources.Requests)
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p != nil {
			probe(p)
		}
	}
	if c.Lifecycle != nil {
		for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h != nil && h.HTTPGet != nil {
				httpGetAction(h.HTTPGet)
			}
		}
	}
}

func probe(p *corev1.Probe) {
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	if p.HTTPGet != nil {
		httpGetAction(p.HTTPGet)
	}
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = ptr.To("")
	}
}

func httpGetAction(a *corev1.HTTPGetAction) {
	if a.Path == "" {
		a.Path = "/"
	}
	if a.Scheme == "" {
		a.Scheme = corev1.URISchemeHTTP
	}
}

func objectFieldSelector(s *corev1.ObjectFieldSelector) {
	if s.APIVersion == "" {
		s.APIVersion = "v1"
	}
}

// resourceList rounds every quantity up to milli precision, as Kubernetes
// does for compatibility (kubernetes#18538).
func resourceList(l corev1.ResourceList) {
	for name, q := range l {
		q.RoundUp(-3)
		l[name] = q
	}
}

func volume(v *corev1.Volume) {
	s := &v.VolumeSource
	if ptr.AllPtrFieldsNil(s) {
		s.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if s.HostPath != nil && s.HostPath.Type == nil {
		s.HostPath.Type = ptr.To(corev1.HostPathUnset)
	}
	if s.Secret != nil && s.Secret.DefaultMode == nil {
		s.Secret.DefaultMode = ptr.To(corev1.SecretVolumeSourceDefaultMode)
	}
	if s.ConfigMap != nil && s.ConfigMap.DefaultMode == nil {
		s.ConfigMap.DefaultMode = ptr.To(corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if s.DownwardAPI != nil {
		if s.DownwardAPI.DefaultMode == nil {
			s.DownwardAPI.DefaultMode = ptr.To(corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		for i := range s.DownwardAPI.Items {
			if f := s.DownwardAPI.Items[i].FieldRef; f != nil {
				objectFieldSelector(f)
			}
		}
	}
	if s.Projected != nil {
		if s.Projected.DefaultMode == nil {
			s.Projected.DefaultMode = ptr.To(corev1.ProjectedVolumeSourceDefaultMode)
		}
		for i := range s.Projected.Sources {
			src := &s.Projected.Sources[i]
			if src.DownwardAPI != nil {
				for j := range src.DownwardAPI.Items {
					if f := src.DownwardAPI.Items[j].FieldRef; f != nil {
						objectFieldSelector(f)
					}
				}
			}
			if src.ServiceAccountToken != nil && src.ServiceAccountToken.ExpirationSeconds == nil {
				src.ServiceAccountToken.ExpirationSeconds = ptr.To(int64(time.Hour.Seconds()))
			}
		}
	}
	if s.ISCSI != nil && s.ISCSI.ISCSIInterface == "" {
		s.ISCSI.ISCSIInterface = "default"
	}
	if s.RBD != nil {
		if s.RBD.RBDPool == "" {
			s.RBD.RBDPool = "rbd"
		}
		if s.RBD.RadosUser == "" {
			s.RBD.RadosUser = "admin"
		}
		if s.RBD.Keyring == "" {
			s.RBD.Keyring = "/etc/ceph/keyring"
		}
	}
	if s.AzureDisk != nil {
		if s.AzureDisk.CachingMode == nil {
			s.AzureDisk.CachingMode = ptr.To(corev1.AzureDataDiskCachingReadWrite)
		}
		if s.AzureDisk.Kind == nil {
			s.AzureDisk.Kind = ptr.To(corev1.AzureSharedBlobDisk)
		}
		if s.AzureDisk.FSType == nil {
			s.AzureDisk.FSType = ptr.To("ext4")
		}
		if s.AzureDisk.ReadOnly == nil {
			s.AzureDisk.ReadOnly = ptr.To(false)
		}
	}
	if s.ScaleIO != nil {
		if s.ScaleIO.StorageMode == "" {
			s.ScaleIO.StorageMode = "ThinProvisioned"
		}
		if s.ScaleIO.FSType == "" {
			s.ScaleIO.FSType = "xfs"
		}
	}
	if s.Ephemeral != nil && s.Ephemeral.VolumeClaimTemplate != nil {
		persistentVolumeClaimSpec(&s.Ephemeral.VolumeClaimTemplate.Spec)
	}
}

func persistentVolumeClaimSpec(spec *corev1.PersistentVolumeClaimSpec) {
	if spec.VolumeMode == nil {
		spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
	resourceList(spec.Resources.Limits)
	resourceList(spec.Resources.Requests)
}

// persistentVolumeClaim defaults a claim such as a StatefulSet's
// volumeClaimTemplates entry.
func persistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) {
	if pvc.Status.Phase == "" {
		pvc.Status.Phase = corev1.ClaimPending
	}
	persistentVolumeClaimSpec(&pvc.Spec)
}
