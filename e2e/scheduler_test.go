package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// node registers a Node as the node agent will: capacity, allocatable,
// the hostname label, and a Ready condition written through status.
func node(t *testing.T, cs *kubernetes.Clientset, name, cpu, mem string, mutate func(*corev1.Node)) {
	t.Helper()
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
		Status: corev1.NodeStatus{
			Capacity: res, Allocatable: res,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}},
		},
	}
	if mutate != nil {
		mutate(n)
	}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func pod(name string, owner *metav1.OwnerReference, cpu, mem string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:local",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

// placement waits until the named pods are all bound and returns pod → node.
func placement(t *testing.T, cs *kubernetes.Clientset, ns string, names []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	eventually(t, 30*time.Second, func() error {
		list, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, p := range list.Items {
			if p.Spec.NodeName != "" {
				out[p.Name] = p.Spec.NodeName
			}
		}
		for _, n := range names {
			if out[n] == "" {
				return fmt.Errorf("pod %s not bound yet (%d/%d bound)", n, len(out), len(names))
			}
		}
		return nil
	})
	return out
}

func createNamespace(t *testing.T, cs *kubernetes.Clientset, ns string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestSchedulerPlacesPodsLikeKubeScheduler is acceptance 2 of the
// scheduler issue, against the real server with three registered nodes.
func TestSchedulerPlacesPodsLikeKubeScheduler(t *testing.T) {
	// The nodes are hand-registered without agents (no lease renewals)
	// and the ReplicaSet's pods are hand-made with chosen names: the node
	// lifecycle and ReplicaSet controllers would act on both.
	s := startServer(t, "--controllers=*,-nodelifecycle,-replicaset")
	cs := clientset(t, s)
	ctx := context.Background()
	for _, n := range []string{"n1", "n2", "n3"} {
		node(t, cs, n, "8", "16Gi", nil)
	}

	t.Run("spread across nodes", func(t *testing.T) {
		ns := "spread"
		createNamespace(t, cs, ns)
		rs, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](30), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: pod("x", nil, "100m", "64Mi").Spec}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		owner := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}
		var names []string
		for i := 0; i < 30; i++ {
			name := fmt.Sprintf("web-%02d", i)
			names = append(names, name)
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod(name, owner, "100m", "64Mi"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		per := map[string]int{}
		for _, n := range placement(t, cs, ns, names) {
			per[n]++
		}
		if per["n1"] != 10 || per["n2"] != 10 || per["n3"] != 10 {
			t.Fatalf("30 pods of one owner landed %v, want 10/10/10", per)
		}
	})

	t.Run("too big waits for a bigger node", func(t *testing.T) {
		ns := "big"
		createNamespace(t, cs, ns)
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod("huge", nil, "1", "64Gi"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := "0/3 nodes are available: 3 Insufficient memory."
		eventually(t, 10*time.Second, func() error {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, "huge", metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == "Unschedulable" && c.Message == want {
					return nil
				}
			}
			return fmt.Errorf("conditions %+v", p.Status.Conditions)
		})
		eventually(t, 10*time.Second, func() error {
			evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=huge,reason=FailedScheduling"})
			if err != nil {
				return err
			}
			for _, e := range evs.Items {
				if e.Type == corev1.EventTypeWarning && e.Message == want {
					return nil
				}
			}
			return fmt.Errorf("no FailedScheduling event %q in %+v", want, evs.Items)
		})
		// Let the pod's first backoff pass, so what follows measures the
		// reaction to the node, not the backoff.
		time.Sleep(1500 * time.Millisecond)
		added := time.Now()
		node(t, cs, "n4-big", "16", "128Gi", nil)
		got := placement(t, cs, ns, []string{"huge"})
		took := time.Since(added)
		if got["huge"] != "n4-big" {
			t.Fatalf("huge pod went to %s", got["huge"])
		}
		t.Logf("scheduled %s after the bigger node was added", took.Round(time.Millisecond))
		// Event-driven: kube-scheduler's backoff tops out at 10 s and the
		// unschedulable flush is 5 min, so anything under them was the node event.
		if took > 5*time.Second {
			t.Fatalf("scheduled %s after the node was added; not event-driven", took)
		}
		if err := cs.CoreV1().Nodes().Delete(ctx, "n4-big", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("taints and node selectors", func(t *testing.T) {
		ns := "taints"
		createNamespace(t, cs, ns)
		node(t, cs, "gpu", "8", "16Gi", func(n *corev1.Node) {
			n.Labels["accelerator"] = "gpu"
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		})
		var plain, tolerating []string
		for i := 0; i < 12; i++ {
			name := fmt.Sprintf("plain-%02d", i)
			plain = append(plain, name)
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod(name, nil, "10m", "8Mi"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 4; i++ {
			name := fmt.Sprintf("gpu-job-%d", i)
			tolerating = append(tolerating, name)
			p := pod(name, nil, "10m", "8Mi")
			p.Spec.NodeSelector = map[string]string{"accelerator": "gpu"}
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		got := placement(t, cs, ns, append(plain, tolerating...))
		for _, name := range plain {
			if got[name] == "gpu" {
				t.Errorf("pod %s without a toleration landed on the tainted node", name)
			}
		}
		for _, name := range tolerating {
			if got[name] != "gpu" {
				t.Errorf("nodeSelector pod %s landed on %s, not the labelled node", name, got[name])
			}
		}
	})
}

// TestSchedulerBurstNeverOvercommits is acceptance 3 of the scheduler
// issue: 500 pods against room for exactly 400.
func TestSchedulerBurstNeverOvercommits(t *testing.T) {
	s := startServer(t)
	cs := clientset(t, s)
	ctx := context.Background()
	// 4 nodes × 10 cpu = room for exactly 400 pods of 100m.
	for i := 0; i < 4; i++ {
		node(t, cs, fmt.Sprintf("n%d", i), "10", "64Gi", nil)
	}
	createNamespace(t, cs, "burst")
	var wg sync.WaitGroup
	errs := make(chan error, 500)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < 500; i += 20 {
				if _, err := cs.CoreV1().Pods("burst").Create(ctx, pod(fmt.Sprintf("p-%03d", i), nil, "100m", "16Mi"), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var bound, pending int
	perNode := map[string]int{}
	eventually(t, 60*time.Second, func() error {
		list, err := cs.CoreV1().Pods("burst").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		bound, pending = 0, 0
		perNode = map[string]int{}
		withReason := 0
		for _, p := range list.Items {
			if p.Spec.NodeName != "" {
				bound++
				perNode[p.Spec.NodeName]++
				continue
			}
			pending++
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && strings.Contains(c.Message, "Insufficient cpu") {
					withReason++
				}
			}
		}
		if bound != 400 || withReason != 100 {
			return fmt.Errorf("%d bound, %d pending (%d with the reason)", bound, pending, withReason)
		}
		return nil
	})
	for n, c := range perNode {
		if c > 100 {
			t.Fatalf("node %s got %d pods of 100m on 10 cpu: over-committed", n, c)
		}
	}
	// Nothing more is bound later: the scheduler does not over-commit once
	// it has caught up either.
	time.Sleep(2 * time.Second)
	list, _ := cs.CoreV1().Pods("burst").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName="})
	if len(list.Items) != 100 {
		t.Fatalf("%d pods pending after settling, want 100", len(list.Items))
	}
}
