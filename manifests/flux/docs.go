package flux

// Field descriptions, published in the OpenAPI documents and printed by
// `kubectl explain`, in the form k8s.io/api generates them (SwaggerDoc,
// keyed by JSON name, "" for the type itself). They say what Flux's API
// documentation says each field means.

const intervalFormat = " Written as a Go duration of ms, s, m and h units, for example \"1m30s\"."

func (GitRepository) SwaggerDoc() map[string]string {
	return map[string]string{
		"":         "GitRepository produces an artifact, the files of one revision of a Git repository, for Kustomizations to apply (source.toolkit.fluxcd.io/v1, as in Flux).",
		"metadata": "Standard object's metadata.",
		"spec":     "What to fetch and how often.",
		"status":   "What the source controller last observed.",
	}
}

func (GitRepositoryList) SwaggerDoc() map[string]string {
	return map[string]string{
		"":         "GitRepositoryList is a list of GitRepositories.",
		"metadata": "Standard list metadata.",
		"items":    "The GitRepositories.",
	}
}

func (GitRepositorySpec) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                   "GitRepositorySpec says which repository to fetch, which reference of it, and how often.",
		"url":                "URL of the Git repository: http://, https:// or ssh://. Skiff also accepts file:// naming a local repository or plain folder (Flux does not).",
		"secretRef":          "SecretRef names the Secret holding the credentials: 'username' and 'password' for basic auth or 'bearerToken' for token auth over HTTPS; 'identity' and 'known_hosts' for SSH.",
		"provider":           "Provider used for authentication: 'generic' (the default, credentials from secretRef), 'aws', 'azure' or 'github'.",
		"serviceAccountName": "ServiceAccountName is the ServiceAccount used to authenticate to the repository; only with the 'azure' and 'aws' providers.",
		"interval":           "Interval at which the URL is checked for new revisions, approximately (it may be jittered)." + intervalFormat,
		"timeout":            "Timeout of Git operations such as cloning; defaults to 60s. Written as a Go duration of ms, s and m units.",
		"ref":                "Ref is the Git reference to check out and watch; without it, the 'master' branch.",
		"verify":             "Verify configures the verification of the commit's signature.",
		"proxySecretRef":     "ProxySecretRef names the Secret with the proxy to use to reach the Git server.",
		"ignore":             "Ignore replaces the default exclusion patterns, in .sourceignore (.gitignore) format.",
		"suspend":            "Suspend stops the reconciliation of this GitRepository.",
		"recurseSubmodules":  "RecurseSubmodules initialises the repository's submodules after the clone.",
		"include":            "Include lists GitRepositories whose artifacts are copied into this one's.",
		"sparseCheckout":     "SparseCheckout lists the directories to check out; only they go into the artifact.",
	}
}

func (GitRepositoryInclude) SwaggerDoc() map[string]string {
	return map[string]string{
		"":           "GitRepositoryInclude copies (part of) another GitRepository's artifact into this one's.",
		"repository": "Repository names the GitRepository to include, in the same namespace.",
		"fromPath":   "FromPath is the path to copy from, by default the artifact's root.",
		"toPath":     "ToPath is the path to copy to, by default the included GitRepository's name.",
	}
}

func (GitRepositoryRef) SwaggerDoc() map[string]string {
	return map[string]string{
		"":       "GitRepositoryRef is the Git reference to check out. Precedence: commit, then name, then semver, then tag, then branch.",
		"branch": "Branch to check out; 'master' when no other field is set.",
		"tag":    "Tag to check out; takes precedence over branch.",
		"semver": "SemVer range of tags to check out the highest of; takes precedence over tag.",
		"name":   "Name of the reference to check out, such as \"refs/heads/main\" or \"refs/pull/420/head\"; takes precedence over branch, tag and semver.",
		"commit": "Commit SHA to check out; takes precedence over every other field. With branch, the branch is cloned shallow and must contain the commit.",
	}
}

func (GitRepositoryVerification) SwaggerDoc() map[string]string {
	return map[string]string{
		"":          "GitRepositoryVerification is how commit and tag signatures are verified.",
		"mode":      "Mode says which objects are verified: 'HEAD' (the default; 'head' is the same), 'Tag' or 'TagAndHEAD'.",
		"secretRef": "SecretRef names the Secret with the trusted public keys: PGP keys under keys ending in .asc, SSH keys under keys ending in .sshpub.",
	}
}

func (GitRepositoryStatus) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                          "GitRepositoryStatus is what the source controller last observed.",
		"observedGeneration":        "ObservedGeneration is the metadata.generation last reconciled.",
		"conditions":                "Conditions: Ready, Reconciling, Stalled, FetchFailed, ArtifactInStorage, …",
		"artifact":                  "Artifact is the output of the last successful reconciliation.",
		"includedArtifacts":         "IncludedArtifacts are the artifacts last included as spec.include asks.",
		"observedIgnore":            "ObservedIgnore is the ignore patterns the artifact was built with.",
		"observedRecurseSubmodules": "ObservedRecurseSubmodules is the submodule setting the artifact was built with.",
		"observedInclude":           "ObservedInclude is the include list the artifact was built with.",
		"observedSparseCheckout":    "ObservedSparseCheckout is the sparse checkout the artifact was built with.",
		"sourceVerificationMode":    "SourceVerificationMode is the verification mode last used.",
	}
}

func (Kustomization) SwaggerDoc() map[string]string {
	return map[string]string{
		"":         "Kustomization builds the manifests at a path of a source's artifact, with kustomize or as plain YAML, and applies them (kustomize.toolkit.fluxcd.io/v1, as in Flux).",
		"metadata": "Standard object's metadata.",
		"spec":     "What to build from which source, and how to apply it.",
		"status":   "What the kustomize controller last observed and applied.",
	}
}

func (KustomizationList) SwaggerDoc() map[string]string {
	return map[string]string{
		"":         "KustomizationList is a list of Kustomizations.",
		"metadata": "Standard list metadata.",
		"items":    "The Kustomizations.",
	}
}

func (KustomizationSpec) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                        "KustomizationSpec says what to build from which source, and how to apply it.",
		"commonMetadata":          "CommonMetadata is labels and annotations set on every applied object, replacing any of the same key.",
		"dependsOn":               "DependsOn lists Kustomizations that must be ready before this one is reconciled.",
		"decryption":              "Decryption decrypts Secrets before they are applied.",
		"interval":                "Interval at which the Kustomization is reconciled, approximately (it may be jittered)." + intervalFormat,
		"retryInterval":           "RetryInterval at which a failed reconciliation is retried; by default the interval." + intervalFormat,
		"kubeConfig":              "KubeConfig to reconcile the Kustomization on a remote cluster.",
		"path":                    "Path to the directory holding the kustomization.yaml, or the plain YAML files, within the source; by default its root.",
		"postBuild":               "PostBuild is variable substitution over the built manifests.",
		"prune":                   "Prune deletes the objects this Kustomization applied once they leave the source.",
		"deletionPolicy":          "DeletionPolicy says what happens to the applied objects when the Kustomization is deleted: 'MirrorPrune' (the default: delete them if prune is true), 'Delete', 'WaitForTermination' or 'Orphan'.",
		"healthChecks":            "HealthChecks lists objects whose health makes the Kustomization ready.",
		"namePrefix":              "NamePrefix is prepended to the name of every applied object.",
		"nameSuffix":              "NameSuffix is appended to the name of every applied object.",
		"patches":                 "Patches are strategic merge or JSON 6902 patches, inline, applied to the objects their target selects.",
		"images":                  "Images replaces image names, tags or digests.",
		"serviceAccountName":      "ServiceAccountName is the ServiceAccount to impersonate when applying.",
		"sourceRef":               "SourceRef names the source whose artifact holds the manifests.",
		"suspend":                 "Suspend stops later reconciliations; one already running finishes.",
		"targetNamespace":         "TargetNamespace sets the namespace of every namespaced object.",
		"timeout":                 "Timeout of the build, apply and health-check steps; by default the interval." + intervalFormat,
		"force":                   "Force recreates objects whose update fails on an immutable field.",
		"wait":                    "Wait makes the Kustomization ready only once every applied object is healthy; healthChecks are then ignored.",
		"components":              "Components lists the paths of kustomize Components to include.",
		"ignoreMissingComponents": "IgnoreMissingComponents drops component paths that do not exist instead of failing.",
		"healthCheckExprs":        "HealthCheckExprs judges the health of custom resources with CEL expressions, when wait or healthChecks are set.",
		"driftIgnoreRules":        "DriftIgnoreRules lists JSON pointers that drift detection and apply leave alone.",
	}
}

func (CommonMetadata) SwaggerDoc() map[string]string {
	return map[string]string{
		"":            "CommonMetadata is set on every applied object.",
		"annotations": "Annotations added to every applied object.",
		"labels":      "Labels added to every applied object.",
	}
}

func (DependencyReference) SwaggerDoc() map[string]string {
	return map[string]string{
		"":          "DependencyReference names a Kustomization that must be ready first.",
		"name":      "Name of the Kustomization.",
		"namespace": "Namespace of the Kustomization; by default this one's.",
		"readyExpr": "ReadyExpr is a CEL expression that decides whether the dependency is ready, instead of its Ready condition.",
	}
}

func (Decryption) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                   "Decryption is how encrypted Secrets are decrypted before they are applied.",
		"provider":           "Provider is the decryption engine: 'sops'.",
		"serviceAccountName": "ServiceAccountName authenticates to cloud KMS services; a static credential in secretRef takes priority.",
		"secretRef":          "SecretRef names the Secret holding the decryption keys.",
	}
}

func (PostBuild) SwaggerDoc() map[string]string {
	return map[string]string{
		"":               "PostBuild substitutes ${var} references in the built manifests.",
		"substitute":     "Substitute maps variable names to values; bash forms such as ${var:=default} are understood.",
		"substituteFrom": "SubstituteFrom lists ConfigMaps and Secrets whose data keys are variable names.",
	}
}

func (SubstituteReference) SwaggerDoc() map[string]string {
	return map[string]string{
		"":         "SubstituteReference names a ConfigMap or Secret holding variables.",
		"kind":     "Kind of the object: 'Secret' or 'ConfigMap'.",
		"name":     "Name of the object, in the Kustomization's namespace.",
		"optional": "Optional tolerates a missing object, as if it were empty.",
	}
}

func (CrossNamespaceSourceReference) SwaggerDoc() map[string]string {
	return map[string]string{
		"":           "CrossNamespaceSourceReference names the source of a Kustomization.",
		"apiVersion": "API version of the source.",
		"kind":       "Kind of the source: 'GitRepository', 'OCIRepository', 'Bucket' or 'ExternalArtifact'.",
		"name":       "Name of the source.",
		"namespace":  "Namespace of the source; by default the Kustomization's.",
	}
}

func (DriftIgnoreRule) SwaggerDoc() map[string]string {
	return map[string]string{
		"":       "DriftIgnoreRule names fields that drift detection and apply leave alone.",
		"paths":  "Paths are JSON pointers (RFC 6901) into the objects.",
		"target": "Target selects the objects the rule applies to; by default all.",
	}
}

func (KustomizationStatus) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                          "KustomizationStatus is what the kustomize controller last observed and applied.",
		"observedGeneration":        "ObservedGeneration is the metadata.generation last reconciled.",
		"conditions":                "Conditions: Ready, Reconciling, Stalled, Healthy.",
		"lastAppliedRevision":       "LastAppliedRevision is the revision of the source artifact last applied successfully, such as 'main@sha1:<hex>'.",
		"lastAppliedOriginRevision": "LastAppliedOriginRevision is the origin revision of the artifact last applied successfully.",
		"lastAttemptedRevision":     "LastAttemptedRevision is the revision of the last attempt, successful or not.",
		"inventory":                 "Inventory lists the objects applied successfully.",
		"history":                   "History keeps snapshots of the last reconciliations: revision digest, result and duration.",
	}
}

func (ResourceInventory) SwaggerDoc() map[string]string {
	return map[string]string{
		"":        "ResourceInventory lists the objects a Kustomization applied.",
		"entries": "Entries, one per object.",
	}
}

func (ResourceRef) SwaggerDoc() map[string]string {
	return map[string]string{
		"":   "ResourceRef locates one applied object.",
		"id": "ID of the object: '<namespace>_<name>_<group>_<kind>'.",
		"v":  "Version of the object's API.",
	}
}

func (Receiver) SwaggerDoc() map[string]string {
	return map[string]string{
		"":         "Receiver accepts webhook calls and asks its resources to reconcile (notification.toolkit.fluxcd.io/v1, as in Flux).",
		"metadata": "Standard object's metadata.",
		"spec":     "Which webhooks to accept and what they trigger.",
		"status":   "What the notification controller last observed.",
	}
}

func (ReceiverList) SwaggerDoc() map[string]string {
	return map[string]string{
		"":         "ReceiverList is a list of Receivers.",
		"metadata": "Standard list metadata.",
		"items":    "The Receivers.",
	}
}

func (ReceiverSpec) SwaggerDoc() map[string]string {
	return map[string]string{
		"":               "ReceiverSpec says which webhooks to accept and what they trigger.",
		"type":           "Type of the webhook sender, which decides how a call is authenticated and read: generic, generic-hmac, github, gitlab, bitbucket, harbor, dockerhub, quay, gcr, nexus, acr or cdevents.",
		"interval":       "Interval at which the Receiver is reconciled with its Secret; defaults to 10m." + intervalFormat,
		"events":         "Events lists the event types to act on, such as 'push' for GitHub or 'Push Hook' for GitLab; empty means all.",
		"resources":      "Resources lists the objects asked to reconcile when a call is accepted.",
		"resourceFilter": "ResourceFilter is a CEL expression, evaluated per resource, that must return true for the resource to be asked to reconcile.",
		"secretRef":      "SecretRef names the Secret whose 'token' key authenticates calls.",
		"suspend":        "Suspend stops handling calls.",
	}
}

func (CrossNamespaceObjectReference) SwaggerDoc() map[string]string {
	return map[string]string{
		"":            "CrossNamespaceObjectReference names the objects a webhook call triggers.",
		"apiVersion":  "API version of the objects.",
		"kind":        "Kind of the objects, such as GitRepository or Kustomization.",
		"name":        "Name of the object, or '*' for all those matchLabels selects.",
		"namespace":   "Namespace of the objects; by default the Receiver's.",
		"matchLabels": "MatchLabels selects the objects by label; name must then be '*'.",
	}
}

func (ReceiverStatus) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                   "ReceiverStatus is what the notification controller last observed.",
		"conditions":         "Conditions: Ready, Reconciling, Stalled.",
		"webhookPath":        "WebhookPath is the path the Receiver answers on: '/hook/' and the SHA-256 of token, name and namespace.",
		"observedGeneration": "ObservedGeneration is the metadata.generation last reconciled.",
	}
}

func (LocalObjectReference) SwaggerDoc() map[string]string {
	return map[string]string{
		"":     "LocalObjectReference names an object in the referring object's namespace.",
		"name": "Name of the referent.",
	}
}

func (NamespacedObjectKindReference) SwaggerDoc() map[string]string {
	return map[string]string{
		"":           "NamespacedObjectKindReference locates a typed object in any namespace.",
		"apiVersion": "API version of the referent; by default the preferred version of its kind.",
		"kind":       "Kind of the referent.",
		"name":       "Name of the referent.",
		"namespace":  "Namespace of the referent; by default the referring object's.",
	}
}

func (SecretKeyReference) SwaggerDoc() map[string]string {
	return map[string]string{
		"":     "SecretKeyReference names one key of a Secret in the referring object's namespace.",
		"name": "Name of the Secret.",
		"key":  "Key in the Secret.",
	}
}

func (KubeConfigReference) SwaggerDoc() map[string]string {
	return map[string]string{
		"":             "KubeConfigReference locates the kubeconfig of a remote cluster.",
		"secretRef":    "SecretRef names the Secret key holding a kubeconfig file ('value' or 'value.yaml' by default).",
		"configMapRef": "ConfigMapRef names a ConfigMap describing the remote cluster for secret-less authentication.",
	}
}

func (Artifact) SwaggerDoc() map[string]string {
	return map[string]string{
		"":               "Artifact is the output of a source reconciliation: a tarball served over HTTP.",
		"path":           "Path of the artifact, relative to the controller's storage.",
		"url":            "URL the artifact is served at.",
		"revision":       "Revision of the source it was made from, such as 'main@sha1:<hex>'.",
		"digest":         "Digest of the file, '<algorithm>:<checksum>'.",
		"lastUpdateTime": "LastUpdateTime is when the artifact last changed.",
		"size":           "Size of the file in bytes.",
		"metadata":       "Metadata from upstream, such as OCI annotations.",
	}
}

func (Snapshot) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                       "Snapshot records the reconciliations of one set of objects.",
		"digest":                 "Digest of the objects, '<algorithm>:<hex>'.",
		"firstReconciled":        "FirstReconciled is when this set was first applied.",
		"lastReconciled":         "LastReconciled is when this set was last applied.",
		"lastReconciledDuration": "LastReconciledDuration is how long the last reconciliation took.",
		"lastReconciledStatus":   "LastReconciledStatus is the result of the last reconciliation.",
		"totalReconciliations":   "TotalReconciliations counts the reconciliations of this set.",
		"metadata":               "Metadata added by the controller, such as the revision.",
	}
}

func (Image) SwaggerDoc() map[string]string {
	return map[string]string{
		"":        "Image replaces an image's name, tag or digest.",
		"name":    "Name is the image name, without a tag, to match.",
		"newName": "NewName replaces the name.",
		"newTag":  "NewTag replaces the tag.",
		"digest":  "Digest replaces the tag; newTag is then ignored.",
	}
}

func (Selector) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                   "Selector selects objects; an object must match every field set.",
		"group":              "Group of the objects' API.",
		"version":            "Version of the objects' API.",
		"kind":               "Kind of the objects.",
		"namespace":          "Namespace of the objects.",
		"name":               "Name of the objects.",
		"annotationSelector": "AnnotationSelector is a label-selector expression matched against annotations.",
		"labelSelector":      "LabelSelector is a label-selector expression.",
	}
}

func (Patch) SwaggerDoc() map[string]string {
	return map[string]string{
		"":       "Patch is a strategic merge or JSON 6902 patch and the objects it applies to.",
		"patch":  "Patch is the patch document, inline YAML or JSON.",
		"target": "Target selects the objects to patch.",
	}
}

func (CustomHealthCheck) SwaggerDoc() map[string]string {
	return map[string]string{
		"":           "CustomHealthCheck judges the health of one kind of custom resource with CEL expressions.",
		"apiVersion": "API version of the custom resource.",
		"kind":       "Kind of the custom resource.",
	}
}

func (HealthCheckExpressions) SwaggerDoc() map[string]string {
	return map[string]string{
		"":           "HealthCheckExpressions are CEL expressions over the object.",
		"inProgress": "InProgress is true while the object is still progressing.",
		"failed":     "Failed is true when the object has failed.",
		"current":    "Current is true when the object is healthy.",
	}
}

func (ReconcileRequestStatus) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                       "ReconcileRequestStatus records the handling of reconcile requests.",
		"lastHandledReconcileAt": "LastHandledReconcileAt is the last value of the reconcile.fluxcd.io/requestedAt annotation acted upon.",
	}
}
