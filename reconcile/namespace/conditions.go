package namespace

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// The conditions a terminating namespace carries, with upstream's types,
// reasons and messages, so `kubectl describe ns` reads as on Kubernetes.
// Every pass sets all of them: True with the failure, or False with the
// "all is well" variant.
var (
	conditionTypes = []corev1.NamespaceConditionType{
		corev1.NamespaceDeletionDiscoveryFailure,
		corev1.NamespaceDeletionGVParsingFailure,
		corev1.NamespaceDeletionContentFailure,
		corev1.NamespaceContentRemaining,
		corev1.NamespaceFinalizersRemaining,
	}
	okReasons = map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
		corev1.NamespaceDeletionGVParsingFailure: "ParsedGroupVersions",
		corev1.NamespaceDeletionContentFailure:   "ContentDeleted",
		corev1.NamespaceContentRemaining:         "ContentRemoved",
		corev1.NamespaceFinalizersRemaining:      "ContentRemoved",
	}
	okMessages = map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "All resources successfully discovered",
		corev1.NamespaceDeletionGVParsingFailure: "All legacy kube types successfully parsed",
		corev1.NamespaceDeletionContentFailure:   "All content successfully deleted, may be waiting on finalization",
		corev1.NamespaceContentRemaining:         "All content successfully removed",
		corev1.NamespaceFinalizersRemaining:      "All content successfully removed",
	}
)

// contentResult is what one pass over a namespace's content found.
type contentResult struct {
	discoveryErr error
	parseErr     error
	// deleteErrs are the resources whose content could not be deleted.
	deleteErrs []error
	// remaining counts the objects left, by resource.
	remaining map[schema.GroupVersionResource]int
	// finalizers counts the objects left, by finalizer they wait on.
	finalizers map[string]int
}

// done: every object is gone and nothing failed.
func (r contentResult) done() bool {
	return r.discoveryErr == nil && r.parseErr == nil && len(r.deleteErrs) == 0 && len(r.remaining) == 0
}

// err joins what failed, for the log and the retry.
func (r contentResult) err() error {
	return errors.Join(append([]error{r.discoveryErr, r.parseErr}, r.deleteErrs...)...)
}

// conditions renders the result as the failing conditions (those not
// returned are set to their "all is well" variant by updateConditions).
func (r contentResult) conditions(now metav1.Time) []corev1.NamespaceCondition {
	var out []corev1.NamespaceCondition
	add := func(t corev1.NamespaceConditionType, reason, msg string) {
		out = append(out, corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: reason, Message: msg})
	}
	if r.discoveryErr != nil {
		msg := r.discoveryErr.Error()
		var gd *discovery.ErrGroupDiscoveryFailed
		if errors.As(r.discoveryErr, &gd) {
			msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(gd.Groups), r.discoveryErr)
		}
		add(corev1.NamespaceDeletionDiscoveryFailure, "DiscoveryFailed", msg)
	}
	if r.parseErr != nil {
		add(corev1.NamespaceDeletionGVParsingFailure, "GroupVersionParsingFailed", r.parseErr.Error())
	}
	if len(r.deleteErrs) > 0 {
		msgs := make([]string, 0, len(r.deleteErrs))
		for _, e := range r.deleteErrs {
			msgs = append(msgs, e.Error())
		}
		slices.Sort(msgs)
		add(corev1.NamespaceDeletionContentFailure, "ContentDeletionFailed",
			fmt.Sprintf("Failed to delete all resource types, %d remaining: %v", len(r.deleteErrs), strings.Join(msgs, ", ")))
	}
	var left []string
	for gvr, n := range r.remaining {
		if n > 0 {
			left = append(left, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, n))
		}
	}
	if len(left) > 0 {
		slices.Sort(left)
		add(corev1.NamespaceContentRemaining, "SomeResourcesRemain", "Some resources are remaining: "+strings.Join(left, ", "))
	}
	var byFinalizer []string
	for _, f := range slices.Sorted(maps.Keys(r.finalizers)) {
		if n := r.finalizers[f]; n > 0 {
			byFinalizer = append(byFinalizer, fmt.Sprintf("%s in %d resource instances", f, n))
		}
	}
	if len(byFinalizer) > 0 {
		add(corev1.NamespaceFinalizersRemaining, "SomeFinalizerRemain", "Some finalizers are remaining: "+strings.Join(byFinalizer, ", "))
	}
	return out
}

// updateConditions sets every namespace deletion condition on status:
// the failing ones from failing, the others to their "all is well"
// variant. A condition's lastTransitionTime moves only when its status
// does. It reports whether anything changed.
func updateConditions(status *corev1.NamespaceStatus, failing []corev1.NamespaceCondition, now metav1.Time) bool {
	changed := false
	for _, t := range conditionTypes {
		want := corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: now, Reason: okReasons[t], Message: okMessages[t]}
		if i := slices.IndexFunc(failing, func(c corev1.NamespaceCondition) bool { return c.Type == t }); i >= 0 {
			want = failing[i]
		}
		i := slices.IndexFunc(status.Conditions, func(c corev1.NamespaceCondition) bool { return c.Type == t })
		if i < 0 {
			status.Conditions = append(status.Conditions, want)
			changed = true
			continue
		}
		cur := &status.Conditions[i]
		if cur.Status == want.Status && cur.Reason == want.Reason && cur.Message == want.Message {
			continue
		}
		if cur.Status != want.Status {
			cur.LastTransitionTime = now
		}
		cur.Status, cur.Reason, cur.Message = want.Status, want.Reason, want.Message
		changed = true
	}
	return changed
}
