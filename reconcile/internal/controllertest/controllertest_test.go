package controllertest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestServeCreatesAndActions(t *testing.T) {
	client := fake.NewClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "old"}})
	ServeCreates(client, clocktesting.NewFakeClock(t0))
	ctx := context.Background()
	pods := client.CoreV1().Pods("ns")
	byPrefix, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	named, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db", UID: "mine"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if byPrefix.Name != "web-00001" || byPrefix.UID != "uid-1" || !byPrefix.CreationTimestamp.Time.Equal(t0) {
		t.Fatalf("created by generateName: %s %s %v", byPrefix.Name, byPrefix.UID, byPrefix.CreationTimestamp)
	}
	if named.Name != "db" || named.UID != "mine" || !named.CreationTimestamp.Time.Equal(t0) {
		t.Fatalf("created by name: %s %s %v", named.Name, named.UID, named.CreationTimestamp)
	}
	if stored, err := pods.Get(ctx, "web-00001", metav1.GetOptions{}); err != nil || stored.UID != "uid-1" {
		t.Fatalf("stored %v, %v", stored, err)
	}
	if _, err := pods.UpdateStatus(ctx, named, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Patch(ctx, "db", types.StrategicMergePatchType, []byte(`{}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "old", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"create pods web-*", "create pods db", "get pods web-00001", "update pods/status db", "patch pods db", "delete pods old"}
	if got := Actions(client); !slices.Equal(got, want) {
		t.Fatalf("actions\n got %q\nwant %q", got, want)
	}
}

func TestServeCreatesWithoutClockLeavesCreationTime(t *testing.T) {
	client := fake.NewClientset()
	ServeCreates(client, nil)
	cm, err := client.CoreV1().ConfigMaps("ns").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "c-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Name != "c-00001" || cm.UID != "uid-1" || !cm.CreationTimestamp.IsZero() {
		t.Fatalf("%s %s %v", cm.Name, cm.UID, cm.CreationTimestamp)
	}
}

func TestEventsDrains(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	pod := &corev1.Pod{}
	rec.Event(pod, corev1.EventTypeNormal, "Created", "one")
	rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "two %d", 2)
	if got := Events(rec); !slices.Equal(got, []string{"Normal Created one", "Warning Failed two 2"}) {
		t.Fatalf("events %q", got)
	}
	if got := Events(rec); len(got) != 0 {
		t.Fatalf("events after draining: %q", got)
	}
}

func TestCache(t *testing.T) {
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-1"}}
	Cache(t, factory, rs, pod)
	if got, err := factory.Apps().V1().ReplicaSets().Lister().ReplicaSets("ns").Get("web"); err != nil || got != rs {
		t.Fatalf("replicaset lister: %v, %v", got, err)
	}
	if got, err := factory.Core().V1().Pods().Lister().Pods("ns").Get("web-1"); err != nil || got != pod {
		t.Fatalf("pod lister: %v, %v", got, err)
	}
}

func TestEventuallyAndWaitFor(t *testing.T) {
	n := 0
	Eventually(t, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	WaitFor(t, "three more polls", func() bool { n++; return n >= 6 })
	if n != 6 {
		t.Fatalf("polled %d times", n)
	}
}

func TestCacheCurrent(t *testing.T) {
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	lister := factory.Core().V1().Pods().Lister()
	gvr, gvk := corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod")
	if !CacheCurrent(client, gvr, gvk, lister) {
		t.Fatal("an empty cache of an empty API is not current")
	}
	pod, err := client.CoreV1().Pods("ns").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if CacheCurrent(client, gvr, gvk, lister) {
		t.Fatal("current without the created pod")
	}
	// As the API stored it (the tracker keeps its type meta too).
	Cache(t, factory, pod.DeepCopy())
	if !CacheCurrent(client, gvr, gvk, lister) {
		t.Fatal("not current with the pod cached")
	}
	pod.Labels = map[string]string{"app": "web"}
	if _, err := client.CoreV1().Pods("ns").Update(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if CacheCurrent(client, gvr, gvk, lister) {
		t.Fatal("current with an outdated pod cached")
	}
}
