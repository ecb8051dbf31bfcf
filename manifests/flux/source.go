package flux

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GitRepository produces an artifact from a revision of a Git repository.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type GitRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GitRepositorySpec   `json:"spec,omitempty"`
	Status GitRepositoryStatus `json:"status,omitempty"`
}

// GitRepositoryList is a list of GitRepositories.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type GitRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitRepository `json:"items"`
}

// GitRepositorySpec is what to fetch and how often.
type GitRepositorySpec struct {
	URL                string                     `json:"url"`
	SecretRef          *LocalObjectReference      `json:"secretRef,omitempty"`
	Provider           string                     `json:"provider,omitempty"`
	ServiceAccountName string                     `json:"serviceAccountName,omitempty"`
	Interval           Duration                   `json:"interval"`
	Timeout            *Duration                  `json:"timeout,omitempty"`
	Reference          *GitRepositoryRef          `json:"ref,omitempty"`
	Verification       *GitRepositoryVerification `json:"verify,omitempty"`
	ProxySecretRef     *LocalObjectReference      `json:"proxySecretRef,omitempty"`
	Ignore             *string                    `json:"ignore,omitempty"`
	Suspend            bool                       `json:"suspend,omitempty"`
	RecurseSubmodules  bool                       `json:"recurseSubmodules,omitempty"`
	Include            []GitRepositoryInclude     `json:"include,omitempty"`
	SparseCheckout     []string                   `json:"sparseCheckout,omitempty"`
}

// GitRepositoryInclude copies another GitRepository's artifact into this
// one's.
type GitRepositoryInclude struct {
	GitRepositoryRef LocalObjectReference `json:"repository"`
	FromPath         string               `json:"fromPath,omitempty"`
	ToPath           string               `json:"toPath,omitempty"`
}

// GitRepositoryRef is the Git reference to check out.
type GitRepositoryRef struct {
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	SemVer string `json:"semver,omitempty"`
	Name   string `json:"name,omitempty"`
	Commit string `json:"commit,omitempty"`
}

// GitRepositoryVerification is how commit signatures are verified.
type GitRepositoryVerification struct {
	Mode      string               `json:"mode,omitempty"`
	SecretRef LocalObjectReference `json:"secretRef"`
}

// GitRepositoryStatus is what the source controller observed.
type GitRepositoryStatus struct {
	ObservedGeneration        int64                  `json:"observedGeneration,omitempty"`
	Conditions                []metav1.Condition     `json:"conditions,omitempty"`
	Artifact                  *Artifact              `json:"artifact,omitempty"`
	IncludedArtifacts         []*Artifact            `json:"includedArtifacts,omitempty"`
	ObservedIgnore            *string                `json:"observedIgnore,omitempty"`
	ObservedRecurseSubmodules bool                   `json:"observedRecurseSubmodules,omitempty"`
	ObservedInclude           []GitRepositoryInclude `json:"observedInclude,omitempty"`
	ObservedSparseCheckout    []string               `json:"observedSparseCheckout,omitempty"`
	SourceVerificationMode    *string                `json:"sourceVerificationMode,omitempty"`
	ReconcileRequestStatus    `json:",inline"`
}
