package namespace

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestUpdateConditions(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	t2 := metav1.NewTime(t0.Add(2 * time.Minute))
	remaining := contentResult{
		remaining:  map[schema.GroupVersionResource]int{{Version: "v1", Resource: "pods"}: 2, {Group: "apps", Version: "v1", Resource: "deployments"}: 1},
		finalizers: map[string]int{"b.example.com/x": 1, "a.example.com/y": 3},
	}
	var st corev1.NamespaceStatus

	steps := []struct {
		name    string
		res     contentResult
		now     metav1.Time
		changed bool
		want    map[corev1.NamespaceConditionType]string // "Status Reason: Message @time"
	}{{
		name: "content remains", res: remaining, now: t0, changed: true,
		want: map[corev1.NamespaceConditionType]string{
			corev1.NamespaceContentRemaining:       "True SomeResourcesRemain: Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances @" + t0.String(),
			corev1.NamespaceFinalizersRemaining:    "True SomeFinalizerRemain: Some finalizers are remaining: a.example.com/y in 3 resource instances, b.example.com/x in 1 resource instances @" + t0.String(),
			corev1.NamespaceDeletionContentFailure: "False ContentDeleted: All content successfully deleted, may be waiting on finalization @" + t0.String(),
		},
	}, {
		name: "the same again changes nothing", res: remaining, now: t1, changed: false,
		want: map[corev1.NamespaceConditionType]string{
			corev1.NamespaceContentRemaining: "True SomeResourcesRemain: Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances @" + t0.String(),
		},
	}, {
		name: "a failure moves only its own condition", res: contentResult{deleteErrs: []error{errors.New("z"), errors.New("a")}, remaining: remaining.remaining, finalizers: remaining.finalizers}, now: t1, changed: true,
		want: map[corev1.NamespaceConditionType]string{
			corev1.NamespaceDeletionContentFailure: "True ContentDeletionFailed: Failed to delete all resource types, 2 remaining: a, z @" + t1.String(),
			corev1.NamespaceContentRemaining:       "True SomeResourcesRemain: Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances @" + t0.String(),
		},
	}, {
		name: "all gone", res: contentResult{}, now: t2, changed: true,
		want: map[corev1.NamespaceConditionType]string{
			corev1.NamespaceContentRemaining:         "False ContentRemoved: All content successfully removed @" + t2.String(),
			corev1.NamespaceFinalizersRemaining:      "False ContentRemoved: All content successfully removed @" + t2.String(),
			corev1.NamespaceDeletionDiscoveryFailure: "False ResourcesDiscovered: All resources successfully discovered @" + t0.String(),
		},
	}}
	for _, s := range steps {
		changed := updateConditions(&st, s.res.conditions(s.now), s.now)
		if changed != s.changed {
			t.Errorf("%s: changed = %t, want %t", s.name, changed, s.changed)
		}
		if len(st.Conditions) != len(conditionTypes) {
			t.Errorf("%s: %d conditions, want %d", s.name, len(st.Conditions), len(conditionTypes))
		}
		for _, c := range st.Conditions {
			want, ok := s.want[c.Type]
			if !ok {
				continue
			}
			if got := string(c.Status) + " " + c.Reason + ": " + c.Message + " @" + c.LastTransitionTime.String(); got != want {
				t.Errorf("%s: %s = %q, want %q", s.name, c.Type, got, want)
			}
		}
	}
}
