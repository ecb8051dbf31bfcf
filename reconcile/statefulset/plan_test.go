package statefulset

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func testSet(replicas int32, mut ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := newSim().set
	s.Spec.Replicas = ptr.To(replicas)
	for _, m := range mut {
		m(s)
	}
	return s
}

// stsPod is pod <ordinal> of web at revision, Running and ready since t0
// if ready.
func stsPod(set *appsv1.StatefulSet, ordinal int, revision string, ready bool) *corev1.Pod {
	p := newPod(set, ordinal, revision)
	p.UID = "uid-" + p.UID
	p.Status.Phase = corev1.PodRunning
	setReady(p, ready)
	return p
}

func steps(p *plan) string {
	var s []string
	for _, phase := range p.phases {
		for _, st := range phase {
			s = append(s, st.String())
		}
	}
	return strings.Join(s, ", ")
}

func TestNewPodIdentity(t *testing.T) {
	set := testSet(3, func(s *appsv1.StatefulSet) {
		s.Spec.Template.Annotations = map[string]string{"a": "b"}
		s.Spec.Template.Finalizers = []string{"example.com/f"}
	})
	p := newPod(set, 2, "web-abc")
	if p.Name != "web-2" || p.Namespace != "default" || p.GenerateName != "web-" {
		t.Fatalf("name %q ns %q generateName %q", p.Name, p.Namespace, p.GenerateName)
	}
	if p.Spec.Hostname != "web-2" || p.Spec.Subdomain != "web" {
		t.Fatalf("hostname %q subdomain %q", p.Spec.Hostname, p.Spec.Subdomain)
	}
	want := map[string]string{"app": "web", "statefulset.kubernetes.io/pod-name": "web-2", "apps.kubernetes.io/pod-index": "2", "controller-revision-hash": "web-abc"}
	for k, v := range want {
		if p.Labels[k] != v {
			t.Fatalf("label %s=%q, want %q (labels %v)", k, p.Labels[k], v, p.Labels)
		}
	}
	if p.Annotations["a"] != "b" || len(p.Finalizers) != 1 {
		t.Fatalf("annotations %v finalizers %v", p.Annotations, p.Finalizers)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "StatefulSet" || ref.UID != "set-uid" || !*ref.BlockOwnerDeletion {
		t.Fatalf("owner %+v", p.OwnerReferences)
	}
	if _, ok := set.Spec.Template.Labels["statefulset.kubernetes.io/pod-name"]; ok {
		t.Fatal("the template's labels were modified")
	}
	if !identityMatches(set, p) {
		t.Fatal("a new pod does not match its own identity")
	}
	delete(p.Labels, appsv1.PodIndexLabel)
	if identityMatches(set, p) {
		t.Fatal("a pod without its pod-index label matches")
	}
	if _, o := parentAndOrdinal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-x"}}); o != -1 {
		t.Fatalf("ordinal of web-x: %d", o)
	}
	if parent, o := parentAndOrdinal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "my-web-12"}}); parent != "my-web" || o != 12 {
		t.Fatalf("my-web-12: %q %d", parent, o)
	}
}

func TestDecide(t *testing.T) {
	revs := revisionsInUse{current: "web-v1", update: "web-v2"}
	partition := func(n int32) func(*appsv1.StatefulSet) {
		return func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(n) }
	}
	parallel := func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
	minReady := func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = 60 }
	terminatingPod := func(p *corev1.Pod) *corev1.Pod { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0)); return p }
	unlabelled := func(p *corev1.Pod) *corev1.Pod { delete(p.Labels, appsv1.PodIndexLabel); return p }
	set3 := testSet(3)
	for _, tc := range []struct {
		name    string
		set     *appsv1.StatefulSet
		pods    func(*appsv1.StatefulSet) []*corev1.Pod
		now     time.Time
		want    string
		waiting string
	}{
		{name: "missing pods below the partition are made at the current revision", set: testSet(3, partition(2)),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod { return nil },
			want: "create web-0@web-v1", waiting: "waiting for pod web-0 to be Running and Ready"},
		{name: "missing pods at or above the partition at the update revision", set: testSet(3, partition(2)),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{stsPod(s, 0, "web-v1", true), stsPod(s, 1, "web-v1", true)}
			},
			want: "create web-2@web-v2", waiting: "waiting for pod web-2 to be Running and Ready"},
		{name: "identity labels are restored, and the next pod made, in one sync", set: set3,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{unlabelled(stsPod(s, 0, "web-v2", true))}
			},
			want: "relabel web-0, create web-1@web-v2", waiting: "waiting for pod web-1 to be Running and Ready"},
		{name: "minReadySeconds: ready is not yet available", set: testSet(2, minReady), now: t0.Add(30 * time.Second),
			pods:    func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{stsPod(s, 0, "web-v2", true)} },
			waiting: "waiting for pod web-0 to be Available"},
		{name: "minReadySeconds: available after it", set: testSet(2, minReady), now: t0.Add(61 * time.Second),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{stsPod(s, 0, "web-v2", true)} },
			want: "create web-1@web-v2", waiting: "waiting for pod web-1 to be Running and Ready"},
		{name: "scale down waits for the terminating pod", set: testSet(1),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{stsPod(s, 0, "web-v2", true), stsPod(s, 1, "web-v2", true), terminatingPod(stsPod(s, 2, "web-v2", true))}
			},
			waiting: "waiting for pod web-2 to terminate before scaling down"},
		{name: "scale down removes an unhealthy top pod", set: testSet(1),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{stsPod(s, 0, "web-v2", true), stsPod(s, 1, "web-v2", true), stsPod(s, 2, "web-v2", false)}
			},
			want: "delete web-2"},
		{name: "scale down takes a healthy top pod while a lower one is unhealthy", set: testSet(1),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{stsPod(s, 0, "web-v2", true), stsPod(s, 1, "web-v2", false), stsPod(s, 2, "web-v2", true)}
			},
			want: "delete web-2"},
		{name: "scale down waits on an unhealthy top pod that is not the first unhealthy", set: testSet(1),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{stsPod(s, 0, "web-v2", true), stsPod(s, 1, "web-v2", false), stsPod(s, 2, "web-v2", false)}
			},
			waiting: "waiting for pod web-1 to be Available before scaling down"},
		{name: "update waits for an unavailable updated pod", set: set3,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{stsPod(s, 0, "web-v1", true), stsPod(s, 1, "web-v1", true), terminatingPod(stsPod(s, 2, "web-v2", true))}
			},
			waiting: "waiting for pod web-2 to terminate"},
		{name: "update takes the highest outdated ordinal", set: set3,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{stsPod(s, 0, "web-v1", true), stsPod(s, 1, "web-v1", true), stsPod(s, 2, "web-v2", true)}
			},
			want: "delete web-1"},
		{name: "parallel update still bounded by maxUnavailable", set: testSet(3, parallel),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{stsPod(s, 0, "web-v1", true), stsPod(s, 1, "web-v1", true), stsPod(s, 2, "web-v2", false)}
			},
			waiting: "waiting for 1 unavailable pods before updating web-1 (maxUnavailable 1)"},
		{name: "pods not named for the set are left alone", set: testSet(1),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				p := stsPod(s, 0, "web-v2", true)
				p.Name = "web-zero"
				return []*corev1.Pod{p}
			},
			want: "create web-0@web-v2", waiting: "waiting for pod web-0 to be Running and Ready"},
		{name: "a set being deleted takes no step", set: testSet(3, func(s *appsv1.StatefulSet) { s.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) }),
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			current := tc.set.DeepCopy()
			current.Spec.Template.Spec.Containers[0].Image = "v1"
			p, err := decide(tc.set, current, tc.set, revs, tc.pods(tc.set), now)
			if err != nil {
				t.Fatal(err)
			}
			if got := steps(p); got != tc.want || p.waiting != tc.waiting {
				t.Fatalf("steps %q waiting %q\nwant  %q waiting %q", got, p.waiting, tc.want, tc.waiting)
			}
		})
	}
}

func TestDecideStatus(t *testing.T) {
	set := testSet(3)
	set.Status.CollisionCount = ptr.To[int32](0)
	pods := []*corev1.Pod{stsPod(set, 0, "web-v1", true), stsPod(set, 1, "web-v2", false), stsPod(set, 2, "web-v2", true)}
	pods[2].DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	p, err := decide(set, set, set, revisionsInUse{current: "web-v1", update: "web-v2", collisionCount: 2}, pods, t0)
	if err != nil {
		t.Fatal(err)
	}
	s := p.status
	// A terminating pod counts as a replica (and ready) but at no revision.
	if s.Replicas != 3 || s.ReadyReplicas != 2 || s.AvailableReplicas != 2 || s.CurrentReplicas != 1 || s.UpdatedReplicas != 1 ||
		s.CurrentRevision != "web-v1" || s.UpdateRevision != "web-v2" || *s.CollisionCount != 2 || s.ObservedGeneration != set.Generation {
		t.Fatalf("status %+v", s)
	}
	if set.Status.CollisionCount == s.CollisionCount {
		t.Fatal("status shares the set's collision count")
	}
}

func TestCompleteRollingUpdate(t *testing.T) {
	set := testSet(2)
	s := appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 2, UpdatedReplicas: 2, CurrentReplicas: 0, CurrentRevision: "a", UpdateRevision: "b"}
	completeRollingUpdate(set, &s)
	if s.CurrentRevision != "b" || s.CurrentReplicas != 2 {
		t.Fatalf("completed status %+v", s)
	}
	s = appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1, UpdatedReplicas: 2, CurrentRevision: "a", UpdateRevision: "b"}
	completeRollingUpdate(set, &s)
	if s.CurrentRevision != "a" {
		t.Fatal("completed with a pod not ready")
	}
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	s = appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 2, UpdatedReplicas: 2, CurrentRevision: "a", UpdateRevision: "b"}
	completeRollingUpdate(set, &s)
	if s.CurrentRevision != "a" {
		t.Fatal("OnDelete completed a rolling update")
	}
}
