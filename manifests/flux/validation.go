package flux

import (
	"fmt"
	"regexp"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validation does what the API server does with Flux's CRD schemas:
// required fields, patterns, enums, lengths and the CEL rules, reported
// with the CRDs' field paths and in the words the API server uses for
// schema errors, so that `kubectl apply` of an invalid object fails with a
// 422 naming the field. Metadata is validated as for any custom resource
// (names are DNS subdomains). Status is validated on every write, as the
// schema covers it: a status update carrying a malformed condition is
// refused too.

// Patterns from the CRDs. A duration Go cannot parse is refused while
// decoding (400); one Go parses but the pattern refuses ("-1m", "5us") is
// refused here (422), as the CRD would.
const (
	urlPattern    = `^(http|https|ssh)://.*$`
	digestPattern = `^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`
)

var (
	// urlRE is Flux's URL pattern plus file://, a Skiff extension.
	urlRE      = regexp.MustCompile(`^(http|https|ssh|file)://.*$`)
	digestRE   = regexp.MustCompile(digestPattern)
	intervalRE = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`)
	timeoutRE  = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m))+$`)
)

// Enums from the CRDs.
var (
	gitProviders       = []string{"generic", "aws", "azure", "github"}
	verificationModes  = []string{"head", "HEAD", "Tag", "TagAndHEAD"}
	sourceKinds        = []string{"OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"}
	deletionPolicies   = []string{"MirrorPrune", "Delete", "WaitForTermination", "Orphan"}
	decryptionProvider = []string{"sops"}
	substituteKinds    = []string{"Secret", "ConfigMap"}
	receiverTypes      = []string{"generic", "generic-hmac", "github", "gitlab", "bitbucket", "harbor", "dockerhub", "quay", "gcr", "nexus", "acr", "cdevents"}
	receiverKinds      = []string{"Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart", "HelmRepository",
		"ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "OCIRepository", "ArtifactGenerator", "ExternalArtifact"}
)

// ValidateGitRepository checks a new GitRepository.
func ValidateGitRepository(obj *GitRepository) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta)
	allErrs = append(allErrs, gitRepositorySpec(&obj.Spec, field.NewPath("spec"))...)
	return append(allErrs, gitRepositoryStatus(&obj.Status, field.NewPath("status"))...)
}

// ValidateGitRepositoryUpdate checks a change to a GitRepository.
func ValidateGitRepositoryUpdate(obj, old *GitRepository) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	allErrs = append(allErrs, gitRepositorySpec(&obj.Spec, field.NewPath("spec"))...)
	return append(allErrs, gitRepositoryStatus(&obj.Status, field.NewPath("status"))...)
}

// ValidateKustomization checks a new Kustomization.
func ValidateKustomization(obj *Kustomization) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta)
	allErrs = append(allErrs, kustomizationSpec(&obj.Spec, field.NewPath("spec"))...)
	return append(allErrs, kustomizationStatus(&obj.Status, field.NewPath("status"))...)
}

// ValidateKustomizationUpdate checks a change to a Kustomization.
func ValidateKustomizationUpdate(obj, old *Kustomization) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	allErrs = append(allErrs, kustomizationSpec(&obj.Spec, field.NewPath("spec"))...)
	return append(allErrs, kustomizationStatus(&obj.Status, field.NewPath("status"))...)
}

// ValidateReceiver checks a new Receiver.
func ValidateReceiver(obj *Receiver) field.ErrorList {
	allErrs := objectMeta(&obj.ObjectMeta)
	allErrs = append(allErrs, receiverSpec(&obj.Spec, field.NewPath("spec"))...)
	return append(allErrs, receiverStatus(&obj.Status, field.NewPath("status"))...)
}

// ValidateReceiverUpdate checks a change to a Receiver.
func ValidateReceiverUpdate(obj, old *Receiver) field.ErrorList {
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	allErrs = append(allErrs, receiverSpec(&obj.Spec, field.NewPath("spec"))...)
	return append(allErrs, receiverStatus(&obj.Status, field.NewPath("status"))...)
}

func objectMeta(m *metav1.ObjectMeta) field.ErrorList {
	return apivalidation.ValidateObjectMeta(m, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
}

func objectMetaUpdate(m, old *metav1.ObjectMeta) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(m, old, field.NewPath("metadata"))
}

func gitRepositorySpec(spec *GitRepositorySpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case spec.URL == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("url"), ""))
	case !urlRE.MatchString(spec.URL):
		allErrs = append(allErrs, field.Invalid(fldPath.Child("url"), spec.URL,
			fmt.Sprintf("should match '%s' (Skiff also accepts file://)", urlPattern)))
	}
	allErrs = append(allErrs, optionalLocalRef(spec.SecretRef, fldPath.Child("secretRef"))...)
	allErrs = append(allErrs, enum(spec.Provider, gitProviders, fldPath.Child("provider"))...)
	if spec.ServiceAccountName != "" && spec.Provider != "azure" && spec.Provider != "aws" {
		// A CEL rule on the spec; the API server reports those against
		// the object that carries the rule.
		allErrs = append(allErrs, field.Invalid(fldPath, "object", "serviceAccountName can only be set when provider is 'azure' or 'aws'"))
	}
	allErrs = append(allErrs, requiredDuration(spec.Interval, intervalRE, fldPath.Child("interval"))...)
	allErrs = append(allErrs, optionalDuration(spec.Timeout, timeoutRE, fldPath.Child("timeout"))...)
	if v := spec.Verification; v != nil {
		allErrs = append(allErrs, enum(v.Mode, verificationModes, fldPath.Child("verify", "mode"))...)
		allErrs = append(allErrs, localRef(v.SecretRef, fldPath.Child("verify", "secretRef"))...)
	}
	allErrs = append(allErrs, optionalLocalRef(spec.ProxySecretRef, fldPath.Child("proxySecretRef"))...)
	for i := range spec.Include {
		allErrs = append(allErrs, localRef(spec.Include[i].GitRepositoryRef, fldPath.Child("include").Index(i).Child("repository"))...)
	}
	return allErrs
}

func gitRepositoryStatus(st *GitRepositoryStatus, fldPath *field.Path) field.ErrorList {
	allErrs := metav1validation.ValidateConditions(st.Conditions, fldPath.Child("conditions"))
	if st.Artifact != nil {
		allErrs = append(allErrs, artifact(st.Artifact, fldPath.Child("artifact"))...)
	}
	for i, a := range st.IncludedArtifacts {
		if a != nil {
			allErrs = append(allErrs, artifact(a, fldPath.Child("includedArtifacts").Index(i))...)
		}
	}
	if m := st.SourceVerificationMode; m != nil {
		allErrs = append(allErrs, enum(*m, verificationModes, fldPath.Child("sourceVerificationMode"))...)
	}
	return allErrs
}

func artifact(a *Artifact, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for name, v := range map[string]string{"path": a.Path, "url": a.URL, "revision": a.Revision} {
		if v == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child(name), ""))
		}
	}
	if a.LastUpdateTime.IsZero() {
		allErrs = append(allErrs, field.Required(fldPath.Child("lastUpdateTime"), ""))
	}
	if a.Digest != "" && !digestRE.MatchString(a.Digest) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("digest"), a.Digest, fmt.Sprintf("should match '%s'", digestPattern)))
	}
	// The map ranged above is unordered; report in field order.
	sortErrors(allErrs)
	return allErrs
}

func kustomizationSpec(spec *KustomizationSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, d := range spec.DependsOn {
		if d.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("dependsOn").Index(i).Child("name"), ""))
		}
	}
	if d := spec.Decryption; d != nil {
		p := fldPath.Child("decryption")
		if d.Provider == "" {
			allErrs = append(allErrs, field.Required(p.Child("provider"), ""))
		} else {
			allErrs = append(allErrs, enum(d.Provider, decryptionProvider, p.Child("provider"))...)
		}
		allErrs = append(allErrs, optionalLocalRef(d.SecretRef, p.Child("secretRef"))...)
	}
	allErrs = append(allErrs, requiredDuration(spec.Interval, intervalRE, fldPath.Child("interval"))...)
	allErrs = append(allErrs, optionalDuration(spec.RetryInterval, intervalRE, fldPath.Child("retryInterval"))...)
	if k := spec.KubeConfig; k != nil {
		p := fldPath.Child("kubeConfig")
		if k.SecretRef != nil && k.SecretRef.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("secretRef", "name"), ""))
		}
		allErrs = append(allErrs, optionalLocalRef(k.ConfigMapRef, p.Child("configMapRef"))...)
	}
	if pb := spec.PostBuild; pb != nil {
		for i, s := range pb.SubstituteFrom {
			p := fldPath.Child("postBuild", "substituteFrom").Index(i)
			if s.Kind == "" {
				allErrs = append(allErrs, field.Required(p.Child("kind"), ""))
			} else {
				allErrs = append(allErrs, enum(s.Kind, substituteKinds, p.Child("kind"))...)
			}
			allErrs = append(allErrs, requiredLength(s.Name, 253, p.Child("name"))...)
		}
	}
	allErrs = append(allErrs, enum(spec.DeletionPolicy, deletionPolicies, fldPath.Child("deletionPolicy"))...)
	for i, h := range spec.HealthChecks {
		p := fldPath.Child("healthChecks").Index(i)
		if h.Kind == "" {
			allErrs = append(allErrs, field.Required(p.Child("kind"), ""))
		}
		if h.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		}
	}
	allErrs = append(allErrs, maxLength(spec.NamePrefix, 200, fldPath.Child("namePrefix"))...)
	allErrs = append(allErrs, maxLength(spec.NameSuffix, 200, fldPath.Child("nameSuffix"))...)
	for i, p := range spec.Patches {
		if p.Patch == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("patches").Index(i).Child("patch"), ""))
		}
	}
	for i, im := range spec.Images {
		if im.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("images").Index(i).Child("name"), ""))
		}
	}
	src := fldPath.Child("sourceRef")
	if spec.SourceRef.Kind == "" {
		allErrs = append(allErrs, field.Required(src.Child("kind"), ""))
	} else {
		allErrs = append(allErrs, enum(spec.SourceRef.Kind, sourceKinds, src.Child("kind"))...)
	}
	if spec.SourceRef.Name == "" {
		allErrs = append(allErrs, field.Required(src.Child("name"), ""))
	}
	allErrs = append(allErrs, maxLength(spec.TargetNamespace, 63, fldPath.Child("targetNamespace"))...)
	allErrs = append(allErrs, optionalDuration(spec.Timeout, intervalRE, fldPath.Child("timeout"))...)
	for i, h := range spec.HealthCheckExprs {
		p := fldPath.Child("healthCheckExprs").Index(i)
		for name, v := range map[string]string{"apiVersion": h.APIVersion, "kind": h.Kind, "current": h.Current} {
			if v == "" {
				allErrs = append(allErrs, field.Required(p.Child(name), ""))
			}
		}
	}
	for i, r := range spec.DriftIgnoreRules {
		if r.Paths == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("driftIgnoreRules").Index(i).Child("paths"), ""))
		}
	}
	sortErrors(allErrs)
	return allErrs
}

func kustomizationStatus(st *KustomizationStatus, fldPath *field.Path) field.ErrorList {
	allErrs := metav1validation.ValidateConditions(st.Conditions, fldPath.Child("conditions"))
	for i, s := range st.History {
		allErrs = append(allErrs, optionalDuration(&s.LastReconciledDuration, intervalRE, fldPath.Child("history").Index(i).Child("lastReconciledDuration"))...)
	}
	return allErrs
}

func receiverSpec(spec *ReceiverSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Type == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), ""))
	} else {
		allErrs = append(allErrs, enum(spec.Type, receiverTypes, fldPath.Child("type"))...)
	}
	allErrs = append(allErrs, optionalDuration(spec.Interval, intervalRE, fldPath.Child("interval"))...)
	if spec.Resources == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("resources"), ""))
	}
	for i, r := range spec.Resources {
		p := fldPath.Child("resources").Index(i)
		if r.Kind == "" {
			allErrs = append(allErrs, field.Required(p.Child("kind"), ""))
		} else {
			allErrs = append(allErrs, enum(r.Kind, receiverKinds, p.Child("kind"))...)
		}
		allErrs = append(allErrs, requiredLength(r.Name, 253, p.Child("name"))...)
		allErrs = append(allErrs, maxLength(r.Namespace, 253, p.Child("namespace"))...)
	}
	allErrs = append(allErrs, localRef(spec.SecretRef, fldPath.Child("secretRef"))...)
	return allErrs
}

func receiverStatus(st *ReceiverStatus, fldPath *field.Path) field.ErrorList {
	return metav1validation.ValidateConditions(st.Conditions, fldPath.Child("conditions"))
}

// enum refuses a set value outside the allowed ones; an empty value is an
// unset optional field.
func enum(v string, allowed []string, fldPath *field.Path) field.ErrorList {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(fldPath, v, allowed)}
}

func localRef(ref LocalObjectReference, fldPath *field.Path) field.ErrorList {
	if ref.Name == "" {
		return field.ErrorList{field.Required(fldPath.Child("name"), "")}
	}
	return nil
}

func optionalLocalRef(ref *LocalObjectReference, fldPath *field.Path) field.ErrorList {
	if ref == nil {
		return nil
	}
	return localRef(*ref, fldPath)
}

// requiredLength checks a required string of at most max bytes.
func requiredLength(v string, max int, fldPath *field.Path) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return maxLength(v, max, fldPath)
}

func maxLength(v string, max int, fldPath *field.Path) field.ErrorList {
	if len(v) > max {
		return field.ErrorList{field.TooLong(fldPath, v, max)}
	}
	return nil
}

// requiredDuration checks a required duration.
func requiredDuration(d Duration, pattern *regexp.Regexp, fldPath *field.Path) field.ErrorList {
	if d.Written == "" && d.Duration == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return optionalDuration(&d, pattern, fldPath)
}

// optionalDuration checks a duration against the CRD's pattern: the text
// as written, or, for one made in Go, that it is not negative (Go's
// spelling of a valid value may differ from the pattern's, "1h0m0s" for a
// timeout of "60m").
func optionalDuration(d *Duration, pattern *regexp.Regexp, fldPath *field.Path) field.ErrorList {
	switch {
	case d == nil:
		return nil
	case d.Written != "" && !pattern.MatchString(d.Written), d.Written == "" && d.Duration < 0:
		return field.ErrorList{field.Invalid(fldPath, d.String(), fmt.Sprintf("should match '%s'", pattern))}
	}
	return nil
}

// sortErrors orders errors by field path, for errors gathered from maps.
func sortErrors(errs field.ErrorList) {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && errs[j].Field < errs[j-1].Field; j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}
