package flux

// OpenAPI model names. A CRD's schema is published under its group
// reversed, its version and its kind (io.fluxcd.toolkit.source.v1.
// GitRepository); the types a kind refers to are named the same way, and
// those Flux shares between controllers after their Go package in
// github.com/fluxcd/pkg, so that no two groups claim one name.

const (
	sourceModel       = "io.fluxcd.toolkit.source.v1."
	kustomizeModel    = "io.fluxcd.toolkit.kustomize.v1."
	notificationModel = "io.fluxcd.toolkit.notification.v1."
	metaModel         = "com.github.fluxcd.pkg.apis.meta."
	kustomizeAPIModel = "com.github.fluxcd.pkg.apis.kustomize."
)

func (GitRepository) OpenAPIModelName() string        { return sourceModel + "GitRepository" }
func (GitRepositoryList) OpenAPIModelName() string    { return sourceModel + "GitRepositoryList" }
func (GitRepositorySpec) OpenAPIModelName() string    { return sourceModel + "GitRepositorySpec" }
func (GitRepositoryInclude) OpenAPIModelName() string { return sourceModel + "GitRepositoryInclude" }
func (GitRepositoryRef) OpenAPIModelName() string     { return sourceModel + "GitRepositoryRef" }
func (GitRepositoryVerification) OpenAPIModelName() string {
	return sourceModel + "GitRepositoryVerification"
}
func (GitRepositoryStatus) OpenAPIModelName() string { return sourceModel + "GitRepositoryStatus" }

func (Kustomization) OpenAPIModelName() string       { return kustomizeModel + "Kustomization" }
func (KustomizationList) OpenAPIModelName() string   { return kustomizeModel + "KustomizationList" }
func (KustomizationSpec) OpenAPIModelName() string   { return kustomizeModel + "KustomizationSpec" }
func (CommonMetadata) OpenAPIModelName() string      { return kustomizeModel + "CommonMetadata" }
func (DependencyReference) OpenAPIModelName() string { return kustomizeModel + "DependencyReference" }
func (Decryption) OpenAPIModelName() string          { return kustomizeModel + "Decryption" }
func (PostBuild) OpenAPIModelName() string           { return kustomizeModel + "PostBuild" }
func (SubstituteReference) OpenAPIModelName() string { return kustomizeModel + "SubstituteReference" }
func (CrossNamespaceSourceReference) OpenAPIModelName() string {
	return kustomizeModel + "CrossNamespaceSourceReference"
}
func (DriftIgnoreRule) OpenAPIModelName() string     { return kustomizeModel + "DriftIgnoreRule" }
func (KustomizationStatus) OpenAPIModelName() string { return kustomizeModel + "KustomizationStatus" }
func (ResourceInventory) OpenAPIModelName() string   { return kustomizeModel + "ResourceInventory" }
func (ResourceRef) OpenAPIModelName() string         { return kustomizeModel + "ResourceRef" }

func (Receiver) OpenAPIModelName() string     { return notificationModel + "Receiver" }
func (ReceiverList) OpenAPIModelName() string { return notificationModel + "ReceiverList" }
func (ReceiverSpec) OpenAPIModelName() string { return notificationModel + "ReceiverSpec" }
func (CrossNamespaceObjectReference) OpenAPIModelName() string {
	return notificationModel + "CrossNamespaceObjectReference"
}
func (ReceiverStatus) OpenAPIModelName() string { return notificationModel + "ReceiverStatus" }

func (LocalObjectReference) OpenAPIModelName() string { return metaModel + "LocalObjectReference" }
func (NamespacedObjectKindReference) OpenAPIModelName() string {
	return metaModel + "NamespacedObjectKindReference"
}
func (SecretKeyReference) OpenAPIModelName() string     { return metaModel + "SecretKeyReference" }
func (KubeConfigReference) OpenAPIModelName() string    { return metaModel + "KubeConfigReference" }
func (ReconcileRequestStatus) OpenAPIModelName() string { return metaModel + "ReconcileRequestStatus" }
func (Artifact) OpenAPIModelName() string               { return metaModel + "Artifact" }
func (Snapshot) OpenAPIModelName() string               { return metaModel + "Snapshot" }

func (Image) OpenAPIModelName() string             { return kustomizeAPIModel + "Image" }
func (Selector) OpenAPIModelName() string          { return kustomizeAPIModel + "Selector" }
func (Patch) OpenAPIModelName() string             { return kustomizeAPIModel + "Patch" }
func (CustomHealthCheck) OpenAPIModelName() string { return kustomizeAPIModel + "CustomHealthCheck" }
func (HealthCheckExpressions) OpenAPIModelName() string {
	return kustomizeAPIModel + "HealthCheckExpressions"
}

func (Duration) OpenAPIModelName() string { return metaModel + "Duration" }
