package flux

import "time"

// The defaults Flux's CRDs declare (+kubebuilder:default), which the API
// server fills in on every write. Defaults the controllers apply when a
// field is empty (a GitRepository's 'master' branch, a Kustomization's
// MirrorPrune deletion policy) are not written into the object, as with
// real Flux. Every function is idempotent and never overwrites a value the
// client set.

// DefaultGitRepository sets spec.timeout to "60s" and spec.verify.mode to
// HEAD.
func DefaultGitRepository(obj *GitRepository) {
	if obj.Spec.Timeout == nil {
		obj.Spec.Timeout = &Duration{Duration: 60 * time.Second, Written: "60s"}
	}
	if v := obj.Spec.Verification; v != nil && v.Mode == "" {
		v.Mode = "HEAD"
	}
}

// DefaultKustomization fills nothing: the CRD's only defaults are
// spec.force and spec.postBuild.substituteFrom[].optional, both false, the
// values a missing boolean already decodes to.
func DefaultKustomization(obj *Kustomization) {}

// DefaultReceiver sets spec.interval to "10m".
func DefaultReceiver(obj *Receiver) {
	if obj.Spec.Interval == nil {
		obj.Spec.Interval = &Duration{Duration: 10 * time.Minute, Written: "10m"}
	}
}
