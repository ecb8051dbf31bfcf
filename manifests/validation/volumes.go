package validation

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// validateVolumes checks the pod's volumes and returns the valid ones by
// name, which is what volumeMounts may refer to.
func validateVolumes(volumes []corev1.Volume, fldPath *field.Path, opts podOptions) (map[string]corev1.VolumeSource, field.ErrorList) {
	var allErrs field.ErrorList
	names := sets.New[string]()
	// A PVC the pod creates for an ephemeral volume cannot also be claimed.
	created := sets.New[string]()
	if opts.podName != "" {
		for _, v := range volumes {
			if v.Ephemeral != nil {
				created.Insert(opts.podName + "-" + v.Name)
			}
		}
	}
	vols := map[string]corev1.VolumeSource{}
	for i, v := range volumes {
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		el := volumeSource(&v.VolumeSource, v.Name, idxPath, opts)
		if v.Name == "" {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, dns1123Label(v.Name, namePath)...)
		}
		if names.Has(v.Name) {
			el = append(el, field.Duplicate(namePath, v.Name))
		}
		if len(el) == 0 {
			names.Insert(v.Name)
			vols[v.Name] = v.VolumeSource
		} else {
			allErrs = append(allErrs, el...)
		}
		if v.PersistentVolumeClaim != nil && created.Has(v.PersistentVolumeClaim.ClaimName) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("persistentVolumeClaim").Child("claimName"), v.PersistentVolumeClaim.ClaimName,
				"must not reference a PVC that gets created for an ephemeral volume"))
		}
	}
	return vols, allErrs
}

// volumeSource requires exactly one source and checks it.
func volumeSource(s *corev1.VolumeSource, volName string, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	add := func(set bool, child string, check func(*field.Path) field.ErrorList) {
		if !set {
			return
		}
		if n > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(child), "may not specify more than 1 volume type"))
			return
		}
		n++
		allErrs = append(allErrs, check(fldPath.Child(child))...)
	}
	required := func(p *field.Path, fields ...string) field.ErrorList {
		var errs field.ErrorList
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i+1] == "" {
				errs = append(errs, field.Required(p.Child(fields[i]), ""))
			}
		}
		return errs
	}
	add(s.EmptyDir != nil, "emptyDir", func(p *field.Path) field.ErrorList {
		if s.EmptyDir.SizeLimit != nil && s.EmptyDir.SizeLimit.Sign() < 0 {
			return field.ErrorList{field.Forbidden(p.Child("sizeLimit"), "SizeLimit field must be a valid resource quantity")}
		}
		return nil
	})
	add(s.HostPath != nil, "hostPath", func(p *field.Path) field.ErrorList { return hostPathSource(s.HostPath, p) })
	add(s.GitRepo != nil, "gitRepo", func(p *field.Path) field.ErrorList {
		errs := required(p, "repository", s.GitRepo.Repository)
		return append(errs, localDescendingPath(s.GitRepo.Directory, p.Child("directory"))...)
	})
	add(s.GCEPersistentDisk != nil, "gcePersistentDisk", func(*field.Path) field.ErrorList {
		p := fldPath.Child("persistentDisk") // sic, as Kubernetes reports it
		errs := required(p, "pdName", s.GCEPersistentDisk.PDName)
		return append(errs, partition(s.GCEPersistentDisk.Partition, p.Child("partition"))...)
	})
	add(s.AWSElasticBlockStore != nil, "awsElasticBlockStore", func(p *field.Path) field.ErrorList {
		errs := required(p, "volumeID", s.AWSElasticBlockStore.VolumeID)
		return append(errs, partition(s.AWSElasticBlockStore.Partition, p.Child("partition"))...)
	})
	add(s.Secret != nil, "secret", func(p *field.Path) field.ErrorList {
		errs := required(p, "secretName", s.Secret.SecretName)
		errs = append(errs, fileMode(s.Secret.DefaultMode, p.Child("defaultMode"))...)
		for i := range s.Secret.Items {
			errs = append(errs, keyToPath(&s.Secret.Items[i], p.Child("items").Index(i))...)
		}
		return errs
	})
	add(s.NFS != nil, "nfs", func(p *field.Path) field.ErrorList {
		errs := required(p, "server", s.NFS.Server, "path", s.NFS.Path)
		if !path.IsAbs(s.NFS.Path) {
			errs = append(errs, field.Invalid(p.Child("path"), s.NFS.Path, "must be an absolute path"))
		}
		return errs
	})
	add(s.ISCSI != nil, "iscsi", func(p *field.Path) field.ErrorList {
		errs := required(p, "targetPortal", s.ISCSI.TargetPortal, "iqn", s.ISCSI.IQN)
		if s.ISCSI.Lun < 0 || s.ISCSI.Lun > 255 {
			errs = append(errs, field.Invalid(p.Child("lun"), s.ISCSI.Lun, validation.InclusiveRangeError(0, 255)))
		}
		if (s.ISCSI.DiscoveryCHAPAuth || s.ISCSI.SessionCHAPAuth) && s.ISCSI.SecretRef == nil {
			errs = append(errs, field.Required(p.Child("secretRef"), ""))
		}
		return errs
	})
	add(s.Glusterfs != nil, "glusterfs", func(p *field.Path) field.ErrorList {
		return required(p, "endpoints", s.Glusterfs.EndpointsName, "path", s.Glusterfs.Path)
	})
	add(s.Flocker != nil, "flocker", func(p *field.Path) field.ErrorList {
		f := s.Flocker
		var errs field.ErrorList
		if f.DatasetName == "" && f.DatasetUUID == "" {
			errs = append(errs, field.Required(p, "one of datasetName and datasetUUID is required"))
		}
		if f.DatasetName != "" && f.DatasetUUID != "" {
			errs = append(errs, field.Invalid(p, "resource", "datasetName and datasetUUID can not be specified simultaneously"))
		}
		if strings.Contains(f.DatasetName, "/") {
			errs = append(errs, field.Invalid(p.Child("datasetName"), f.DatasetName, "must not contain '/'"))
		}
		return errs
	})
	add(s.PersistentVolumeClaim != nil, "persistentVolumeClaim", func(p *field.Path) field.ErrorList {
		return required(p, "claimName", s.PersistentVolumeClaim.ClaimName)
	})
	add(s.RBD != nil, "rbd", func(p *field.Path) field.ErrorList {
		errs := required(p, "image", s.RBD.RBDImage)
		if len(s.RBD.CephMonitors) == 0 {
			errs = append(field.ErrorList{field.Required(p.Child("monitors"), "")}, errs...)
		}
		return errs
	})
	add(s.Cinder != nil, "cinder", func(p *field.Path) field.ErrorList {
		errs := required(p, "volumeID", s.Cinder.VolumeID)
		if s.Cinder.SecretRef != nil && s.Cinder.SecretRef.Name == "" {
			errs = append(errs, field.Required(p.Child("secretRef", "name"), ""))
		}
		return errs
	})
	add(s.CephFS != nil, "cephFS", func(*field.Path) field.ErrorList {
		if len(s.CephFS.Monitors) == 0 {
			return field.ErrorList{field.Required(fldPath.Child("cephfs").Child("monitors"), "")}
		}
		return nil
	})
	add(s.Quobyte != nil, "quobyte", func(p *field.Path) field.ErrorList {
		errs := required(p, "volume", s.Quobyte.Volume)
		if s.Quobyte.Registry == "" {
			errs = append(errs, field.Required(p.Child("registry"), "must be a host:port pair or multiple pairs separated by commas"))
		}
		return errs
	})
	add(s.DownwardAPI != nil, "downwardAPI", func(p *field.Path) field.ErrorList {
		errs := fileMode(s.DownwardAPI.DefaultMode, p.Child("defaultMode"))
		for i := range s.DownwardAPI.Items {
			errs = append(errs, downwardAPIVolumeFile(&s.DownwardAPI.Items[i], p)...)
		}
		return errs
	})
	add(s.FC != nil, "fc", func(p *field.Path) field.ErrorList {
		fc := s.FC
		var errs field.ErrorList
		if len(fc.TargetWWNs) < 1 && len(fc.WWIDs) < 1 {
			errs = append(errs, field.Required(p.Child("targetWWNs"), "must specify either targetWWNs or wwids, but not both"))
		}
		if len(fc.TargetWWNs) != 0 && len(fc.WWIDs) != 0 {
			errs = append(errs, field.Invalid(p.Child("targetWWNs"), fc.TargetWWNs, "targetWWNs and wwids can not be specified simultaneously"))
		}
		if len(fc.TargetWWNs) != 0 {
			if fc.Lun == nil {
				errs = append(errs, field.Required(p.Child("lun"), "lun is required if targetWWNs is specified"))
			} else if *fc.Lun < 0 || *fc.Lun > 255 {
				errs = append(errs, field.Invalid(p.Child("lun"), fc.Lun, validation.InclusiveRangeError(0, 255)))
			}
		}
		return errs
	})
	add(s.FlexVolume != nil, "flexVolume", func(p *field.Path) field.ErrorList {
		errs := required(p, "driver", s.FlexVolume.Driver)
		for k := range s.FlexVolume.Options {
			ns := k
			if parts := strings.SplitN(k, "/", 2); len(parts) == 2 {
				ns = parts[0]
			}
			n := "." + strings.ToLower(ns)
			if strings.HasSuffix(n, ".kubernetes.io") || strings.HasSuffix(n, ".k8s.io") {
				errs = append(errs, field.Invalid(p.Child("options").Key(k), k, "kubernetes.io and k8s.io namespaces are reserved"))
			}
		}
		return errs
	})
	add(s.ConfigMap != nil, "configMap", func(p *field.Path) field.ErrorList {
		errs := required(p, "name", s.ConfigMap.Name)
		errs = append(errs, fileMode(s.ConfigMap.DefaultMode, p.Child("defaultMode"))...)
		for i := range s.ConfigMap.Items {
			errs = append(errs, keyToPath(&s.ConfigMap.Items[i], p.Child("items").Index(i))...)
		}
		return errs
	})
	add(s.AzureFile != nil, "azureFile", func(p *field.Path) field.ErrorList {
		return required(p, "secretName", s.AzureFile.SecretName, "shareName", s.AzureFile.ShareName)
	})
	add(s.VsphereVolume != nil, "vsphereVolume", func(p *field.Path) field.ErrorList {
		return required(p, "volumePath", s.VsphereVolume.VolumePath)
	})
	add(s.PhotonPersistentDisk != nil, "photonPersistentDisk", func(p *field.Path) field.ErrorList {
		return required(p, "pdID", s.PhotonPersistentDisk.PdID)
	})
	add(s.PortworxVolume != nil, "portworxVolume", func(p *field.Path) field.ErrorList {
		return required(p, "volumeID", s.PortworxVolume.VolumeID)
	})
	add(s.AzureDisk != nil, "azureDisk", func(p *field.Path) field.ErrorList {
		return required(p, "diskName", s.AzureDisk.DiskName, "diskURI", s.AzureDisk.DataDiskURI)
	})
	add(s.StorageOS != nil, "storageos", func(p *field.Path) field.ErrorList {
		errs := required(p, "volumeName", s.StorageOS.VolumeName)
		if s.StorageOS.VolumeName != "" {
			errs = append(errs, dns1123Label(s.StorageOS.VolumeName, p.Child("volumeName"))...)
		}
		if s.StorageOS.VolumeNamespace != "" {
			errs = append(errs, dns1123Label(s.StorageOS.VolumeNamespace, p.Child("volumeNamespace"))...)
		}
		return errs
	})
	add(s.Projected != nil, "projected", func(p *field.Path) field.ErrorList {
		errs := fileMode(s.Projected.DefaultMode, p.Child("defaultMode"))
		return append(errs, projectionSources(s.Projected, p)...)
	})
	add(s.ScaleIO != nil, "scaleIO", func(p *field.Path) field.ErrorList {
		return required(p, "gateway", s.ScaleIO.Gateway, "system", s.ScaleIO.System, "volumeName", s.ScaleIO.VolumeName)
	})
	add(s.CSI != nil, "csi", func(p *field.Path) field.ErrorList {
		errs := csiDriverName(s.CSI.Driver, p.Child("driver"))
		if ref := s.CSI.NodePublishSecretRef; ref != nil {
			if ref.Name == "" {
				errs = append(errs, field.Required(p.Child("nodePublishSecretRef", "name"), ""))
			} else {
				errs = append(errs, objectName(NameIsDNSSubdomain, ref.Name, p.Child("name"))...)
			}
		}
		return errs
	})
	add(s.Ephemeral != nil, "ephemeral", func(p *field.Path) field.ErrorList {
		if s.Ephemeral.VolumeClaimTemplate == nil {
			return field.ErrorList{field.Required(p.Child("volumeClaimTemplate"), "")}
		}
		t := s.Ephemeral.VolumeClaimTemplate
		errs := templateObjectMeta(&t.ObjectMeta, p.Child("volumeClaimTemplate", "metadata"))
		errs = append(errs, persistentVolumeClaimSpec(&t.Spec, p.Child("volumeClaimTemplate", "spec"))...)
		if opts.podName != "" && volName != "" {
			pvcName := opts.podName + "-" + volName
			for _, msg := range NameIsDNSSubdomain(pvcName, false) {
				errs = append(errs, field.Invalid(fldPath.Child("name"), volName, fmt.Sprintf("PVC name %q: %v", pvcName, msg)))
			}
		}
		return errs
	})
	add(s.Image != nil, "image", func(p *field.Path) field.ErrorList {
		var errs field.ErrorList
		if opts.resourceIsPod && s.Image.Reference == "" {
			errs = append(errs, field.Required(p.Child("reference"), ""))
		}
		if s.Image.PullPolicy != "" {
			errs = append(errs, pullPolicy(s.Image.PullPolicy, p.Child("pullPolicy"))...)
		}
		return errs
	})
	if n == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a volume type"))
	}
	return allErrs
}

func partition(p int32, fldPath *field.Path) field.ErrorList {
	if p < 0 || p > 255 {
		return field.ErrorList{field.Invalid(fldPath, p, validation.InclusiveRangeError(1, 255))}
	}
	return nil
}

func fileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

var hostPathTypes = []corev1.HostPathType{
	corev1.HostPathUnset, corev1.HostPathBlockDev, corev1.HostPathCharDev, corev1.HostPathDirectory,
	corev1.HostPathDirectoryOrCreate, corev1.HostPathFile, corev1.HostPathFileOrCreate, corev1.HostPathSocket,
}

func hostPathSource(h *corev1.HostPathVolumeSource, fldPath *field.Path) field.ErrorList {
	if h.Path == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	allErrs := pathNoBacksteps(h.Path, fldPath.Child("path"))
	if h.Type != nil && !sets.New(hostPathTypes...).Has(*h.Type) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), h.Type, hostPathTypes))
	}
	return allErrs
}

func keyToPath(kp *corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if kp.Key == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("key"), ""))
	}
	if kp.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, localNonReservedPath(kp.Path, fldPath.Child("path"))...)
	return append(allErrs, fileMode(kp.Mode, fldPath.Child("mode"))...)
}

func downwardAPIVolumeFile(f *corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if f.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, localNonReservedPath(f.Path, fldPath.Child("path"))...)
	switch {
	case f.FieldRef != nil:
		allErrs = append(allErrs, objectFieldSelector(f.FieldRef, volumeFieldPaths, fldPath.Child("fieldRef"))...)
		if f.ResourceFieldRef != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case f.ResourceFieldRef != nil:
		allErrs = append(allErrs, resourceFieldSelector(f.ResourceFieldRef, fldPath.Child("resourceFieldRef"), true)...)
	default:
		allErrs = append(allErrs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(allErrs, fileMode(f.Mode, fldPath.Child("mode"))...)
}

func projectionSources(p *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	paths := sets.New[string]()
	claim := func(p string, bad any) {
		if p == "" {
			return
		}
		if paths.Has(p) {
			allErrs = append(allErrs, field.Invalid(fldPath, bad, "conflicting duplicate paths"))
		}
		paths.Insert(p)
	}
	for i, s := range p.Sources {
		n := 0
		srcPath := fldPath.Child("sources").Index(i)
		if s.Secret != nil {
			n++
			pp := srcPath.Child("secret")
			if s.Secret.Name == "" {
				allErrs = append(allErrs, field.Required(pp.Child("name"), ""))
			}
			for j := range s.Secret.Items {
				allErrs = append(allErrs, keyToPath(&s.Secret.Items[j], pp.Child("items").Index(j))...)
				claim(s.Secret.Items[j].Path, s.Secret.Name)
			}
		}
		if s.ConfigMap != nil {
			n++
			pp := srcPath.Child("configMap")
			if s.ConfigMap.Name == "" {
				allErrs = append(allErrs, field.Required(pp.Child("name"), ""))
			}
			for j := range s.ConfigMap.Items {
				allErrs = append(allErrs, keyToPath(&s.ConfigMap.Items[j], pp.Child("items").Index(j))...)
				claim(s.ConfigMap.Items[j].Path, s.ConfigMap.Name)
			}
		}
		if s.DownwardAPI != nil {
			n++
			pp := srcPath.Child("downwardAPI")
			for j := range s.DownwardAPI.Items {
				allErrs = append(allErrs, downwardAPIVolumeFile(&s.DownwardAPI.Items[j], pp)...)
				claim(s.DownwardAPI.Items[j].Path, s.DownwardAPI.Items[j].Path)
			}
		}
		if t := s.ServiceAccountToken; t != nil {
			n++
			pp := srcPath.Child("serviceAccountToken")
			exp := int64(0)
			if t.ExpirationSeconds != nil {
				exp = *t.ExpirationSeconds
			}
			if exp < 10*60 {
				allErrs = append(allErrs, field.Invalid(pp.Child("expirationSeconds"), exp, "may not specify a duration less than 10 minutes"))
			}
			if exp > 1<<32 {
				allErrs = append(allErrs, field.Invalid(pp.Child("expirationSeconds"), exp, "may not specify a duration larger than 2^32 seconds"))
			}
			if t.Path == "" {
				allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
			} else {
				allErrs = append(allErrs, localNonReservedPath(t.Path, fldPath.Child("path"))...)
			}
		}
		if s.ClusterTrustBundle != nil {
			n++
		}
		if n > 1 {
			allErrs = append(allErrs, field.Forbidden(srcPath, "may not specify more than 1 volume type per source"))
		}
	}
	return allErrs
}

func csiDriverName(driver string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if driver == "" {
		allErrs = append(allErrs, field.Required(fldPath, ""))
	}
	if len(driver) > 63 {
		allErrs = append(allErrs, field.TooLong(fldPath, "", 63))
	}
	for _, msg := range validation.IsDNS1123Subdomain(strings.ToLower(driver)) {
		allErrs = append(allErrs, field.Invalid(fldPath, driver, msg))
	}
	return allErrs
}

var (
	accessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}
	volumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
)

// persistentVolumeClaimSpec checks the claim of an ephemeral volume.
func persistentVolumeClaimSpec(spec *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.AccessModes) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("accessModes"), "at least 1 access mode is required"))
	}
	if spec.Selector != nil {
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(spec.Selector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
	}
	rwop, other := false, false
	for _, m := range spec.AccessModes {
		if !sets.New(accessModes...).Has(m) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("accessModes"), m, accessModes))
			continue
		}
		if m == corev1.ReadWriteOncePod {
			rwop = true
		} else {
			other = true
		}
	}
	if rwop && other {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("accessModes"), "may not use ReadWriteOncePod with other access modes"))
	}
	storagePath := fldPath.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		allErrs = append(allErrs, field.Required(storagePath, ""))
	} else if q.Sign() <= 0 {
		allErrs = append(allErrs, field.Invalid(storagePath, q.String(), "must be greater than zero"))
	}
	if spec.StorageClassName != nil && *spec.StorageClassName != "" {
		allErrs = append(allErrs, objectName(NameIsDNSSubdomain, *spec.StorageClassName, fldPath.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil && !sets.New(volumeModes...).Has(*spec.VolumeMode) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("volumeMode"), *spec.VolumeMode, volumeModes))
	}
	return allErrs
}

// localDescendingPath: relative and without "..".
func localDescendingPath(p string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if path.IsAbs(p) {
		allErrs = append(allErrs, field.Invalid(fldPath, p, "must be a relative path"))
	}
	return append(allErrs, pathNoBacksteps(p, fldPath)...)
}

func pathNoBacksteps(p string, fldPath *field.Path) field.ErrorList {
	for _, item := range strings.Split(filepath.ToSlash(p), "/") {
		if item == ".." {
			return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..'")}
		}
	}
	return nil
}

// localNonReservedPath is localDescendingPath that also refuses names
// starting with "..", which the atomic writer uses for its own files.
func localNonReservedPath(p string, fldPath *field.Path) field.ErrorList {
	allErrs := localDescendingPath(p, fldPath)
	if strings.HasPrefix(p, "..") && !strings.HasPrefix(p, "../") {
		allErrs = append(allErrs, field.Invalid(fldPath, p, "must not start with '..'"))
	}
	return allErrs
}

var mountPropagationModes = []corev1.MountPropagationMode{corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone}

func volumeMounts(c *corev1.Container, volumes map[string]corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	devices := map[string]string{}
	for _, d := range c.VolumeDevices {
		devices[d.Name] = d.DevicePath
	}
	devicePaths := sets.New[string]()
	for _, p := range devices {
		devicePaths.Insert(p)
	}
	mountpoints := sets.New[string]()
	for i, m := range c.VolumeMounts {
		idxPath := fldPath.Index(i)
		if m.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		}
		if _, ok := volumes[m.Name]; !ok {
			allErrs = append(allErrs, field.NotFound(idxPath.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("mountPath"), ""))
		}
		if mountpoints.Has(m.MountPath) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mountpoints.Insert(m.MountPath)
		if _, ok := devices[m.Name]; ok {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), m.Name, "must not already exist in volumeDevices"))
		}
		if devicePaths.Has(m.MountPath) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("mountPath"), m.MountPath, "must not already exist as a path in volumeDevices"))
		}
		if v, ok := volumes[m.Name]; ok && v.Image != nil {
			if m.SubPath != "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("subPath"), m.SubPath, "not allowed in image volume sources"))
			}
			if m.SubPathExpr != "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("subPathExpr"), m.SubPathExpr, "not allowed in image volume sources"))
			}
		}
		// Kubernetes reports these two at the list's path, not the entry's.
		if m.SubPath != "" {
			allErrs = append(allErrs, localDescendingPath(m.SubPath, fldPath.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			allErrs = append(allErrs, localDescendingPath(m.SubPathExpr, fldPath.Child("subPathExpr"))...)
		}
		if m.MountPropagation != nil {
			mp := *m.MountPropagation
			if !sets.New(mountPropagationModes...).Has(mp) {
				allErrs = append(allErrs, field.NotSupported(fldPath.Child("mountPropagation"), mp, mountPropagationModes))
			}
			privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
			if mp == corev1.MountPropagationBidirectional && !privileged {
				allErrs = append(allErrs, field.Forbidden(fldPath.Child("mountPropagation"), "Bidirectional mount propagation is available only to privileged containers"))
			}
		}
		allErrs = append(allErrs, recursiveReadOnly(m, fldPath.Child("recursiveReadOnly"))...)
	}
	return allErrs
}

func recursiveReadOnly(m corev1.VolumeMount, fldPath *field.Path) field.ErrorList {
	if m.RecursiveReadOnly == nil {
		return nil
	}
	var allErrs field.ErrorList
	switch *m.RecursiveReadOnly {
	case corev1.RecursiveReadOnlyDisabled:
	case corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible:
		if !m.ReadOnly {
			allErrs = append(allErrs, field.Forbidden(fldPath, "may only be specified when readOnly is true"))
		}
		if m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone {
			allErrs = append(allErrs, field.Forbidden(fldPath, "may only be specified when mountPropagation is None or not specified"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath, *m.RecursiveReadOnly,
			[]corev1.RecursiveReadOnlyMode{corev1.RecursiveReadOnlyDisabled, corev1.RecursiveReadOnlyIfPossible, corev1.RecursiveReadOnlyEnabled}))
	}
	return allErrs
}

func volumeDevices(c *corev1.Container, volumes map[string]corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	mountPaths := sets.New[string]()
	for _, p := range mounts {
		mountPaths.Insert(p)
	}
	paths, names := sets.New[string](), sets.New[string]()
	for i, d := range c.VolumeDevices {
		idxPath := fldPath.Index(i)
		src, found := volumes[d.Name]
		if d.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		}
		if names.Has(d.Name) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), d.Name, "must be unique"))
		}
		if found && src.PersistentVolumeClaim == nil && src.Ephemeral == nil {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), d.Name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"))
		}
		if !found {
			allErrs = append(allErrs, field.NotFound(idxPath.Child("name"), d.Name))
		}
		if d.DevicePath == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("devicePath"), ""))
		}
		if paths.Has(d.DevicePath) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("devicePath"), d.DevicePath, "must be unique"))
		}
		if d.DevicePath != "" && len(pathNoBacksteps(d.DevicePath, idxPath)) > 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("devicePath"), d.DevicePath, "can not contain backsteps ('..')"))
		} else {
			paths.Insert(d.DevicePath)
		}
		if _, ok := mounts[d.Name]; ok {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), d.Name, "must not already exist in volumeMounts"))
		}
		if mountPaths.Has(d.DevicePath) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("devicePath"), d.DevicePath, "must not already exist as a path in volumeMounts"))
		}
		if d.Name != "" {
			names.Insert(d.Name)
		}
	}
	return allErrs
}
