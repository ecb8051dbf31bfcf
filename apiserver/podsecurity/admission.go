package podsecurity

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Decision is the outcome of evaluating one object.
type Decision struct {
	// Forbidden is enforce's refusal, worded as what kube-apiserver puts
	// after `pods "x" is forbidden: `; empty when the object is admitted.
	Forbidden string
	// Warnings go back to the client as Warning headers.
	Warnings []string
}

// AdmitPod evaluates a pod being created (old nil) or updated in its
// namespace: enforce may refuse it, warn may warn. An update is evaluated
// only when it is significant (SignificantPodUpdate).
func (c Config) AdmitPod(ns *corev1.Namespace, pod, old *corev1.Pod) Decision {
	if c.exempt(ns.Name) {
		return Decision{}
	}
	if old != nil && !SignificantPodUpdate(pod, old) {
		return Decision{}
	}
	// Label errors do not stop evaluation: PolicyFor already chose the
	// fail-closed enforce level and fail-open warn level for them.
	p, _ := c.PolicyFor(ns.Labels)
	if vs := Check(p.Enforce, &pod.Spec, &pod.ObjectMeta); len(vs) > 0 {
		// A refused pod gets no warnings, as upstream: the error says it all.
		return Decision{Forbidden: fmt.Sprintf("violates PodSecurity %q: %s", p.Enforce.String(), Describe(vs))}
	}
	return Decision{Warnings: c.warn(p, &pod.Spec, &pod.ObjectMeta)}
}

// AdmitWorkload evaluates the pod template of a workload being created or
// updated. It never refuses: enforce applies to the pods a controller
// creates from the template, as upstream; warn applies to the template so
// the user hears of it when applying the workload, not only from events.
// Objects without a pod template get an empty decision.
func (c Config) AdmitWorkload(ns *corev1.Namespace, obj runtime.Object) Decision {
	if c.exempt(ns.Name) {
		return Decision{}
	}
	meta, spec, ok := PodTemplate(obj)
	if !ok {
		return Decision{}
	}
	p, _ := c.PolicyFor(ns.Labels)
	return Decision{Warnings: c.warn(p, spec, meta)}
}

func (c Config) warn(p Policy, spec *corev1.PodSpec, meta *metav1.ObjectMeta) []string {
	// audit is not evaluated: Skiff has no audit log to annotate.
	if vs := Check(p.Warn, spec, meta); len(vs) > 0 {
		return []string{fmt.Sprintf("would violate PodSecurity %q: %s", p.Warn.String(), Describe(vs))}
	}
	return nil
}

// PodTemplate returns the pod template of a workload kind upstream
// evaluates: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
// ReplicationController and PodTemplate.
func PodTemplate(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec, bool) {
	var t *corev1.PodTemplateSpec
	switch o := obj.(type) {
	case *appsv1.Deployment:
		t = &o.Spec.Template
	case *appsv1.ReplicaSet:
		t = &o.Spec.Template
	case *appsv1.StatefulSet:
		t = &o.Spec.Template
	case *appsv1.DaemonSet:
		t = &o.Spec.Template
	case *batchv1.Job:
		t = &o.Spec.Template
	case *batchv1.CronJob:
		t = &o.Spec.JobTemplate.Spec.Template
	case *corev1.ReplicationController:
		t = o.Spec.Template
	case *corev1.PodTemplate:
		t = &o.Template
	}
	if t == nil {
		return nil, nil, false
	}
	return &t.ObjectMeta, &t.Spec, true
}

// SignificantPodUpdate reports whether a pod update can change what the
// checks see, as upstream decides it: the number of containers, a
// container's image (the image is what is about to run), a seccomp
// annotation, or an added or changed ephemeral container. Every other
// part of a pod's spec is immutable (pod update validation refuses the
// change), and metadata- or status-only updates are not re-checked, so a
// pod admitted under an older policy keeps running and can still be
// labelled or finalized.
func SignificantPodUpdate(pod, old *corev1.Pod) bool {
	if pod.Annotations[corev1.SeccompPodAnnotationKey] != old.Annotations[corev1.SeccompPodAnnotationKey] {
		return true
	}
	if len(pod.Spec.Containers) != len(old.Spec.Containers) || len(pod.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return true
	}
	changed := func(c, o *corev1.Container) bool {
		k := corev1.SeccompContainerAnnotationKeyPrefix + c.Name
		return c.Image != o.Image || pod.Annotations[k] != old.Annotations[k]
	}
	for i := range pod.Spec.Containers {
		if changed(&pod.Spec.Containers[i], &old.Spec.Containers[i]) {
			return true
		}
	}
	for i := range pod.Spec.InitContainers {
		if changed(&pod.Spec.InitContainers[i], &old.Spec.InitContainers[i]) {
			return true
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		c := (*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		var o *corev1.Container
		for j := range old.Spec.EphemeralContainers {
			if old.Spec.EphemeralContainers[j].Name == c.Name {
				o = (*corev1.Container)(&old.Spec.EphemeralContainers[j].EphemeralContainerCommon)
				break
			}
		}
		if o == nil || changed(c, o) {
			return true
		}
	}
	return false
}

// maxPodsToCheck bounds the work of one namespace update, as upstream's
// default does.
const maxPodsToCheck = 3000

// AdmitNamespace checks the pod security labels of a namespace being
// created (old nil) or updated. It returns the label errors to refuse the
// request with (422 Invalid, as upstream) and warnings. When an update
// tightens enforce, the namespace's existing pods — listed by pods, only
// then — are evaluated against the new level and each kind of violation is
// reported once, naming a pod and how many others share it; nothing is
// evicted, as upstream.
func (c Config) AdmitNamespace(ns, old *corev1.Namespace, pods func() ([]*corev1.Pod, error)) (field.ErrorList, []string) {
	p, errs := c.PolicyFor(ns.Labels)
	if old == nil {
		if len(errs) > 0 {
			return errs, nil
		}
		if c.exempt(ns.Name) {
			return nil, nonEmpty(c.exemptWarning(ns.Name, p, ns.Labels))
		}
		return nil, nil
	}
	before, oldErrs := c.PolicyFor(old.Labels)
	if labelErrorsChanged(errs, oldErrs) {
		return errs, nil
	}
	switch {
	case p.Enforce == before.Enforce, p.Enforce.Level == LevelPrivileged:
		return nil, nil
	case p.Enforce.Version == before.Enforce.Version && p.Enforce.Level.strictness() <= before.Enforce.Level.strictness():
		// Relaxed at the same version: every pod admitted before still is.
		return nil, nil
	case c.exempt(ns.Name):
		return nil, nonEmpty(c.exemptWarning(ns.Name, p, ns.Labels))
	}
	list, err := pods()
	if err != nil {
		return nil, []string{"failed to list pods while checking new PodSecurity enforce level"}
	}
	return nil, existingPodWarnings(ns.Name, p.Enforce, list)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// existingPodWarnings evaluates existing pods against a new enforce level.
// Pods of a controller already checked go last, so that the cap on pods
// checked spends itself on distinct workloads first.
func existingPodWarnings(namespace string, enforce LevelVersion, pods []*corev1.Pod) []string {
	ordered := make([]*corev1.Pod, 0, len(pods))
	var replicas []*corev1.Pod
	seen := map[types.UID]bool{}
	for _, pod := range pods {
		if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
			if seen[ref.UID] {
				replicas = append(replicas, pod)
				continue
			}
			seen[ref.UID] = true
		}
		ordered = append(ordered, pod)
	}
	ordered = append(ordered, replicas...)
	total := len(ordered)
	if len(ordered) > maxPodsToCheck {
		ordered = ordered[:maxPodsToCheck]
	}
	type group struct {
		first string
		count int
	}
	groups := map[string]*group{}
	var reasons []string
	for _, pod := range ordered {
		vs := Check(enforce, &pod.Spec, &pod.ObjectMeta)
		if len(vs) == 0 {
			continue
		}
		r := controls(vs)
		g, ok := groups[r]
		if !ok {
			g = &group{first: pod.Name}
			groups[r] = g
			reasons = append(reasons, r)
		} else if pod.Name < g.first {
			g.first = pod.Name
		}
		g.count++
	}
	var out []string
	if len(ordered) < total {
		out = append(out, fmt.Sprintf("new PodSecurity enforce level only checked against the first %d of %d existing pods", len(ordered), total))
	}
	if len(reasons) == 0 {
		return out
	}
	out = append(out, fmt.Sprintf("existing pods in namespace %q violate the new PodSecurity enforce level %q", namespace, enforce.String()))
	perPod := make([]string, len(reasons))
	for i, r := range reasons {
		g := groups[r]
		switch g.count {
		case 1:
			perPod[i] = fmt.Sprintf("%s: %s", g.first, r)
		case 2:
			perPod[i] = fmt.Sprintf("%s (and 1 other pod): %s", g.first, r)
		default:
			perPod[i] = fmt.Sprintf("%s (and %d other pods): %s", g.first, g.count-1, r)
		}
	}
	sort.Strings(perPod)
	return append(out, perPod...)
}
