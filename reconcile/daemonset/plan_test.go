package daemonset

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testNode(name string, mut ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	for _, m := range mut {
		m(n)
	}
	return n
}

func tainted(key string, effect corev1.TaintEffect) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: "x", Effect: effect})
	}
}

func labelled(k, v string) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Labels[k] = v }
}

func testDS(mut ...func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "ds-uid", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agent:v1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))}},
			RevisionHistoryLimit: ptr.To[int32](10),
		},
	}
	for _, m := range mut {
		m(ds)
	}
	return ds
}

// dsPod is a daemon pod bound to node at the template hash; ready
// pods became ready at t0.
func dsPod(name, node, hash string, ready bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0),
			Labels: map[string]string{"app": "agent", appsv1.DefaultDaemonSetUniqueLabelKey: hash}},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(t0)}}
	return p
}

func TestNodeShouldRun(t *testing.T) {
	withSelector := func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "edge"} }
	withAffinity := func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}
	}
	tolerating := func(key string) func(*appsv1.DaemonSet) {
		return func(ds *appsv1.DaemonSet) {
			ds.Spec.Template.Spec.Tolerations = append(ds.Spec.Template.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
		}
	}
	hostNetwork := func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.HostNetwork = true }
	for _, tc := range []struct {
		name           string
		node           *corev1.Node
		ds             *appsv1.DaemonSet
		run, continues bool
	}{
		{"plain node", testNode("n"), testDS(), true, true},
		{"nodeSelector matches", testNode("n", labelled("role", "edge")), testDS(withSelector), true, true},
		{"nodeSelector does not match", testNode("n"), testDS(withSelector), false, false},
		{"required affinity matches", testNode("n", labelled("zone", "a")), testDS(withAffinity), true, true},
		{"required affinity does not match", testNode("n", labelled("zone", "b")), testDS(withAffinity), false, false},
		{"template nodeName elsewhere", testNode("n"), testDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeName = "m" }), false, false},
		{"untolerated NoSchedule keeps a running pod", testNode("n", tainted("dedicated", corev1.TaintEffectNoSchedule)), testDS(), false, true},
		{"untolerated NoExecute evicts", testNode("n", tainted("dedicated", corev1.TaintEffectNoExecute)), testDS(), false, false},
		{"PreferNoSchedule is only a preference", testNode("n", tainted("dedicated", corev1.TaintEffectPreferNoSchedule)), testDS(), true, true},
		{"tolerated NoSchedule", testNode("n", tainted("dedicated", corev1.TaintEffectNoSchedule)), testDS(tolerating("dedicated")), true, true},
		{"cordoned: daemons tolerate unschedulable", testNode("n", tainted(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), testDS(), true, true},
		{"memory pressure tolerated", testNode("n", tainted(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)), testDS(), true, true},
		{"not-ready NoExecute tolerated", testNode("n", tainted(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)), testDS(), true, true},
		{"unreachable NoExecute tolerated", testNode("n", tainted(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)), testDS(), true, true},
		{"network unavailable blocks a pod network daemon", testNode("n", tainted(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), testDS(), false, true},
		{"network unavailable tolerated with hostNetwork", testNode("n", tainted(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), testDS(hostNetwork), true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, cont := nodeShouldRun(tc.node, tc.ds)
			if run != tc.run || cont != tc.continues {
				t.Fatalf("shouldRun %v shouldContinue %v, want %v %v", run, cont, tc.run, tc.continues)
			}
		})
	}
}

func TestDaemonTolerationsReplaceBoundedOnes(t *testing.T) {
	spec := &corev1.PodSpec{Tolerations: []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		{Key: "mine", Operator: corev1.TolerationOpExists},
	}}
	addDaemonTolerations(spec)
	addDaemonTolerations(spec) // idempotent
	if len(spec.Tolerations) != 7 {
		t.Fatalf("%d tolerations: %+v", len(spec.Tolerations), spec.Tolerations)
	}
	if s := spec.Tolerations[0].TolerationSeconds; s != nil {
		t.Fatalf("not-ready toleration still bounded to %ds: a daemon would be evicted from a not-ready node", *s)
	}
	if spec.Tolerations[1].Key != "mine" {
		t.Fatalf("user toleration moved or lost: %+v", spec.Tolerations)
	}
}

func TestPinToNode(t *testing.T) {
	user := &corev1.Affinity{
		NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}},
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 1}},
		},
		PodAntiAffinity: &corev1.PodAntiAffinity{},
	}
	got := pinToNode(user, "n1")
	terms := got.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 0 || len(terms[0].MatchFields) != 1 ||
		terms[0].MatchFields[0].Key != "metadata.name" || terms[0].MatchFields[0].Values[0] != "n1" {
		t.Fatalf("required terms %+v", terms)
	}
	if len(got.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 || got.PodAntiAffinity == nil {
		t.Fatal("other affinity rules dropped")
	}
	if len(user.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions) != 1 {
		t.Fatal("the template's affinity was modified")
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Affinity: pinToNode(nil, "n2")}}
	if n, ok := targetNode(pod); !ok || n != "n2" {
		t.Fatalf("target of unbound pod %q %v", n, ok)
	}
	pod.Spec.NodeName = "n3"
	if n, _ := targetNode(pod); n != "n3" {
		t.Fatalf("target of bound pod %q", n)
	}
	if _, ok := targetNode(&corev1.Pod{}); ok {
		t.Fatal("a pod with no node and no pin has a target")
	}
}

func podNames(pods []*corev1.Pod) string {
	var s []string
	for _, p := range pods {
		s = append(s, p.Name)
	}
	return strings.Join(s, ",")
}

func TestDecideNode(t *testing.T) {
	surge := func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}
	}
	older := func(p *corev1.Pod) *corev1.Pod { p.CreationTimestamp = metav1.NewTime(t0.Add(-time.Minute)); return p }
	failed := func(p *corev1.Pod) *corev1.Pod { p.Status.Phase = corev1.PodFailed; return p }
	succeeded := func(p *corev1.Pod) *corev1.Pod { p.Status.Phase = corev1.PodSucceeded; return p }
	deleting := func(p *corev1.Pod) *corev1.Pod { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0)); return p }
	for _, tc := range []struct {
		name                      string
		ds                        *appsv1.DaemonSet
		node                      *corev1.Node
		pods                      []*corev1.Pod
		create                    bool
		remove, failed, succeeded string
	}{
		{name: "empty node gets a pod", ds: testDS(), node: testNode("n"), create: true},
		{name: "one pod is enough", ds: testDS(), node: testNode("n"), pods: []*corev1.Pod{dsPod("a", "n", "h1", true)}},
		{name: "duplicates: the oldest stays", ds: testDS(), node: testNode("n"),
			pods: []*corev1.Pod{dsPod("new", "n", "h1", true), older(dsPod("old", "n", "h1", true))}, remove: "new"},
		{name: "ineligible node loses its pods", ds: testDS(), node: testNode("n", tainted("k", corev1.TaintEffectNoExecute)),
			pods: []*corev1.Pod{dsPod("a", "n", "h1", true), deleting(dsPod("b", "n", "h1", true))}, remove: "a"},
		{name: "NoSchedule keeps it", ds: testDS(), node: testNode("n", tainted("k", corev1.TaintEffectNoSchedule)),
			pods: []*corev1.Pod{dsPod("a", "n", "h1", true)}},
		{name: "NoSchedule adds none", ds: testDS(), node: testNode("n", tainted("k", corev1.TaintEffectNoSchedule))},
		{name: "exited pods are reported, replaced later", ds: testDS(), node: testNode("n"),
			pods: []*corev1.Pod{failed(dsPod("f", "n", "h1", false)), succeeded(dsPod("s", "n", "h1", false))}, failed: "f", succeeded: "s"},
		{name: "a terminating pod holds the node", ds: testDS(), node: testNode("n"), pods: []*corev1.Pod{deleting(dsPod("a", "n", "h1", true))}},
		{name: "surge: an exited pod is replaced at once", ds: testDS(surge), node: testNode("n"),
			pods: []*corev1.Pod{failed(dsPod("f", "n", "h1", false))}, create: true, failed: "f"},
		{name: "surge: old stays until new is available", ds: testDS(surge), node: testNode("n"),
			pods: []*corev1.Pod{older(dsPod("old", "n", "h1", true)), dsPod("new", "n", "h2", false)}},
		{name: "surge: old goes once new is available", ds: testDS(surge), node: testNode("n"),
			pods: []*corev1.Pod{older(dsPod("old", "n", "h1", true)), dsPod("new", "n", "h2", true)}, remove: "old"},
		{name: "surge: a not-ready old pod goes at once", ds: testDS(surge), node: testNode("n"),
			pods: []*corev1.Pod{older(dsPod("old", "n", "h1", false)), dsPod("new", "n", "h2", false)}, remove: "old"},
		{name: "surge: a third pod goes", ds: testDS(surge), node: testNode("n"),
			pods: []*corev1.Pod{older(dsPod("old", "n", "h1", true)), dsPod("new", "n", "h2", false), dsPod("new2", "n", "h2", false)}, remove: "new2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decideNode(tc.node, tc.pods, tc.ds, "h2", t0)
			if d.create != tc.create || podNames(d.remove) != tc.remove || podNames(d.failed) != tc.failed || podNames(d.succeeded) != tc.succeeded {
				t.Fatalf("create %v remove %q failed %q succeeded %q; want %v %q %q %q",
					d.create, podNames(d.remove), podNames(d.failed), podNames(d.succeeded), tc.create, tc.remove, tc.failed, tc.succeeded)
			}
		})
	}
}

func TestRollingUpdateChoices(t *testing.T) {
	nodes := []*corev1.Node{testNode("n1"), testNode("n2"), testNode("n3"), testNode("n4")}
	maxUnavailable := func(v intstr.IntOrString) func(*appsv1.DaemonSet) {
		return func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &v }
	}
	surge := func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(0))
		ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(1))
	}
	all := func(pods ...*corev1.Pod) map[string][]*corev1.Pod {
		m := map[string][]*corev1.Pod{}
		for _, p := range pods {
			m[p.Spec.NodeName] = append(m[p.Spec.NodeName], p)
		}
		return m
	}
	for _, tc := range []struct {
		name           string
		ds             *appsv1.DaemonSet
		pods           map[string][]*corev1.Pod
		remove, create string
	}{
		{"maxUnavailable 1: one node at a time, in name order", testDS(),
			all(dsPod("p1", "n1", "old", true), dsPod("p2", "n2", "old", true), dsPod("p3", "n3", "old", true), dsPod("p4", "n4", "old", true)), "p1", ""},
		{"maxUnavailable 50%: two nodes", testDS(maxUnavailable(intstr.FromString("50%"))),
			all(dsPod("p1", "n1", "old", true), dsPod("p2", "n2", "old", true), dsPod("p3", "n3", "old", true), dsPod("p4", "n4", "old", true)), "p1,p2", ""},
		{"an unavailable new pod uses the budget", testDS(),
			all(dsPod("p1", "n1", "new", false), dsPod("p2", "n2", "old", true), dsPod("p3", "n3", "old", true), dsPod("p4", "n4", "old", true)), "", ""},
		{"a node without a pod uses the budget", testDS(),
			all(dsPod("p2", "n2", "old", true), dsPod("p3", "n3", "old", true), dsPod("p4", "n4", "old", true)), "", ""},
		{"an unavailable old pod is replaced regardless", testDS(),
			all(dsPod("p1", "n1", "new", false), dsPod("p2", "n2", "old", true), dsPod("p3", "n3", "old", false), dsPod("p4", "n4", "old", true)), "p3", ""},
		{"done", testDS(),
			all(dsPod("p1", "n1", "new", true), dsPod("p2", "n2", "new", true), dsPod("p3", "n3", "new", true), dsPod("p4", "n4", "new", true)), "", ""},
		{"surge 1: a new pod beside one old", testDS(surge),
			all(dsPod("p1", "n1", "old", true), dsPod("p2", "n2", "old", true), dsPod("p3", "n3", "old", true), dsPod("p4", "n4", "old", true)), "", "n1"},
		{"surge: the old pod goes when the new one is available, the next node surges", testDS(surge),
			all(dsPod("p1", "n1", "old", true), dsPod("q1", "n1", "new", true), dsPod("p2", "n2", "old", true), dsPod("p3", "n3", "old", true), dsPod("p4", "n4", "old", true)), "p1", "n2"},
		{"surge: waiting on an unavailable new pod", testDS(surge),
			all(dsPod("p1", "n1", "old", true), dsPod("q1", "n1", "new", false), dsPod("p2", "n2", "old", true), dsPod("p3", "n3", "old", true), dsPod("p4", "n4", "old", true)), "", ""},
		{"surge: an unavailable old pod is surged past the budget", testDS(surge),
			all(dsPod("p1", "n1", "old", true), dsPod("q1", "n1", "new", false), dsPod("p2", "n2", "old", false), dsPod("p3", "n3", "old", true), dsPod("p4", "n4", "old", true)), "", "n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			remove, create, err := rollingUpdate(tc.ds, nodes, tc.pods, "new", t0)
			if err != nil {
				t.Fatal(err)
			}
			if podNames(remove) != tc.remove || strings.Join(create, ",") != tc.create {
				t.Fatalf("remove %q create %q, want %q %q", podNames(remove), strings.Join(create, ","), tc.remove, tc.create)
			}
		})
	}
}

// TestRollingUpdateNeverExceedsMaxUnavailable runs whole rollouts
// through the manage and rolling-update decisions against a simulated
// cluster (a created pod is ready one round later, a deleted pod gone one
// round later) and checks upstream's promise at every round.
func TestRollingUpdateNeverExceedsMaxUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name          string
		nodes, budget int
		surge         bool
		wantRounds    int
	}{
		{name: "5 nodes, maxUnavailable 1", nodes: 5, budget: 1, wantRounds: 10},
		{name: "5 nodes, maxUnavailable 2", nodes: 5, budget: 2, wantRounds: 6},
		{name: "5 nodes, maxSurge 1", nodes: 5, budget: 1, surge: true, wantRounds: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := testDS()
			if tc.surge {
				ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(0))
				ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(int32(tc.budget)))
			} else {
				ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(int32(tc.budget)))
			}
			var nodes []*corev1.Node
			byNode := map[string][]*corev1.Pod{}
			for i := range tc.nodes {
				name := fmt.Sprintf("n%d", i)
				nodes = append(nodes, testNode(name))
				byNode[name] = []*corev1.Pod{dsPod("old-"+name, name, "old", true)}
			}
			seq := 0
			var pendingReady []*corev1.Pod
			var pendingGone []string
			rounds := 0
			for ; rounds < 50; rounds++ {
				// The cluster moves: last round's pods turn ready, deleted ones vanish.
				for _, p := range pendingReady {
					p.Status.Conditions[0].Status = corev1.ConditionTrue
				}
				for _, name := range pendingGone {
					for n, pods := range byNode {
						byNode[n] = slices.DeleteFunc(pods, func(p *corev1.Pod) bool { return p.Name == name })
					}
				}
				pendingReady, pendingGone = nil, nil

				available, surplus := 0, 0
				for _, n := range nodes {
					live := 0
					for _, p := range byNode[n.Name] {
						if p.DeletionTimestamp == nil {
							live++
							if podAvailable(p, 0, t0) {
								available++
								break
							}
						}
					}
					surplus += max(live-1, 0)
				}
				if !tc.surge && tc.nodes-available > tc.budget {
					t.Fatalf("round %d: %d nodes without an available pod, maxUnavailable %d", rounds, tc.nodes-available, tc.budget)
				}
				if tc.surge && (available < tc.nodes || surplus > tc.budget) {
					t.Fatalf("round %d: %d available of %d, %d surge pods (maxSurge %d)", rounds, available, tc.nodes, surplus, tc.budget)
				}

				var createOn []string
				var remove []*corev1.Pod
				for _, n := range nodes {
					d := decideNode(n, byNode[n.Name], ds, "new", t0)
					if d.create {
						createOn = append(createOn, n.Name)
					}
					remove = append(remove, d.remove...)
				}
				if len(createOn) == 0 && len(remove) == 0 {
					r, c, err := rollingUpdate(ds, nodes, byNode, "new", t0)
					if err != nil {
						t.Fatal(err)
					}
					remove, createOn = r, c
				}
				if len(createOn) == 0 && len(remove) == 0 {
					break
				}
				for _, n := range createOn {
					seq++
					p := dsPod(fmt.Sprintf("new-%d", seq), n, "new", false)
					byNode[n] = append(byNode[n], p)
					pendingReady = append(pendingReady, p)
				}
				for _, p := range remove {
					p.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
					pendingGone = append(pendingGone, p.Name)
				}
			}
			for _, n := range nodes {
				if len(byNode[n.Name]) != 1 || byNode[n.Name][0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != "new" {
					t.Fatalf("node %s ends with %s", n.Name, podNames(byNode[n.Name]))
				}
			}
			if rounds != tc.wantRounds {
				t.Fatalf("rollout took %d rounds, want %d", rounds, tc.wantRounds)
			}
		})
	}
}

func TestComputeStatus(t *testing.T) {
	ds := testDS(func(ds *appsv1.DaemonSet) { ds.Spec.MinReadySeconds = 30 })
	nodes := []*corev1.Node{testNode("n1"), testNode("n2"), testNode("n3"), testNode("gone", tainted("k", corev1.TaintEffectNoExecute)), testNode("empty")}
	fresh := dsPod("p3", "n3", "new", true)
	fresh.Status.Conditions[0].LastTransitionTime = metav1.NewTime(t0.Add(50 * time.Second))
	byNode := map[string][]*corev1.Pod{
		"n1":   {dsPod("p1", "n1", "new", true)},
		"n2":   {dsPod("p2", "n2", "old", false)},
		"n3":   {fresh},
		"gone": {dsPod("px", "gone", "new", true)},
	}
	got := computeStatus(ds, nodes, byNode, "new", t0.Add(time.Minute))
	want := daemonStatus{desired: 4, current: 3, misscheduled: 1, ready: 2, updated: 2, available: 1}
	if got != want {
		t.Fatalf("status %+v, want %+v", got, want)
	}
}
