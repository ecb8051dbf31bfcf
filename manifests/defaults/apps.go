package defaults

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Deployment fills the fields of a Deployment that the Kubernetes API
// server defaults: replicas 1, a RollingUpdate strategy with 25% max
// unavailable and 25% max surge, revisionHistoryLimit 10,
// progressDeadlineSeconds 600, and the pod template defaults.
func Deployment(obj *appsv1.Deployment) {
	spec := &obj.Spec
	if spec.Replicas == nil {
		spec.Replicas = ptr.To[int32](1)
	}
	s := &spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("25%"))
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	if spec.ProgressDeadlineSeconds == nil {
		spec.ProgressDeadlineSeconds = ptr.To[int32](600)
	}
	PodTemplateSpec(&spec.Template)
}

// ReplicaSet fills the fields of a ReplicaSet that the Kubernetes API
// server defaults: replicas 1 and the pod template defaults.
func ReplicaSet(obj *appsv1.ReplicaSet) {
	if obj.Spec.Replicas == nil {
		obj.Spec.Replicas = ptr.To[int32](1)
	}
	PodTemplateSpec(&obj.Spec.Template)
}

// StatefulSet fills the fields of a StatefulSet that the Kubernetes API
// server defaults: podManagementPolicy OrderedReady, a RollingUpdate
// strategy with partition 0, persistentVolumeClaimRetentionPolicy
// Retain/Retain, replicas 1, revisionHistoryLimit 10, and the defaults of
// the pod template and of each volumeClaimTemplate.
func StatefulSet(obj *appsv1.StatefulSet) {
	spec := &obj.Spec
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if spec.UpdateStrategy.Type == "" {
		spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if spec.UpdateStrategy.RollingUpdate == nil {
			spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := spec.UpdateStrategy.RollingUpdate; spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ru != nil && ru.Partition == nil {
		ru.Partition = ptr.To[int32](0)
	}
	if spec.PersistentVolumeClaimRetentionPolicy == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted == "" {
		p.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenScaled == "" {
		p.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if spec.Replicas == nil {
		spec.Replicas = ptr.To[int32](1)
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	PodTemplateSpec(&spec.Template)
	for i := range spec.VolumeClaimTemplates {
		persistentVolumeClaim(&spec.VolumeClaimTemplates[i])
	}
}

// DaemonSet fills the fields of a DaemonSet that the Kubernetes API server
// defaults: a RollingUpdate strategy with maxUnavailable 1 and maxSurge 0,
// revisionHistoryLimit 10, and the pod template defaults.
func DaemonSet(obj *appsv1.DaemonSet) {
	spec := &obj.Spec
	s := &spec.UpdateStrategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if s.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	PodTemplateSpec(&spec.Template)
}

// ControllerRevision fills the fields of a ControllerRevision that the
// Kubernetes API server defaults; there are none.
func ControllerRevision(obj *appsv1.ControllerRevision) {}
