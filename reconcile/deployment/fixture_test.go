package deployment

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a controller over a fake clientset whose informer caches
// the test fills by hand (sample-controller's way): Reconcile sees only
// what the test cached, and the test asserts the requests it sent.
type fixture struct {
	t      *testing.T
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	rec    *record.FakeRecorder
	d      *manager.Deps
	c      *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, client: fake.NewClientset(objs...), clock: clocktesting.NewFakeClock(t0), rec: record.NewFakeRecorder(1000)}
	f.d = manager.NewDeps(f.client, nil, slog.New(slog.DiscardHandler), f.clock, 0)
	c, err := New(f.d)
	if err != nil {
		t.Fatal(err)
	}
	c.recorder = f.rec
	f.c = c
	for _, o := range objs {
		f.cache(o)
	}
	f.client.ClearActions()
	return f
}

// cache puts an object into the informer store, as a watch event would.
func (f *fixture) cache(o runtime.Object) {
	f.t.Helper()
	controllertest.Cache(f.t, f.d.Informers, o)
}

// resync copies what the fake API server holds into the caches: the
// informers catching up after a sync.
func (f *fixture) resync() {
	f.t.Helper()
	ctx := context.Background()
	ds, _ := f.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	for i := range ds.Items {
		f.cache(&ds.Items[i])
	}
	idx := f.d.Informers.Apps().V1().ReplicaSets().Informer().GetIndexer()
	rss, _ := f.client.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	keep := map[string]bool{}
	for i := range rss.Items {
		f.cache(&rss.Items[i])
		keep[rss.Items[i].Name] = true
	}
	for _, o := range idx.List() {
		if rs := o.(*appsv1.ReplicaSet); !keep[rs.Name] {
			_ = idx.Delete(rs)
		}
	}
}

func (f *fixture) reconcile() error {
	f.t.Helper()
	return f.c.Reconcile(context.Background(), "default/web")
}

func (f *fixture) mustReconcile() {
	f.t.Helper()
	if err := f.reconcile(); err != nil {
		f.t.Fatal(err)
	}
}

// actions are the requests sent, as "verb resource[/sub] name".
func (f *fixture) actions() []string { return controllertest.Actions(f.client) }

func (f *fixture) events() []string { return controllertest.Events(f.rec) }

func (f *fixture) deployment() *appsv1.Deployment {
	f.t.Helper()
	d, err := f.client.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) replicaSet(name string) *appsv1.ReplicaSet {
	f.t.Helper()
	rs, err := f.client.AppsV1().ReplicaSets("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return rs
}

func (f *fixture) replicaSets() []appsv1.ReplicaSet {
	f.t.Helper()
	l, err := f.client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return l.Items
}

var webLabels = map[string]string{"app": "web"}

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}
}

func rolling(surge, unavailable string) appsv1.DeploymentStrategy {
	return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.Parse(surge)), MaxUnavailable: ptr.To(intstr.Parse(unavailable)),
	}}
}

func testDeployment(replicas int32, image string, strategy appsv1.DeploymentStrategy) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "web-uid", Generation: 1, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr.To(replicas),
			Selector:                &metav1.LabelSelector{MatchLabels: webLabels},
			Template:                template(image),
			Strategy:                strategy,
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
}

// rsFor is the ReplicaSet the controller would have made for image.
func rsFor(d *appsv1.Deployment, image string, revision string, replicas, available int32, created time.Time) *appsv1.ReplicaSet {
	t := template(image)
	hash := computeHash(&t, nil)
	t.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-" + hash, Namespace: "default", UID: types.UID("rs-" + image), Labels: t.Labels,
			CreationTimestamp: metav1.NewTime(created), Generation: 1,
			Annotations: map[string]string{
				revisionAnnotation:        revision,
				desiredReplicasAnnotation: fmt.Sprint(*d.Spec.Replicas),
				maxReplicasAnnotation:     fmt.Sprint(*d.Spec.Replicas + maxSurge(d)),
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr.To(true)}},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: hash}},
			Template: t,
		},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available, ObservedGeneration: 1},
	}
	return rs
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) string {
	c := getCondition(d.Status, t)
	if c == nil {
		return "<none>"
	}
	return fmt.Sprintf("%s/%s", c.Status, c.Reason)
}

func hasEvent(events []string, want string) bool {
	for _, e := range events {
		if strings.Contains(e, want) {
			return true
		}
	}
	return false
}
