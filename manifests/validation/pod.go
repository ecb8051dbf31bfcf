package validation

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePod checks a new Pod.
func ValidatePod(obj *corev1.Pod) field.ErrorList {
	allErrs := podMetadataAndSpec(obj, podOptions{resourceIsPod: true, podName: obj.Name})
	specPath := field.NewPath("spec")
	// Ephemeral containers are added later through their own subresource.
	if len(obj.Spec.EphemeralContainers) > 0 {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	if obj.Spec.NodeName != "" && len(obj.Spec.SchedulingGates) != 0 {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return allErrs
}

func podMetadataAndSpec(pod *corev1.Pod, opts podOptions) field.ErrorList {
	metaPath, specPath := field.NewPath("metadata"), field.NewPath("spec")
	allErrs := objectMeta(&pod.ObjectMeta, true, NameIsDNSSubdomain, metaPath)
	allErrs = append(allErrs, podSpecificAnnotations(pod.Annotations, &pod.Spec, metaPath.Child("annotations"), opts)...)
	allErrs = append(allErrs, validatePodSpec(&pod.Spec, specPath, opts)...)
	for i := range pod.Spec.Containers {
		allErrs = append(allErrs, imageWhitespace(&pod.Spec.Containers[i], specPath.Child("containers").Index(i))...)
	}
	for i := range pod.Spec.InitContainers {
		allErrs = append(allErrs, imageWhitespace(&pod.Spec.InitContainers[i], specPath.Child("initContainers").Index(i))...)
	}
	return allErrs
}

// updatablePodSpecFields is what a pod update may change, in the words of
// the Kubernetes error message.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// ValidatePodUpdate checks a change to a Pod: the new pod must be valid and
// its spec may change only in container images, activeDeadlineSeconds
// (shortened), added tolerations, removed scheduling gates (and, while
// gated, added node selectors) and a negative grace period set to 1.
func ValidatePodUpdate(obj, old *corev1.Pod) field.ErrorList {
	metaPath, specPath := field.NewPath("metadata"), field.NewPath("spec")
	opts := podOptionsFor(&corev1.PodTemplateSpec{ObjectMeta: old.ObjectMeta, Spec: old.Spec}, true)
	opts.podName = obj.Name
	allErrs := objectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, metaPath)
	allErrs = append(allErrs, podMetadataAndSpec(obj, opts)...)
	allErrs = append(allErrs, podAnnotationUpdates(obj, old, metaPath.Child("annotations"))...)

	errs, stop := containerUpdates(obj.Spec.Containers, old.Spec.Containers, specPath.Child("containers"))
	allErrs = append(allErrs, errs...)
	if stop {
		return allErrs
	}
	errs, stop = containerUpdates(obj.Spec.InitContainers, old.Spec.InitContainers, specPath.Child("initContainers"))
	allErrs = append(allErrs, errs...)
	if stop {
		return allErrs
	}

	// activeDeadlineSeconds may be set, or shortened, never lengthened or
	// removed.
	if ads := obj.Spec.ActiveDeadlineSeconds; ads != nil {
		if *ads < 0 || *ads > math.MaxInt32 {
			return append(allErrs, field.Invalid(specPath.Child("activeDeadlineSeconds"), *ads, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if old.Spec.ActiveDeadlineSeconds != nil && *old.Spec.ActiveDeadlineSeconds < *ads {
			return append(allErrs, field.Invalid(specPath.Child("activeDeadlineSeconds"), *ads, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Invalid(specPath.Child("activeDeadlineSeconds"), obj.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}
	allErrs = append(allErrs, onlyAddedTolerations(obj.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	allErrs = append(allErrs, onlyDeletedSchedulingGates(obj.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	if apiequality.Semantic.DeepEqual(obj.Spec, old.Spec) {
		return allErrs
	}
	munged := obj.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = old.Spec.SchedulingGates
	munged.Tolerations = old.Spec.Tolerations
	if g := old.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 && munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = g
	}
	// A pod still waiting on scheduling gates may gain node selectors.
	if len(old.Spec.SchedulingGates) > 0 && !apiequality.Semantic.DeepEqual(munged.NodeSelector, old.Spec.NodeSelector) {
		for k, v := range old.Spec.NodeSelector {
			if nv, ok := munged.NodeSelector[k]; !ok || nv != v {
				allErrs = append(allErrs, field.Invalid(specPath.Child("nodeSelector"), munged.NodeSelector, "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
				break
			}
		}
		munged.NodeSelector = old.Spec.NodeSelector
	}
	if !apiequality.Semantic.DeepEqual(*munged, old.Spec) {
		allErrs = append(allErrs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%s",
			strings.Join(updatablePodSpecFields, ","), changedFields(old.Spec, *munged))))
	}
	return allErrs
}

// ValidatePodEphemeralContainersUpdate checks a write through
// pods/ephemeralcontainers (kubectl debug): the pod stays valid with its
// new ephemeral containers, and those it had are neither changed nor
// removed — an ephemeral container runs once and cannot be taken back.
func ValidatePodEphemeralContainersUpdate(obj, old *corev1.Pod) field.ErrorList {
	opts := podOptionsFor(&corev1.PodTemplateSpec{ObjectMeta: old.ObjectMeta, Spec: old.Spec}, true)
	opts.podName = obj.Name
	allErrs := podMetadataAndSpec(obj, opts)
	fldPath := field.NewPath("spec", "ephemeralContainers")
	byName := map[string]*corev1.EphemeralContainer{}
	for i := range obj.Spec.EphemeralContainers {
		byName[obj.Spec.EphemeralContainers[i].Name] = &obj.Spec.EphemeralContainers[i]
	}
	for i := range old.Spec.EphemeralContainers {
		was := &old.Spec.EphemeralContainers[i]
		now, ok := byName[was.Name]
		switch {
		case !ok:
			allErrs = append(allErrs, field.Forbidden(fldPath, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", was.Name)))
		case !apiequality.Semantic.DeepEqual(was, now):
			allErrs = append(allErrs, field.Forbidden(fldPath, fmt.Sprintf("existing ephemeral containers %q may not be changed\n", was.Name)))
		}
	}
	return allErrs
}

func containerUpdates(cs, old []corev1.Container, fldPath *field.Path) (field.ErrorList, bool) {
	if len(cs) != len(old) {
		return field.ErrorList{field.Forbidden(fldPath, "pod updates may not add or remove containers")}, true
	}
	var allErrs field.ErrorList
	for i, c := range cs {
		if c.Image == "" {
			allErrs = append(allErrs, field.Required(fldPath.Index(i).Child("image"), ""))
		}
		allErrs = append(allErrs, imageWhitespace(&cs[i], fldPath.Index(i))...)
	}
	return allErrs, false
}

// onlyAddedTolerations lets an update add tolerations or change an existing
// one's tolerationSeconds, nothing else.
func onlyAddedTolerations(ts, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range ts {
			c := o
			c.TolerationSeconds = t.TolerationSeconds
			if reflect.DeepEqual(c, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return ValidateTolerations(ts, fldPath)
}

func onlyDeletedSchedulingGates(gates, old []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	had := map[string]bool{}
	for _, g := range old {
		had[g.Name] = true
	}
	var allErrs field.ErrorList
	for i, g := range gates {
		if !had[g.Name] {
			allErrs = append(allErrs, field.Forbidden(fldPath.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return allErrs
}

// podAnnotationUpdates: the mirror pod and AppArmor annotations cannot be
// added, changed or removed.
func podAnnotationUpdates(pod, old *corev1.Pod, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for k, ov := range old.Annotations {
		if nv, ok := pod.Annotations[k]; ok && nv == ov {
			continue
		}
		if strings.HasPrefix(k, appArmorAnnotationPfx) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not remove or update AppArmor annotations"))
		}
		if k == mirrorPodAnnotation {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not remove or update mirror pod annotation"))
		}
	}
	for k := range pod.Annotations {
		if _, ok := old.Annotations[k]; ok {
			continue
		}
		if strings.HasPrefix(k, appArmorAnnotationPfx) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not add AppArmor annotations"))
		}
		if k == mirrorPodAnnotation {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not add mirror pod annotation"))
		}
	}
	return allErrs
}

// changedFields names the top-level spec fields that differ, so the
// Forbidden message says what the client tried to change.
func changedFields(old, changed any) string {
	a, b := jsonFields(old), jsonFields(changed)
	var diff []string
	for k, v := range b {
		if a[k] != v {
			diff = append(diff, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			diff = append(diff, k)
		}
	}
	sort.Strings(diff)
	return "changed: " + strings.Join(diff, ", ")
}

func jsonFields(v any) map[string]string {
	raw := map[string]json.RawMessage{}
	if b, err := json.Marshal(v); err == nil {
		_ = json.Unmarshal(b, &raw)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		out[k] = string(v)
	}
	return out
}
