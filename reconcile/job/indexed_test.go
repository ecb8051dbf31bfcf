package job

import (
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestIntervals(t *testing.T) {
	tests := []struct {
		in          string
		completions int
		add         []int
		want        string
		total       int
	}{
		{"", 10, nil, "", 0},
		{"", 10, []int{3, 1, 2}, "1-3", 3},
		{"1", 10, []int{2}, "1,2", 2},
		{"1,3", 10, []int{2}, "1-3", 3},
		{"0-2,7", 10, []int{5}, "0-2,5,7", 5},
		{"0-2,7-9", 8, nil, "0-2,7", 4},  // beyond completions (scaled down) dropped
		{"5,x,7-6,8", 10, nil, "5,8", 2}, // corrupt parts skipped
		{"4,1", 10, nil, "1,4", 2},
	}
	for _, tt := range tests {
		got := parseIntervals(tt.in, tt.completions).withIndexes(tt.add)
		if got.String() != tt.want || got.total() != tt.total {
			t.Errorf("%q + %v: %q (%d), want %q (%d)", tt.in, tt.add, got, got.total(), tt.want, tt.total)
		}
	}
	iv := parseIntervals("1-3,7,9-12", 20)
	for ix, want := range map[int]bool{0: false, 1: true, 3: true, 4: false, 7: true, 8: false, 12: true, 13: false} {
		if iv.has(ix) != want {
			t.Errorf("has(%d) = %v", ix, !want)
		}
	}
	if got := iv.intersect(parseIntervals("0-2,8-10", 20)); got != 4 {
		t.Errorf("intersect = %d, want 4 (1,2,9,10)", got)
	}
}

func TestPendingIndexes(t *testing.T) {
	job := &batchv1.Job{Spec: batchv1.JobSpec{Completions: ptr.To[int32](6)}}
	pod := func(ix string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: ix}}}
	}
	got := pendingIndexes(job, parseIntervals("0,3", 6), []*corev1.Pod{pod("1")}, []*corev1.Pod{pod("2")}, 5)
	if !slices.Equal(got, []int{4, 5}) {
		t.Fatalf("pending %v, want 4 5", got)
	}
	if got := pendingIndexes(job, nil, nil, nil, 2); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("pending %v, want the lowest first", got)
	}
}

func TestDuplicateIndexPods(t *testing.T) {
	job := &batchv1.Job{Spec: batchv1.JobSpec{Completions: ptr.To[int32](3)}}
	pod := func(name, ix string, phase corev1.PodPhase) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}, Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: phase}}
		if ix != "" {
			p.Annotations[batchv1.JobCompletionIndexAnnotation] = ix
		}
		return p
	}
	rm, keep := duplicateIndexPods(job, []*corev1.Pod{
		pod("a-running", "0", corev1.PodRunning), pod("a-pending", "0", corev1.PodPending),
		pod("b", "1", corev1.PodRunning), pod("none", "", corev1.PodRunning), pod("big", "7", corev1.PodRunning),
	})
	names := func(ps []*corev1.Pod) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	if names(rm) != "a-pending,big,none" || names(keep) != "a-running,b" {
		t.Fatalf("remove %s keep %s", names(rm), names(keep))
	}
}

func TestPodNames(t *testing.T) {
	long := strings.Repeat("j", 63)
	if got := indexedPodName(long, 12); len(got) != maxGeneratedNameLength || !strings.HasSuffix(got, "-12-") {
		t.Fatalf("%q: the index must survive truncation within %d characters", got, maxGeneratedNameLength)
	}
	job := newJob(long, ptr.To[int32](1), ptr.To[int32](1))
	if got := newPod(job, noIndex).GenerateName; len(got) != maxGeneratedNameLength {
		t.Fatalf("generateName %q longer than the API keeps", got)
	}
}
