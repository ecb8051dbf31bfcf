package kustomization

import (
	"fmt"
	"slices"

	"github.com/skiff-dev/skiff/manifests/flux"
)

// UnsupportedFields lists the spec fields set that Skiff does not
// implement. blocking are those that change what would be applied (or
// as whom): with any of them set nothing is applied. reported change only
// how health or deletion is judged, and are named but not fatal.
func UnsupportedFields(s *flux.KustomizationSpec) (blocking, reported []string) {
	if s.Decryption != nil {
		blocking = append(blocking, "spec.decryption")
	}
	if s.PostBuild != nil {
		blocking = append(blocking, "spec.postBuild")
	}
	if s.KubeConfig != nil {
		blocking = append(blocking, "spec.kubeConfig")
	}
	if s.ServiceAccountName != "" {
		blocking = append(blocking, "spec.serviceAccountName")
	}
	if len(s.DriftIgnoreRules) > 0 {
		blocking = append(blocking, "spec.driftIgnoreRules")
	}
	if s.IgnoreMissingComponents {
		blocking = append(blocking, "spec.ignoreMissingComponents")
	}
	for i, d := range s.DependsOn {
		if d.ReadyExpr != "" {
			blocking = append(blocking, fmt.Sprintf("spec.dependsOn[%d].readyExpr", i))
		}
	}
	if k := s.SourceRef.Kind; k != "GitRepository" {
		blocking = append(blocking, "spec.sourceRef.kind ("+k+")")
	}
	if len(s.HealthCheckExprs) > 0 {
		reported = append(reported, "spec.healthCheckExprs")
	}
	if s.DeletionPolicy == "WaitForTermination" {
		reported = append(reported, "spec.deletionPolicy (WaitForTermination)")
	}
	slices.Sort(blocking)
	slices.Sort(reported)
	return blocking, reported
}
