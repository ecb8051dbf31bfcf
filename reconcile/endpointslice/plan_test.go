package endpointslice

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Fixtures shared by the plan and controller tests.

func service(name string, mod ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"team": "a"}},
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{"app": name},
			ClusterIP: "10.96.0.10",
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	for _, m := range mod {
		m(s)
	}
	return s
}

type podState int

const (
	ready podState = iota
	notReady
	terminating
	noIP
	succeeded
)

func pod(name, app, ip string, st podState, mod ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			NodeName:   "node-a",
			Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}},
		},
		Status: corev1.PodStatus{
			Phase:  corev1.PodRunning,
			PodIP:  ip,
			PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}},
		},
	}
	switch st {
	case notReady:
		p.Status.Conditions[0].Status = corev1.ConditionFalse
	case terminating:
		p.DeletionTimestamp = ptr.To(metav1.Now())
	case noIP:
		p.Status.PodIP, p.Status.PodIPs = "", nil
	case succeeded:
		p.Status.Phase = corev1.PodSucceeded
		p.Status.Conditions[0].Status = corev1.ConditionFalse
	}
	for _, m := range mod {
		m(p)
	}
	return p
}

func node(name, zone string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if zone != "" {
		n.Labels = map[string]string{corev1.LabelTopologyZone: zone}
	}
	return n
}

func nodeLookup(nodes ...*corev1.Node) func(string) *corev1.Node {
	return func(name string) *corev1.Node {
		for _, n := range nodes {
			if n.Name == name {
				return n
			}
		}
		return nil
	}
}

// manyPods returns n ready pods of app with distinct addresses.
func manyPods(app string, from, n int) []*corev1.Pod {
	var out []*corev1.Pod
	for i := from; i < from+n; i++ {
		out = append(out, pod(fmt.Sprintf("%s-%03d", app, i), app, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), ready))
	}
	return out
}

// materialize gives planned creates the name and UID the API would.
func materialize(p plan) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for i, s := range p.create {
		c := s.DeepCopy()
		c.Name = fmt.Sprintf("%sgen%d", c.GenerateName, i)
		c.UID = types.UID("slice-" + c.Name)
		out = append(out, c)
	}
	for _, s := range p.update {
		out = append(out, s.DeepCopy())
	}
	return out
}

type epView struct {
	pod                         string
	addr                        string
	ready, serving, terminating bool
}

func endpointsOf(ss ...*discoveryv1.EndpointSlice) []epView {
	var out []epView
	for _, s := range ss {
		for _, ep := range s.Endpoints {
			out = append(out, epView{pod: ep.TargetRef.Name, addr: ep.Addresses[0],
				ready: *ep.Conditions.Ready, serving: *ep.Conditions.Serving, terminating: *ep.Conditions.Terminating})
		}
	}
	slices.SortFunc(out, func(a, b epView) int {
		if a.pod < b.pod {
			return -1
		}
		if a.pod > b.pod {
			return 1
		}
		return 0
	})
	return out
}

func TestPlanConditions(t *testing.T) {
	pods := []*corev1.Pod{
		pod("a", "web", "10.1.0.1", ready),
		pod("b", "web", "10.1.0.2", notReady),
		pod("c", "web", "10.1.0.3", terminating),
		pod("d", "web", "", noIP),
		pod("e", "web", "10.1.0.5", succeeded),
		pod("f", "web", "fd00::6", ready), // no IPv4 address: not in an IPv4 slice
	}
	for _, tc := range []struct {
		name    string
		publish bool
		want    []epView
	}{
		{"ready means Ready and not terminating", false, []epView{
			{"a", "10.1.0.1", true, true, false},
			{"b", "10.1.0.2", false, false, false},
			{"c", "10.1.0.3", false, true, true},
		}},
		{"publishNotReadyAddresses makes every address ready", true, []epView{
			{"a", "10.1.0.1", true, true, false},
			{"b", "10.1.0.2", true, false, false},
			{"c", "10.1.0.3", true, true, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := service("web", func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = tc.publish })
			p, skipped := computePlan(planInput{service: svc, pods: pods, node: nodeLookup(node("node-a", "")), maxPerSlice: 100})
			if len(skipped) != 0 || len(p.update)+len(p.delete) != 0 || len(p.create) != 1 {
				t.Fatalf("plan %+v skipped %v", p, skipped)
			}
			if got := endpointsOf(p.create[0]); !slices.Equal(got, tc.want) {
				t.Fatalf("endpoints\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPlanNewSliceShape(t *testing.T) {
	svc := service("web")
	created := metav1.NewTime(time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC))
	p, _ := computePlan(planInput{service: svc, pods: []*corev1.Pod{pod("a", "web", "10.1.0.1", ready)},
		node: nodeLookup(node("node-a", "zone-1")), maxPerSlice: 100, triggerTime: created.Time})
	if len(p.create) != 1 {
		t.Fatalf("creates: %d", len(p.create))
	}
	s := p.create[0]
	if s.GenerateName != "web-" || s.Name != "" || s.Namespace != "default" || s.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Fatalf("meta %+v addressType %s", s.ObjectMeta, s.AddressType)
	}
	wantLabels := map[string]string{"team": "a", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}
	if fmt.Sprint(s.Labels) != fmt.Sprint(wantLabels) {
		t.Fatalf("labels %v", s.Labels)
	}
	ref := s.OwnerReferences
	if len(ref) != 1 || ref[0].Kind != "Service" || ref[0].APIVersion != "v1" || ref[0].UID != svc.UID || !*ref[0].Controller || !*ref[0].BlockOwnerDeletion {
		t.Fatalf("owner references %+v", ref)
	}
	if got := s.Annotations[corev1.EndpointsLastChangeTriggerTime]; got != "2026-02-03T04:05:06Z" {
		t.Fatalf("trigger time annotation %q", got)
	}
	if len(s.Ports) != 1 || *s.Ports[0].Name != "http" || *s.Ports[0].Port != 8080 || *s.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Fatalf("ports %+v", s.Ports)
	}
	ep := s.Endpoints[0]
	if *ep.NodeName != "node-a" || ep.Zone == nil || *ep.Zone != "zone-1" || ep.TargetRef.Kind != "Pod" || ep.TargetRef.UID != "uid-a" || ep.Hostname != nil {
		t.Fatalf("endpoint %+v", ep)
	}
}

func TestPlanNamedPortsSplitByNumber(t *testing.T) {
	svc := service("web", func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")},
			{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9090)},
		}
	})
	withPort := func(n int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "web", ContainerPort: n, Protocol: corev1.ProtocolTCP}}
		}
	}
	pods := []*corev1.Pod{
		pod("a", "web", "10.1.0.1", ready, withPort(8080)),
		pod("b", "web", "10.1.0.2", ready, withPort(8080)),
		pod("c", "web", "10.1.0.3", ready, withPort(8081)),
		// Names the port under another protocol: only the numeric port applies.
		pod("d", "web", "10.1.0.4", ready, func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolUDP}}
		}),
	}
	p, _ := computePlan(planInput{service: svc, pods: pods, node: nodeLookup(node("node-a", "")), maxPerSlice: 100})
	got := map[string][]string{}
	for _, s := range p.create {
		var ports []string
		for _, pt := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s=%d", *pt.Name, *pt.Port))
		}
		var names []string
		for _, ep := range s.Endpoints {
			names = append(names, ep.TargetRef.Name)
		}
		got[fmt.Sprint(ports)] = names
	}
	want := map[string][]string{
		"[http=8080 metrics=9090]": {"a", "b"},
		"[http=8081 metrics=9090]": {"c"},
		"[metrics=9090]":           {"d"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("slices by ports\n got %v\nwant %v", got, want)
	}
}

func TestPlanSidecarNamedPort(t *testing.T) {
	svc := service("web", func(s *corev1.Service) {
		s.Spec.Ports[0].TargetPort = intstr.FromString("proxy")
	})
	always := corev1.ContainerRestartPolicyAlways
	p := pod("a", "web", "10.1.0.1", ready, func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{
			{Name: "init", Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 1111, Protocol: corev1.ProtocolTCP}}},
			{Name: "sidecar", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001, Protocol: corev1.ProtocolTCP}}},
		}
	})
	pl, _ := computePlan(planInput{service: svc, pods: []*corev1.Pod{p}, node: nodeLookup(node("node-a", "")), maxPerSlice: 100})
	if len(pl.create) != 1 || len(pl.create[0].Ports) != 1 || *pl.create[0].Ports[0].Port != 15001 {
		t.Fatalf("plan %+v", pl.create)
	}
}

func TestPlanCapsSlices(t *testing.T) {
	svc := service("big")
	nodes := nodeLookup(node("node-a", ""))
	p, _ := computePlan(planInput{service: svc, pods: manyPods("big", 0, 250), node: nodes, maxPerSlice: 100})
	var sizes []int
	for _, s := range p.create {
		sizes = append(sizes, len(s.Endpoints))
	}
	if fmt.Sprint(sizes) != "[100 100 50]" || len(p.update)+len(p.delete) != 0 {
		t.Fatalf("slice sizes %v, updates %d, deletes %d", sizes, len(p.update), len(p.delete))
	}
	if n := len(endpointsOf(p.create...)); n != 250 {
		t.Fatalf("%d endpoints in all", n)
	}
	existing := materialize(p)

	t.Run("unchanged pods write nothing", func(t *testing.T) {
		p, _ := computePlan(planInput{service: svc, pods: manyPods("big", 0, 250), node: nodes, existing: existing, maxPerSlice: 100})
		if !p.empty() {
			t.Fatalf("plan %d/%d/%d", len(p.create), len(p.update), len(p.delete))
		}
	})
	t.Run("one pod gone rewrites one slice", func(t *testing.T) {
		pods := manyPods("big", 0, 250)
		pods = slices.Delete(pods, 7, 8)
		p, _ := computePlan(planInput{service: svc, pods: pods, node: nodes, existing: existing, maxPerSlice: 100})
		if len(p.create) != 0 || len(p.delete) != 0 || len(p.update) != 1 || len(p.update[0].Endpoints) != 99 {
			t.Fatalf("plan %d/%d/%d", len(p.create), len(p.update), len(p.delete))
		}
	})
	t.Run("new pods fill the emptiest room first", func(t *testing.T) {
		pods := manyPods("big", 0, 260)
		p, _ := computePlan(planInput{service: svc, pods: pods, node: nodes, existing: existing, maxPerSlice: 100})
		if len(p.create) != 0 || len(p.delete) != 0 || len(p.update) != 1 || len(p.update[0].Endpoints) != 60 {
			t.Fatalf("plan %d/%d/%d", len(p.create), len(p.update), len(p.delete))
		}
	})
	t.Run("more than fits makes a new slice", func(t *testing.T) {
		pods := manyPods("big", 0, 400)
		p, _ := computePlan(planInput{service: svc, pods: pods, node: nodes, existing: existing, maxPerSlice: 100})
		var total int
		for _, s := range append(slices.Clone(p.create), p.update...) {
			if len(s.Endpoints) > 100 {
				t.Fatalf("slice with %d endpoints", len(s.Endpoints))
			}
			total += len(s.Endpoints)
		}
		// 150 new endpoints: 50 top up the half-full slice, 100 go to a new one.
		if len(p.create) != 1 || len(p.update) != 1 || total != 200 {
			t.Fatalf("plan %d/%d/%d, %d endpoints written", len(p.create), len(p.update), len(p.delete), total)
		}
	})
	t.Run("emptied slices are rewritten, not deleted and recreated", func(t *testing.T) {
		// All 250 pods replaced by 10 new ones: one slice is reused for
		// them, the other two go.
		pods := manyPods("big", 1000, 10)
		p, _ := computePlan(planInput{service: svc, pods: pods, node: nodes, existing: existing, maxPerSlice: 100})
		if len(p.create) != 0 || len(p.update) != 1 || len(p.delete) != 2 || len(p.update[0].Endpoints) != 10 {
			t.Fatalf("plan %d/%d/%d", len(p.create), len(p.update), len(p.delete))
		}
		i := slices.IndexFunc(existing, func(s *discoveryv1.EndpointSlice) bool { return s.Name == p.update[0].Name })
		if i < 0 || existing[i].UID != p.update[0].UID {
			t.Fatalf("the rewritten slice %q (uid %q) is not one of the existing ones", p.update[0].Name, p.update[0].UID)
		}
	})
}

func TestPlanHeadlessAndPlaceholder(t *testing.T) {
	headless := service("db", func(s *corev1.Service) {
		s.Spec.ClusterIP = corev1.ClusterIPNone
		s.Spec.Ports = nil
	})
	nodes := nodeLookup(node("node-a", ""))
	sub := func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db-0", "db" }
	p, _ := computePlan(planInput{service: headless, pods: []*corev1.Pod{pod("db-0", "db", "10.1.0.1", ready, sub)}, node: nodes, maxPerSlice: 100})
	if len(p.create) != 1 {
		t.Fatalf("creates %d", len(p.create))
	}
	s := p.create[0]
	if _, ok := s.Labels[corev1.IsHeadlessService]; !ok || len(s.Ports) != 0 || len(s.Endpoints) != 1 || s.Endpoints[0].Hostname == nil || *s.Endpoints[0].Hostname != "db-0" {
		t.Fatalf("headless slice labels %v ports %v endpoints %+v", s.Labels, s.Ports, s.Endpoints)
	}

	t.Run("no pods: one empty slice", func(t *testing.T) {
		p, _ := computePlan(planInput{service: service("web"), node: nodes, maxPerSlice: 100})
		if len(p.create) != 1 || len(p.create[0].Endpoints) != 0 || len(p.create[0].Ports) != 0 {
			t.Fatalf("plan %+v", p)
		}
		p2, _ := computePlan(planInput{service: service("web"), node: nodes, existing: materialize(p), maxPerSlice: 100})
		if !p2.empty() {
			t.Fatalf("the empty slice is rewritten: %+v", p2)
		}
	})
	t.Run("last pod gone: its slice becomes the empty one", func(t *testing.T) {
		p, _ := computePlan(planInput{service: service("web"), pods: []*corev1.Pod{pod("a", "web", "10.1.0.1", ready)}, node: nodes, maxPerSlice: 100})
		existing := materialize(p)
		p2, _ := computePlan(planInput{service: service("web"), node: nodes, existing: existing, maxPerSlice: 100})
		if len(p2.create) != 0 || len(p2.delete) != 0 || len(p2.update) != 1 || p2.update[0].Name != existing[0].Name || len(p2.update[0].Endpoints)+len(p2.update[0].Ports) != 0 {
			t.Fatalf("plan %+v", p2)
		}
	})
}

func TestPlanReconcilesExisting(t *testing.T) {
	nodes := nodeLookup(node("node-a", ""))
	svc := service("web")
	pods := []*corev1.Pod{pod("a", "web", "10.1.0.1", ready), pod("b", "web", "10.1.0.2", ready)}
	first, _ := computePlan(planInput{service: svc, pods: pods, node: nodes, maxPerSlice: 100})
	existing := materialize(first)

	t.Run("readiness change updates in place", func(t *testing.T) {
		pods := []*corev1.Pod{pod("a", "web", "10.1.0.1", ready), pod("b", "web", "10.1.0.2", notReady)}
		p, _ := computePlan(planInput{service: svc, pods: pods, node: nodes, existing: existing, maxPerSlice: 100})
		if len(p.update) != 1 || len(p.create)+len(p.delete) != 0 || p.update[0].Name != existing[0].Name {
			t.Fatalf("plan %+v", p)
		}
		want := []epView{{"a", "10.1.0.1", true, true, false}, {"b", "10.1.0.2", false, false, false}}
		if got := endpointsOf(p.update[0]); !slices.Equal(got, want) {
			t.Fatalf("endpoints %+v", got)
		}
	})
	t.Run("service labels are mirrored", func(t *testing.T) {
		relabelled := service("web", func(s *corev1.Service) { s.Labels = map[string]string{"team": "b"} })
		p, _ := computePlan(planInput{service: relabelled, pods: pods, node: nodes, existing: existing, maxPerSlice: 100})
		if len(p.update) != 1 || p.update[0].Labels["team"] != "b" || p.update[0].Labels[discoveryv1.LabelManagedBy] != ManagedBy {
			t.Fatalf("plan %+v", p)
		}
	})
	t.Run("slices of an earlier service of the same name are replaced", func(t *testing.T) {
		recreated := service("web", func(s *corev1.Service) { s.UID = "uid-web-2" })
		p, _ := computePlan(planInput{service: recreated, pods: pods, node: nodes, existing: existing, maxPerSlice: 100})
		if len(p.create) != 1 || len(p.delete) != 1 || len(p.update) != 0 || p.create[0].OwnerReferences[0].UID != "uid-web-2" {
			t.Fatalf("plan %d/%d/%d", len(p.create), len(p.update), len(p.delete))
		}
	})
	t.Run("a service being deleted gets no new slices", func(t *testing.T) {
		deleting := service("web", func(s *corev1.Service) { s.DeletionTimestamp = ptr.To(metav1.Now()) })
		p, _ := computePlan(planInput{service: deleting, pods: pods, node: nodes, maxPerSlice: 100})
		if len(p.create) != 0 {
			t.Fatalf("creates %d", len(p.create))
		}
	})
	t.Run("pods on an unknown node wait", func(t *testing.T) {
		gone := pod("c", "web", "10.1.0.3", ready, func(p *corev1.Pod) { p.Spec.NodeName = "node-gone" })
		p, skipped := computePlan(planInput{service: svc, pods: append(slices.Clone(pods), gone), node: nodes, existing: existing, maxPerSlice: 100})
		if !p.empty() || !slices.Equal(skipped, []string{"c"}) {
			t.Fatalf("plan %+v skipped %v", p, skipped)
		}
	})
}
