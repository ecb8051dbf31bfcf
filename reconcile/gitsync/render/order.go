package render

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Stage is one step of a staged apply, as Flux's ssa.ApplyAllStaged runs
// them: each stage is applied whole, and the first two are waited for
// (CRDs established, namespaces active, classes present) before the next
// begins, so that custom resources find their definition and namespaced
// objects find their namespace.
type Stage int

const (
	// StageDefinitions: CustomResourceDefinitions (apiextensions.k8s.io),
	// Namespaces (v1) and ClusterRoles (rbac.authorization.k8s.io).
	StageDefinitions Stage = iota
	// StageClasses: every kind whose name ends in "Class" (StorageClass,
	// IngressClass, PriorityClass, GatewayClass, …).
	StageClasses
	// StageResources: everything else.
	StageResources
)

func (s Stage) String() string {
	switch s {
	case StageDefinitions:
		return "definitions"
	case StageClasses:
		return "classes"
	}
	return "resources"
}

// StageOf returns the stage an object is applied in. The tests are Flux's:
// kind and apiVersion for the definitions, the kind's suffix for classes.
func StageOf(u *unstructured.Unstructured) Stage {
	kind, av := u.GetKind(), u.GetAPIVersion()
	switch {
	case strings.EqualFold(kind, "CustomResourceDefinition") && strings.HasPrefix(av, "apiextensions.k8s.io/"),
		strings.EqualFold(kind, "Namespace") && av == "v1",
		strings.EqualFold(kind, "ClusterRole") && strings.HasPrefix(av, "rbac.authorization.k8s.io/"):
		return StageDefinitions
	case strings.HasSuffix(kind, "Class"):
		return StageClasses
	}
	return StageResources
}

// kindOrder is Flux's ssa.ReconcileOrder: kinds listed first go first in
// this order, kinds listed last go last, every other kind sits between
// them, ordered by group then kind.
var (
	kindsFirst = []string{
		"CustomResourceDefinition", "Namespace", "ClusterClass", "RuntimeClass",
		"PriorityClass", "StorageClass", "VolumeSnapshotClass", "IngressClass",
		"GatewayClass", "ResourceQuota", "ServiceAccount", "Role", "ClusterRole",
		"RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret", "Service",
		"LimitRange", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
	}
	kindsLast = []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
)

func kindRank(kind string) int {
	for i, k := range kindsFirst {
		if k == kind {
			return i - len(kindsFirst)
		}
	}
	for i, k := range kindsLast {
		if k == kind {
			return i + 1
		}
	}
	return 0
}

// lessApply is Flux's ssa sort order: kind rank, then group, then kind,
// then namespace, then name, so the order does not depend on the input's.
func lessApply(a, b ObjMetadata) bool {
	if a.Group != b.Group || a.Kind != b.Kind {
		ra, rb := kindRank(a.Kind), kindRank(b.Kind)
		if ra != rb {
			return ra < rb
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Kind < b.Kind
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// Stages splits objects into the three apply stages, each sorted in the
// order Flux applies within a stage. The input slice is not modified.
func Stages(objs []*unstructured.Unstructured) [3][]*unstructured.Unstructured {
	var out [3][]*unstructured.Unstructured
	for _, o := range objs {
		s := StageOf(o)
		out[s] = append(out[s], o)
	}
	for i := range out {
		sortApply(out[i])
	}
	return out
}

// SortForApply returns objects in the order Flux applies them: the stages
// in turn, each in Flux's kind order. The input slice is not modified.
func SortForApply(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	st := Stages(objs)
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, s := range st {
		out = append(out, s...)
	}
	return out
}

func sortApply(objs []*unstructured.Unstructured) {
	sort.SliceStable(objs, func(i, j int) bool {
		return lessApply(MetadataOf(objs[i]), MetadataOf(objs[j]))
	})
}
