package deployment

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ktesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
)

func TestNewReplicaSetCreated(t *testing.T) {
	d := testDeployment(3, "busybox:v1", rolling("25%", "25%"))
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "first", corev1.LastAppliedConfigAnnotation: "{}"}
	f := newFixture(t, d)
	f.mustReconcile()

	hash := computeHash(&d.Spec.Template, nil)
	name := "web-" + hash
	want := []string{"create replicasets " + name, "update deployments/status web"}
	if got := f.actions(); !slices.Equal(got[:2], want) {
		t.Fatalf("actions\n got %v\nwant %v…", got, want)
	}
	rs := f.replicaSet(name)
	ref := metav1.GetControllerOf(rs)
	switch {
	case ref == nil || ref.UID != d.UID || ref.Kind != "Deployment" || !ptr.Deref(ref.BlockOwnerDeletion, false):
		t.Errorf("owner %+v", rs.OwnerReferences)
	case rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || rs.Spec.Selector.MatchLabels["app"] != "web":
		t.Errorf("hash not on labels %v, selector %v, template %v", rs.Labels, rs.Spec.Selector, rs.Spec.Template.Labels)
	case *rs.Spec.Replicas != 3:
		t.Errorf("replicas %d", *rs.Spec.Replicas)
	}
	wantAnn := map[string]string{
		revisionAnnotation: "1", desiredReplicasAnnotation: "3", maxReplicasAnnotation: "4",
		"kubernetes.io/change-cause": "first",
	}
	if !mapsEqual(rs.Annotations, wantAnn) {
		t.Errorf("annotations %v, want %v", rs.Annotations, wantAnn)
	}
	dep := f.deployment()
	if dep.Annotations[revisionAnnotation] != "1" || condition(dep, appsv1.DeploymentProgressing) != "True/NewReplicaSetCreated" {
		t.Errorf("deployment annotations %v, Progressing %s", dep.Annotations, condition(dep, appsv1.DeploymentProgressing))
	}
	if c := getCondition(dep.Status, appsv1.DeploymentProgressing); c.Message != fmt.Sprintf("Created new replica set %q", name) {
		t.Errorf("message %q", c.Message)
	}
	if ev := f.events(); !slices.Contains(ev, "Normal ScalingReplicaSet Scaled up replica set "+name+" from 0 to 3") {
		t.Errorf("events %q", ev)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestResolveFenceposts(t *testing.T) {
	for _, tc := range []struct {
		surge, unavailable string
		replicas           int32
		wantS, wantU       int32
	}{
		{"25%", "25%", 3, 1, 0},
		{"25%", "25%", 4, 1, 1},
		{"25%", "25%", 10, 3, 2},
		{"1", "1", 3, 1, 1},
		{"0", "1", 3, 0, 1},
		{"0", "10%", 3, 0, 1}, // both round to zero: one may be unavailable
		{"50%", "0", 5, 3, 0},
		{"100%", "100%", 2, 2, 2},
	} {
		s, u, err := resolveFenceposts(ptr.To(intstr.Parse(tc.surge)), ptr.To(intstr.Parse(tc.unavailable)), tc.replicas)
		if err != nil || s != tc.wantS || u != tc.wantU {
			t.Errorf("surge %s unavailable %s of %d: got %d, %d (%v), want %d, %d", tc.surge, tc.unavailable, tc.replicas, s, u, err, tc.wantS, tc.wantU)
		}
	}
}

// TestRollingUpdateStep: one sync of a rolling update, from given
// ReplicaSet sizes and availability, for int and percentage bounds.
func TestRollingUpdateStep(t *testing.T) {
	type rs struct{ spec, avail int32 }
	for _, tc := range []struct {
		name              string
		replicas          int32
		surge, unavail    string
		old, new          rs
		wantOld, wantNew  int32
		wantEvent         string
		noNewReplicaSet   bool
		wantNewCreated    int32
		oldLivePods       int32 // pods of the old ReplicaSet in the cache (default: its spec)
		wantNoScaleAction bool
	}{
		// The sync that creates the new ReplicaSet goes on to scale the old
		// one down as far as the new one's unavailable pods allow.
		{name: "ints: new replica set starts at the surge", replicas: 3, surge: "1", unavail: "1", old: rs{3, 3}, noNewReplicaSet: true, wantOld: 2, wantNewCreated: 1},
		{name: "ints: surge used, old scaled down by what is available above the floor", replicas: 3, surge: "1", unavail: "1", old: rs{3, 3}, new: rs{1, 0}, wantOld: 2, wantNew: 1, wantEvent: "Scaled down replica set web-%s from 3 to 2"},
		{name: "ints: room again, new scaled up", replicas: 3, surge: "1", unavail: "1", old: rs{2, 2}, new: rs{1, 1}, wantOld: 2, wantNew: 2, wantEvent: "Scaled up replica set web-%s from 1 to 2"},
		{name: "ints: new pods unavailable hold the old ones", replicas: 3, surge: "1", unavail: "1", old: rs{2, 2}, new: rs{2, 0}, wantOld: 2, wantNew: 2, wantNoScaleAction: true},
		{name: "ints: last old pods go", replicas: 3, surge: "1", unavail: "1", old: rs{1, 1}, new: rs{3, 3}, wantOld: 0, wantNew: 3, wantEvent: "Scaled down replica set web-%s from 1 to 0"},
		{name: "percent: 25% of 10 is surge 3", replicas: 10, surge: "25%", unavail: "25%", old: rs{10, 10}, noNewReplicaSet: true, wantOld: 8, wantNewCreated: 3},
		{name: "percent: 25% of 10 is unavailable 2", replicas: 10, surge: "25%", unavail: "25%", old: rs{10, 10}, new: rs{3, 0}, wantOld: 8, wantNew: 3},
		{name: "percent: 25% of 3 rounds unavailable down to 0", replicas: 3, surge: "25%", unavail: "25%", old: rs{3, 3}, new: rs{1, 0}, wantOld: 3, wantNew: 1, wantNoScaleAction: true},
		{name: "percent: then one old goes per available new", replicas: 3, surge: "25%", unavail: "25%", old: rs{3, 3}, new: rs{1, 1}, wantOld: 2, wantNew: 1},
		{name: "no surge: old goes first", replicas: 3, surge: "0", unavail: "1", old: rs{3, 3}, new: rs{0, 0}, wantOld: 2, wantNew: 0},
		{name: "no surge, unavailable rounds to 0: one may go anyway", replicas: 3, surge: "0", unavail: "10%", old: rs{3, 3}, new: rs{0, 0}, wantOld: 2, wantNew: 0},
		{name: "unhealthy old pods go first, whatever availability says", replicas: 3, surge: "1", unavail: "1", old: rs{3, 1}, new: rs{1, 0}, wantOld: 2, wantNew: 1},
		{name: "new above replicas is cut to replicas", replicas: 3, surge: "1", unavail: "1", old: rs{0, 0}, new: rs{5, 5}, wantOld: 0, wantNew: 3},
		// Stricter than upstream: the old ReplicaSet was scaled to 1 but
		// its 3 pods are not marked for deletion yet, so they still
		// count against the surge.
		{name: "surge counts pods whose deletion is pending", replicas: 3, surge: "1", unavail: "1", old: rs{1, 1}, new: rs{1, 1}, oldLivePods: 3, wantOld: 1, wantNew: 1, wantNoScaleAction: true},
		{name: "…and grows once they are", replicas: 3, surge: "1", unavail: "1", old: rs{1, 1}, new: rs{1, 1}, oldLivePods: 1, wantOld: 1, wantNew: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testDeployment(tc.replicas, "busybox:v2", rolling(tc.surge, tc.unavail))
			old := rsFor(d, "busybox:v1", "1", tc.old.spec, tc.old.avail, t0.Add(-time.Hour))
			objs := []runtime.Object{d, old}
			var newRS *appsv1.ReplicaSet
			if !tc.noNewReplicaSet {
				newRS = rsFor(d, "busybox:v2", "2", tc.new.spec, tc.new.avail, t0.Add(-time.Minute))
				objs = append(objs, newRS)
			}
			live := tc.oldLivePods
			if live == 0 {
				live = tc.old.spec
			}
			for i := range live {
				objs = append(objs, pod(fmt.Sprintf("old-%d", i), old))
			}
			f := newFixture(t, objs...)
			f.mustReconcile()
			if got := *f.replicaSet(old.Name).Spec.Replicas; got != tc.wantOld {
				t.Errorf("old replica set: %d replicas, want %d", got, tc.wantOld)
			}
			if tc.noNewReplicaSet {
				var created []appsv1.ReplicaSet
				for _, rs := range f.replicaSets() {
					if rs.Name != old.Name {
						created = append(created, rs)
					}
				}
				if len(created) != 1 || *created[0].Spec.Replicas != tc.wantNewCreated || created[0].Annotations[revisionAnnotation] != "2" {
					t.Fatalf("new replica sets %v", created)
				}
				return
			}
			if got := *f.replicaSet(newRS.Name).Spec.Replicas; got != tc.wantNew {
				t.Errorf("new replica set: %d replicas, want %d", got, tc.wantNew)
			}
			scaled := 0
			for _, a := range f.actions() {
				if strings.HasPrefix(a, "update replicasets ") {
					scaled++
				}
			}
			if tc.wantNoScaleAction && scaled != 0 {
				t.Errorf("scaled anyway: %v", f.actions())
			}
			if tc.wantEvent != "" {
				hash := old.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
				if strings.Contains(tc.wantEvent, "up") {
					hash = newRS.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
				}
				if want := fmt.Sprintf(tc.wantEvent, hash); !hasEvent(f.events(), want) {
					t.Errorf("no event %q", want)
				}
			}
		})
	}
}

func pod(name string, rs *appsv1.ReplicaSet) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), Labels: rs.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func TestRecreate(t *testing.T) {
	d := testDeployment(3, "busybox:v2", appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType})
	old := rsFor(d, "busybox:v1", "1", 3, 3, t0.Add(-time.Hour))
	oldPod := pod("old-0", old)
	f := newFixture(t, d, old, oldPod)

	// 1: the old ReplicaSet goes to zero; no new one yet.
	f.mustReconcile()
	if got := *f.replicaSet(old.Name).Spec.Replicas; got != 0 || len(f.replicaSets()) != 1 {
		t.Fatalf("old has %d replicas, %d replica sets", got, len(f.replicaSets()))
	}
	// 2: its pod still terminates: still no new ReplicaSet.
	rs := f.replicaSet(old.Name)
	rs.Status = appsv1.ReplicaSetStatus{ObservedGeneration: 2}
	if _, err := f.client.AppsV1().ReplicaSets("default").UpdateStatus(t.Context(), rs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.resync()
	terminating := oldPod.DeepCopy()
	terminating.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	f.cache(terminating)
	f.mustReconcile()
	if n := len(f.replicaSets()); n != 1 {
		t.Fatalf("new replica set created while an old pod runs (%d replica sets)", n)
	}
	// 3: the pod is gone: the new ReplicaSet is created at full size.
	if err := f.d.Informers.Core().V1().Pods().Informer().GetIndexer().Delete(terminating); err != nil {
		t.Fatal(err)
	}
	f.resync()
	f.mustReconcile()
	var newRS *appsv1.ReplicaSet
	for _, r := range f.replicaSets() {
		if r.Name != old.Name {
			newRS = &r
		}
	}
	if newRS == nil || *newRS.Spec.Replicas != 3 || newRS.Annotations[revisionAnnotation] != "2" {
		t.Fatalf("new replica set %+v", newRS)
	}
	ev := f.events()
	if !hasEvent(ev, "Scaled down replica set "+old.Name+" from 3 to 0") || !hasEvent(ev, "Scaled up replica set "+newRS.Name+" from 0 to 3") {
		t.Fatalf("events %q", ev)
	}
}

// TestRevisionsAcrossUndo: kubectl rollout undo patches an old template
// back; its ReplicaSet becomes the new one with the next revision, and
// its former revisions go to revision-history.
func TestRevisionsAcrossUndo(t *testing.T) {
	d := testDeployment(2, "busybox:v1", rolling("1", "1"))
	v1 := rsFor(d, "busybox:v1", "1", 0, 0, t0.Add(-2*time.Hour))
	v2 := rsFor(d, "busybox:v2", "2", 2, 2, t0.Add(-time.Hour))
	f := newFixture(t, d, v1, v2)
	for i, step := range []struct {
		image, rs, wantRev, wantHistory string
	}{
		{"busybox:v1", v1.Name, "3", "1"},
		{"busybox:v2", v2.Name, "4", "2"},
		{"busybox:v1", v1.Name, "5", "1,3"},
	} {
		dep := f.deployment()
		dep.Spec.Template = template(step.image)
		dep.Generation++
		if _, err := f.client.AppsV1().Deployments("default").Update(t.Context(), dep, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		f.resync()
		f.mustReconcile()
		rs := f.replicaSet(step.rs)
		if rs.Annotations[revisionAnnotation] != step.wantRev || rs.Annotations[revisionHistoryAnnotation] != step.wantHistory {
			t.Fatalf("undo %d: %s has revision %q history %q, want %q %q", i+1, rs.Name,
				rs.Annotations[revisionAnnotation], rs.Annotations[revisionHistoryAnnotation], step.wantRev, step.wantHistory)
		}
		f.resync()
		f.mustReconcile()
		if got := f.deployment().Annotations[revisionAnnotation]; got != step.wantRev {
			t.Fatalf("undo %d: deployment revision %q, want %q", i+1, got, step.wantRev)
		}
		if n := len(f.replicaSets()); n != 2 {
			t.Fatalf("undo %d: %d replica sets", i+1, n)
		}
	}
}

func TestAppendHistoryIsBounded(t *testing.T) {
	h := ""
	for i := 1; i <= 1000; i++ {
		h = appendHistory(h, fmt.Sprint(i))
	}
	if len(h) > maxRevisionHistoryChars || !strings.HasSuffix(h, ",999,1000") {
		t.Fatalf("history of %d chars ending %q", len(h), h[len(h)-20:])
	}
}

// TestProgressDeadline: with no progress for progressDeadlineSeconds the
// Progressing condition turns False/ProgressDeadlineExceeded, and the
// controller comes back by itself when the deadline passes.
func TestProgressDeadline(t *testing.T) {
	d := testDeployment(1, "busybox:v1", rolling("25%", "25%"))
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](10)
	rs := rsFor(d, "busybox:v1", "1", 1, 0, t0)
	d.Annotations = map[string]string{revisionAnnotation: "1"}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, UnavailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: reasonMinimumNotAvailable, Message: "Deployment does not have minimum availability.", LastUpdateTime: metav1.NewTime(t0), LastTransitionTime: metav1.NewTime(t0)},
		{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: reasonRSUpdated, Message: "x", LastUpdateTime: metav1.NewTime(t0), LastTransitionTime: metav1.NewTime(t0)},
	}}
	f := newFixture(t, d, rs)

	f.clock.SetTime(t0.Add(4 * time.Second))
	f.mustReconcile()
	if got := f.actions(); len(got) != 0 {
		t.Fatalf("wrote before the deadline: %v", got)
	}
	// Requeued for the deadline (6 s left, plus a second).
	if f.c.queue.Len() != 0 {
		t.Fatal("requeued at once")
	}
	f.clock.Step(7*time.Second + time.Millisecond)
	controllertest.WaitFor(t, "the Deployment requeued", func() bool { return f.c.queue.Len() == 1 })

	f.mustReconcile()
	dep := f.deployment()
	c := getCondition(dep.Status, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != reasonTimedOut ||
		c.Message != fmt.Sprintf("ReplicaSet %q has timed out progressing.", rs.Name) || !c.LastUpdateTime.Time.Equal(f.clock.Now().Truncate(time.Second)) && !c.LastUpdateTime.Time.Equal(f.clock.Now()) {
		t.Fatalf("Progressing %+v", c)
	}
	// Once failed, it stays failed until a new rollout (no requeue loop).
	f.resync()
	f.client.ClearActions()
	f.clock.Step(time.Hour)
	f.mustReconcile()
	if got := f.actions(); len(got) != 0 {
		t.Fatalf("rewrote a timed-out deployment: %v", got)
	}
	// Progress after all: the condition recovers.
	rs = f.replicaSet(rs.Name)
	rs.Status.AvailableReplicas, rs.Status.ReadyReplicas = 1, 1
	f.cache(rs)
	f.mustReconcile()
	if got := condition(f.deployment(), appsv1.DeploymentProgressing); got != "True/NewReplicaSetAvailable" {
		t.Fatalf("Progressing %s after the pod became available", got)
	}
}

// TestProgressResetsDeadline: any progress moves lastUpdateTime, so a
// slow but moving rollout never times out.
func TestProgressResetsDeadline(t *testing.T) {
	d := testDeployment(3, "busybox:v1", rolling("1", "0"))
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](10)
	rs := rsFor(d, "busybox:v1", "1", 3, 1, t0)
	d.Annotations = map[string]string{revisionAnnotation: "1"}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 1, ReadyReplicas: 1, UnavailableReplicas: 2, Conditions: []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: reasonNewRSCreated, LastUpdateTime: metav1.NewTime(t0), LastTransitionTime: metav1.NewTime(t0)},
	}}
	rs.Status.AvailableReplicas, rs.Status.ReadyReplicas = 2, 2
	f := newFixture(t, d, rs)
	f.clock.SetTime(t0.Add(9 * time.Second))
	f.mustReconcile()
	c := getCondition(f.deployment().Status, appsv1.DeploymentProgressing)
	if c.Reason != reasonRSUpdated || !c.LastUpdateTime.Time.Equal(t0.Add(9*time.Second)) || !c.LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("Progressing %+v", c)
	}
}

func TestPausedDeployment(t *testing.T) {
	d := testDeployment(3, "busybox:v2", rolling("1", "1"))
	d.Spec.Paused = true
	old := rsFor(d, "busybox:v1", "1", 3, 3, t0.Add(-time.Hour))
	f := newFixture(t, d, old)
	f.mustReconcile()
	if n := len(f.replicaSets()); n != 1 {
		t.Fatalf("a paused deployment rolled out: %d replica sets", n)
	}
	if got := condition(f.deployment(), appsv1.DeploymentProgressing); got != "Unknown/DeploymentPaused" {
		t.Fatalf("Progressing %s", got)
	}
	// Scaling still works while paused.
	f.resync()
	dep := f.deployment()
	dep.Spec.Replicas = ptr.To[int32](5)
	dep.Generation++
	f.cache(dep)
	f.mustReconcile()
	rs := f.replicaSet(old.Name)
	if *rs.Spec.Replicas != 5 || rs.Annotations[desiredReplicasAnnotation] != "5" || rs.Annotations[maxReplicasAnnotation] != "6" {
		t.Fatalf("paused scale: %d replicas, annotations %v", *rs.Spec.Replicas, rs.Annotations)
	}
	if st := f.deployment().Status; st.ObservedGeneration != 2 {
		t.Fatalf("observedGeneration %d", st.ObservedGeneration)
	}
	// Resumed: Progressing says so, then the rollout starts.
	f.resync()
	dep = f.deployment()
	dep.Spec.Paused = false
	dep.Generation++
	f.cache(dep)
	f.mustReconcile()
	if got := condition(f.deployment(), appsv1.DeploymentProgressing); got != "True/NewReplicaSetCreated" {
		t.Fatalf("Progressing %s after resume", got)
	}
	if n := len(f.replicaSets()); n != 2 {
		t.Fatalf("resumed deployment did not roll out: %d replica sets", n)
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	d := testDeployment(2, "busybox:v4", rolling("1", "1"))
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	d.Annotations = map[string]string{revisionAnnotation: "4"}
	v1 := rsFor(d, "busybox:v1", "1", 0, 0, t0.Add(-4*time.Hour))
	v2 := rsFor(d, "busybox:v2", "2", 0, 0, t0.Add(-3*time.Hour))
	v3 := rsFor(d, "busybox:v3", "3", 0, 0, t0.Add(-2*time.Hour))
	v4 := rsFor(d, "busybox:v4", "4", 2, 2, t0.Add(-time.Hour))
	// Scaled to 0 but its controller has not caught up: kept for now.
	v2.Generation = 2
	d.Status = calculateStatus([]*appsv1.ReplicaSet{v1, v2, v3, v4}, v4, d, t0)
	f := newFixture(t, d, v1, v2, v3, v4)
	f.mustReconcile()
	var deleted []string
	for _, a := range f.actions() {
		if strings.HasPrefix(a, "delete replicasets ") {
			deleted = append(deleted, strings.TrimPrefix(a, "delete replicasets "))
		}
	}
	if !slices.Equal(deleted, []string{v1.Name}) {
		t.Fatalf("deleted %v, want only %s (revision 1; revision 2 still settling, 3 kept by the limit)", deleted, v1.Name)
	}
}

// TestProportionalScaling is the example of the Kubernetes documentation:
// 10 replicas, maxSurge 3, a rollout stuck at old 8 / new 5, scaled to
// 15: the 5 new replicas go 3 to the old ReplicaSet, 2 to the new one.
func TestProportionalScaling(t *testing.T) {
	d := testDeployment(10, "busybox:v2", rolling("3", "2"))
	old := rsFor(d, "busybox:v1", "1", 8, 8, t0.Add(-time.Hour))
	newRS := rsFor(d, "busybox:v2", "2", 5, 0, t0.Add(-time.Minute))
	d.Spec.Replicas = ptr.To[int32](15)
	f := newFixture(t, d, old, newRS)
	f.mustReconcile()
	if o, n := *f.replicaSet(old.Name).Spec.Replicas, *f.replicaSet(newRS.Name).Spec.Replicas; o != 11 || n != 7 {
		t.Fatalf("old %d new %d, want 11 and 7", o, n)
	}
	for _, name := range []string{old.Name, newRS.Name} {
		if a := f.replicaSet(name).Annotations; a[desiredReplicasAnnotation] != "15" || a[maxReplicasAnnotation] != "18" {
			t.Fatalf("%s annotations %v", name, a)
		}
	}
	ev := f.events()
	if !hasEvent(ev, "Scaled up replica set "+old.Name+" from 8 to 11") || !hasEvent(ev, "Scaled up replica set "+newRS.Name+" from 5 to 7") {
		t.Fatalf("events %q", ev)
	}
}

func TestAdoptAndReleaseReplicaSets(t *testing.T) {
	d := testDeployment(2, "busybox:v1", rolling("1", "1"))
	orphan := rsFor(d, "busybox:v1", "1", 2, 2, t0)
	orphan.OwnerReferences = nil
	strayed := rsFor(d, "busybox:v0", "", 0, 0, t0.Add(-time.Hour))
	strayed.Labels = map[string]string{"app": "other"}
	f := newFixture(t, d, orphan, strayed)
	f.mustReconcile()
	// The cache lists in no particular order: so do the patches.
	got := f.actions()
	want := []string{"get deployments web", "patch replicasets " + orphan.Name, "patch replicasets " + strayed.Name}
	slices.Sort(want)
	if len(got) < 3 || !slices.Equal(slices.Sorted(slices.Values(got[:3])), want) {
		t.Fatalf("actions\n got %v\nwant %v…", got, want)
	}
	if ref := metav1.GetControllerOf(f.replicaSet(orphan.Name)); ref == nil || ref.UID != d.UID {
		t.Fatal("orphan not adopted")
	}
	if refs := f.replicaSet(strayed.Name).OwnerReferences; len(refs) != 0 {
		t.Fatalf("strayed replica set still owned: %v", refs)
	}
	// The adopted one is the new ReplicaSet: no second one is made.
	if n := len(f.replicaSets()); n != 2 {
		t.Fatalf("%d replica sets", n)
	}
}

// TestHashCollision: a ReplicaSet of another owner holds the name: the
// Deployment bumps collisionCount and the next sync uses another name.
func TestHashCollision(t *testing.T) {
	d := testDeployment(1, "busybox:v1", rolling("1", "1"))
	squatter := rsFor(d, "busybox:v1", "", 1, 1, t0)
	squatter.OwnerReferences = nil
	squatter.Labels = map[string]string{"app": "squatter"}
	squatter.Spec.Template.Spec.Containers[0].Image = "other"
	f := newFixture(t, d)
	if _, err := f.client.AppsV1().ReplicaSets("default").Create(t.Context(), squatter, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.cache(squatter)
	err := f.reconcile()
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("err = %v", err)
	}
	if cc := f.deployment().Status.CollisionCount; cc == nil || *cc != 1 {
		t.Fatalf("collisionCount %v", cc)
	}
	f.resync()
	f.mustReconcile()
	want := "web-" + computeHash(&d.Spec.Template, ptr.To[int32](1))
	if want == squatter.Name {
		t.Fatal("collisionCount did not change the hash")
	}
	f.replicaSet(want)
}

func TestSelectingAll(t *testing.T) {
	d := testDeployment(1, "busybox:v1", rolling("1", "1"))
	d.Spec.Selector = &metav1.LabelSelector{}
	d.Generation = 3
	f := newFixture(t, d)
	f.mustReconcile()
	if got := f.actions(); !slices.Equal(got, []string{"update deployments/status web"}) || f.deployment().Status.ObservedGeneration != 3 {
		t.Fatalf("actions %v", got)
	}
	if ev := f.events(); !slices.Contains(ev, "Warning SelectingAll This deployment is selecting all pods. A non-empty selector is required.") {
		t.Fatalf("events %q", ev)
	}
}

func TestStatusCounts(t *testing.T) {
	d := testDeployment(4, "busybox:v2", rolling("1", "1"))
	d.Generation = 7
	old := rsFor(d, "busybox:v1", "1", 2, 2, t0.Add(-time.Hour))
	newRS := rsFor(d, "busybox:v2", "2", 3, 1, t0)
	newRS.Status.ReadyReplicas = 2
	st := calculateStatus([]*appsv1.ReplicaSet{old, newRS}, newRS, d, t0)
	want := appsv1.DeploymentStatus{ObservedGeneration: 7, Replicas: 5, UpdatedReplicas: 3, ReadyReplicas: 4, AvailableReplicas: 3, UnavailableReplicas: 2}
	st.Conditions = nil
	if !equality.Semantic.DeepEqual(st, want) {
		t.Fatalf("status %+v, want %+v", st, want)
	}
	for _, tc := range []struct {
		avail int32
		want  string
	}{{3, "True/MinimumReplicasAvailable"}, {2, "False/MinimumReplicasUnavailable"}} {
		newRS.Status.AvailableReplicas = tc.avail - 2
		dd := d.DeepCopy()
		dd.Status = calculateStatus([]*appsv1.ReplicaSet{old, newRS}, newRS, d, t0)
		if got := condition(dd, appsv1.DeploymentAvailable); got != tc.want {
			t.Errorf("%d available of 4 (maxUnavailable 1): %s, want %s", tc.avail, got, tc.want)
		}
	}
}

// TestReplicaFailurePromoted: a ReplicaSet that cannot create pods shows
// its ReplicaFailure on the Deployment.
func TestReplicaFailurePromoted(t *testing.T) {
	d := testDeployment(1, "busybox:v1", rolling("1", "1"))
	rs := rsFor(d, "busybox:v1", "1", 1, 0, t0)
	rs.Status.Replicas = 0
	rs.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "pods \"web-\" is forbidden: exceeded quota"}}
	f := newFixture(t, d, rs)
	f.mustReconcile()
	c := getCondition(f.deployment().Status, appsv1.DeploymentReplicaFailure)
	if c == nil || c.Reason != "FailedCreate" || !strings.Contains(c.Message, "exceeded quota") {
		t.Fatalf("ReplicaFailure %+v", c)
	}
}

func TestComputeHash(t *testing.T) {
	a, b := template("busybox:v1"), template("busybox:v2")
	ha, hb := computeHash(&a, nil), computeHash(&b, nil)
	if ha != computeHash(&a, nil) || ha == hb || ha == computeHash(&a, ptr.To[int32](1)) || computeHash(&a, ptr.To[int32](1)) == computeHash(&a, ptr.To[int32](2)) {
		t.Fatalf("hashes %s %s", ha, hb)
	}
	// Pinned so that an accidental change of the algorithm shows; it
	// moves, as upstream's, when k8s.io/api adds fields to PodSpec.
	if ha != "6b65b5449" {
		t.Fatalf("hash of the v1 template is %s", ha)
	}
	for _, r := range ha {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			t.Fatalf("hash %s has a character outside rand.SafeEncodeString's alphabet", ha)
		}
	}
}

func TestReconcileMissingDeployment(t *testing.T) {
	f := newFixture(t)
	if err := f.reconcile(); err != nil || len(f.actions()) != 0 {
		t.Fatalf("err %v actions %v", err, f.actions())
	}
}

func TestUpdateConflictIsRetried(t *testing.T) {
	d := testDeployment(1, "busybox:v1", rolling("1", "1"))
	f := newFixture(t, d)
	f.client.PrependReactor("create", "replicasets", func(ktesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("etcd unavailable"))
	})
	err := f.reconcile()
	if err == nil {
		t.Fatal("no error")
	}
	if got := condition(f.deployment(), appsv1.DeploymentProgressing); got != "False/ReplicaSetCreateError" {
		t.Fatalf("Progressing %s", got)
	}
	if ev := f.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning ReplicaSetCreateError Failed to create new replica set") {
		t.Fatalf("events %q", ev)
	}
}

// TestChangeCauseReachesTheNewReplicaSet: annotations added to the
// Deployment after its ReplicaSet was made (kubectl annotate
// kubernetes.io/change-cause) are copied there, where rollout history
// reads them; the controller's own and kubectl's last-applied are not.
func TestChangeCauseReachesTheNewReplicaSet(t *testing.T) {
	d := testDeployment(2, "busybox:v1", rolling("1", "1"))
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "image v1", corev1.LastAppliedConfigAnnotation: "{}", revisionAnnotation: "7"}
	rs := rsFor(d, "busybox:v1", "1", 2, 2, t0)
	f := newFixture(t, d, rs)
	f.mustReconcile()
	got := f.replicaSet(rs.Name).Annotations
	if got["kubernetes.io/change-cause"] != "image v1" || got[corev1.LastAppliedConfigAnnotation] != "" || got[revisionAnnotation] != "1" {
		t.Fatalf("annotations %v", got)
	}
	// The Deployment takes its revision from the ReplicaSet.
	f.resync()
	f.mustReconcile()
	if rev := f.deployment().Annotations[revisionAnnotation]; rev != "1" {
		t.Fatalf("deployment revision %q", rev)
	}
}
