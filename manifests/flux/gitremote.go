package flux

import (
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Skiff's built-in git remote serves a bare repository per
// <namespace>/<name> at https://<server>/git/<namespace>/<name>.git and
// deploys it with a GitRepository and a Kustomization of the same name. The
// server makes them on the first push; `kubectl skiff remote add` makes the
// same ones up front. Both build them here, so the two cannot drift apart.
const (
	// GitRemoteLabel marks the GitRepository and Kustomization made for a
	// repository of the built-in remote.
	GitRemoteLabel = "skiff.dev/git-remote"
	// GitRemoteDirKey is the key of kube-system/skiff-cluster that holds
	// the server's directory of bare repositories (absent when the remote
	// is disabled): GitRepositories read them with file:// URLs.
	GitRemoteDirKey = "gitRemoteDir"
	// GitRemoteInterval is the interval of those objects: pushes trigger
	// them at once, the interval only corrects drift.
	GitRemoteInterval = 10 * time.Minute
)

// GitRemotePath is the URL path of a repository of the built-in remote.
func GitRemotePath(namespace, name string) string {
	return "/git/" + namespace + "/" + name + ".git"
}

// GitRemoteRepoDir is a repository's bare directory under the server's
// directory of repositories.
func GitRemoteRepoDir(dir, namespace, name string) string {
	return filepath.Join(dir, namespace, name+".git")
}

// NewGitRemoteObjects returns the GitRepository (following branch) and
// the Kustomization (the whole repository, pruned, into namespace) that
// deploy the built-in remote's repository namespace/name, kept under dir.
func NewGitRemoteObjects(dir, namespace, name, branch string) (*GitRepository, *Kustomization) {
	meta := metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{GitRemoteLabel: "true"}}
	interval := Duration{Duration: GitRemoteInterval, Written: "10m"}
	gr := &GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: SourceGroupVersion.String(), Kind: GitRepositoryKind.Kind},
		ObjectMeta: *meta.DeepCopy(),
		Spec: GitRepositorySpec{
			URL:       "file://" + GitRemoteRepoDir(dir, namespace, name),
			Reference: &GitRepositoryRef{Branch: branch},
			Interval:  interval,
		},
	}
	k := &Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: KustomizeGroupVersion.String(), Kind: KustomizationKind.Kind},
		ObjectMeta: *meta.DeepCopy(),
		Spec: KustomizationSpec{
			SourceRef: CrossNamespaceSourceReference{Kind: GitRepositoryKind.Kind, Name: name},
			Path:      "./",
			Prune:     true,
			Interval:  interval,
			// A push to /git/<ns>/<name>.git deploys into <ns>: manifests
			// without a namespace (the usual case) land there instead of
			// failing as "namespace not specified", as they would on Flux
			// without targetNamespace.
			TargetNamespace: namespace,
		},
	}
	return gr, k
}
