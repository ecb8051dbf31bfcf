package job

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBackoffDelays(t *testing.T) {
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 6 * time.Minute, 6 * time.Minute}
	for n, w := range want {
		if got := (backoffRecord{failuresSinceSuccess: int32(n)}).delay(); got != w {
			t.Errorf("%d failures: %v, want %v", n, got, w)
		}
	}
	r := backoffRecord{failuresSinceSuccess: 2, lastFailure: t0}
	if got := r.remaining(t0.Add(5 * time.Second)); got != 15*time.Second {
		t.Errorf("remaining %v, want 15s", got)
	}
	if got := r.remaining(t0.Add(time.Minute)); got != 0 {
		t.Errorf("remaining %v after the delay, want 0", got)
	}
}

func TestNextBackoff(t *testing.T) {
	ended := func(at time.Duration) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(t0.Add(at))}}}}}}
	}
	r := nextBackoff(backoffRecord{}, nil, []*corev1.Pod{ended(2 * time.Second), ended(time.Second)})
	if r.failuresSinceSuccess != 2 || !r.lastFailure.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("two failures: %+v", r)
	}
	r = nextBackoff(r, nil, []*corev1.Pod{ended(3 * time.Second)})
	if r.failuresSinceSuccess != 3 {
		t.Fatalf("third failure: %+v", r)
	}
	// A success resets; a failure after it counts.
	r = nextBackoff(r, []*corev1.Pod{ended(10 * time.Second)}, []*corev1.Pod{ended(5 * time.Second), ended(12 * time.Second)})
	if r.failuresSinceSuccess != 1 || !r.lastFailure.Equal(t0.Add(12*time.Second)) {
		t.Fatalf("after a success: %+v", r)
	}
	r = nextBackoff(r, []*corev1.Pod{ended(20 * time.Second)}, nil)
	if r.failuresSinceSuccess != 0 || r.delay() != 0 {
		t.Fatalf("success only: %+v", r)
	}
}
