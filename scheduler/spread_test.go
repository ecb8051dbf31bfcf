package scheduler

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/scheduler/internal/fakecluster"
)

func TestDefaultSpreadSelector(t *testing.T) {
	c := fakecluster.New()
	factory := informers.NewSharedInformerFactory(c, 0)
	s, err := New(c, factory, Options{})
	if err != nil {
		t.Fatal(err)
	}
	add := func(idx interface{ Add(any) error }, obj any) {
		if err := idx.Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	add(factory.Core().V1().Services().Informer().GetIndexer(), &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec:       v1.ServiceSpec{Selector: map[string]string{"app": "web"}},
	})
	// A service without a selector selects nothing; one selecting other
	// pods does not count.
	add(factory.Core().V1().Services().Informer().GetIndexer(), &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "external"}})
	add(factory.Core().V1().Services().Informer().GetIndexer(), &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"},
		Spec:       v1.ServiceSpec{Selector: map[string]string{"app": "db"}},
	})
	add(factory.Apps().V1().ReplicaSets().Informer().GetIndexer(), &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-abc"},
		Spec:       appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"pod-template-hash": "abc"}}},
	})
	yes := true
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "shop", Name: "web-abc-1",
		Labels:          map[string]string{"app": "web", "pod-template-hash": "abc"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", Controller: &yes}},
	}}
	sel := s.defaultSpread(pod)
	same := labels.Set{"app": "web", "pod-template-hash": "abc"}
	otherRevision := labels.Set{"app": "web", "pod-template-hash": "xyz"}
	if !sel.Matches(same) || sel.Matches(otherRevision) || sel.Matches(labels.Set{"app": "db"}) {
		t.Errorf("selector %q: want the service's and the ReplicaSet's selectors ANDed", sel)
	}

	lone := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "lone", Labels: map[string]string{"app": "batch"}}}
	if sel := s.defaultSpread(lone); !sel.Empty() {
		t.Errorf("pod with no service or controller got selector %q, want none", sel)
	}
}

func TestRESTConfigRaisesRateLimits(t *testing.T) {
	base := &rest.Config{Host: "https://127.0.0.1:6443", QPS: 5, Burst: 10}
	cfg := RESTConfig(base)
	if cfg.QPS != ClientQPS || cfg.Burst != ClientBurst || cfg.Host != base.Host {
		t.Errorf("config %+v", cfg)
	}
	if base.QPS != 5 || base.Burst != 10 {
		t.Errorf("base config modified")
	}
}
