package flux

//go:generate go run k8s.io/code-generator/cmd/deepcopy-gen@v0.37.2 --go-header-file /dev/null --output-file zz_generated.deepcopy.go .

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The group versions of the three Flux APIs.
var (
	SourceGroupVersion       = schema.GroupVersion{Group: "source.toolkit.fluxcd.io", Version: "v1"}
	KustomizeGroupVersion    = schema.GroupVersion{Group: "kustomize.toolkit.fluxcd.io", Version: "v1"}
	NotificationGroupVersion = schema.GroupVersion{Group: "notification.toolkit.fluxcd.io", Version: "v1"}
)

// Kinds, as the scheme knows them.
var (
	GitRepositoryKind = SourceGroupVersion.WithKind("GitRepository")
	KustomizationKind = KustomizeGroupVersion.WithKind("Kustomization")
	ReceiverKind      = NotificationGroupVersion.WithKind("Receiver")
)

// AddToScheme registers the three kinds and their lists, each in its own
// group version, with the meta/v1 options and watch events every group
// carries.
func AddToScheme(s *runtime.Scheme) error {
	for gv, objs := range map[schema.GroupVersion][]runtime.Object{
		SourceGroupVersion:       {&GitRepository{}, &GitRepositoryList{}},
		KustomizeGroupVersion:    {&Kustomization{}, &KustomizationList{}},
		NotificationGroupVersion: {&Receiver{}, &ReceiverList{}},
	} {
		s.AddKnownTypes(gv, objs...)
		metav1.AddToGroupVersion(s, gv)
	}
	for _, gvk := range []schema.GroupVersionKind{GitRepositoryKind, KustomizationKind, ReceiverKind} {
		if !s.Recognizes(gvk) {
			return fmt.Errorf("flux: %s not registered", gvk)
		}
	}
	return nil
}
