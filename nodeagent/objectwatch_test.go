package nodeagent

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestMountedObjects(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}, Spec: corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "pcm"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "psec"}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{}},
			}}}},
			{Name: "d", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
		// Environment variables are read at container start only.
		Containers: []corev1.Container{{Name: "c", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env"}}}}}},
	}}
	got := mountedObjects([]*corev1.Pod{pod})
	want := map[objectRef]bool{
		{namespace: "ns", name: "cm"}: true, {secret: true, namespace: "ns", name: "sec"}: true,
		{namespace: "ns", name: "pcm"}: true, {secret: true, namespace: "ns", name: "psec"}: true,
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for r := range want {
		if !got[r] {
			t.Errorf("%+v not watched", r)
		}
	}
}

func TestObjectWatcherReportsChangesOfWatchedObjects(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := fake.NewSimpleClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm", ResourceVersion: "1"}, Data: map[string]string{"k": "v1"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sec", ResourceVersion: "1"}},
	)
	var mu sync.Mutex
	var changes []objectRef
	w := newObjectWatcher(cs, func(r objectRef) { mu.Lock(); changes = append(changes, r); mu.Unlock() })
	cmRef, secRef := objectRef{namespace: "ns", name: "cm"}, objectRef{secret: true, namespace: "ns", name: "sec"}
	w.set(ctx, map[objectRef]bool{cmRef: true, secRef: true})
	if w.watched() != 2 {
		t.Fatalf("watching %d objects, want 2", w.watched())
	}
	seen := func(r objectRef) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range changes {
			if c == r {
				return true
			}
		}
		return false
	}
	// The initial list is no change; an update is, whenever it comes
	// (the watch may not be open yet: retry the update until it is seen).
	time.Sleep(100 * time.Millisecond)
	if seen(cmRef) || seen(secRef) {
		t.Fatalf("initial list reported as a change: %v", changes)
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := 2; !seen(cmRef); i++ {
		if time.Now().After(deadline) {
			t.Fatal("ConfigMap update not reported")
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm", ResourceVersion: string(rune('0' + i%10))}, Data: map[string]string{"k": "v2"}}
		if _, err := cs.CoreV1().ConfigMaps("ns").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// No pod mounts the Secret any more: its watch stops, the
	// ConfigMap's stays.
	w.set(ctx, map[objectRef]bool{cmRef: true})
	if w.watched() != 1 {
		t.Fatalf("watching %d objects, want 1", w.watched())
	}
	if err := cs.CoreV1().Secrets("ns").Delete(ctx, "sec", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if seen(secRef) {
		t.Error("a change of an object no longer watched was reported")
	}
}
