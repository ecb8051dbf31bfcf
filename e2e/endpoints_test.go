package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// endpointState is what a Service's EndpointSlices and Endpoints say of
// each pod, rendered so that a failure shows both side by side.
type endpointState struct {
	// slice maps pod name to "ready", "serving" (not ready, still
	// serving), "terminating" or "down"; sliceErr reports a malformed set.
	slice    map[string]string
	sliceErr error
	// ready and notReady are the Endpoints' addresses by pod name.
	ready, notReady []string
	epErr           error
}

func (s endpointState) String() string {
	return fmt.Sprintf("slices %v (%v); endpoints ready %v, not ready %v (%v)", s.slice, s.sliceErr, s.ready, s.notReady, s.epErr)
}

// readEndpoints reads a Service's EndpointSlices and Endpoints and checks
// what must hold of any of them: every slice managed by the controller,
// owned by the Service, at most 100 endpoints, each pod once, each
// address the pod's IP, on its node, with the port resolved to want.
func readEndpoints(cs kubernetes.Interface, ns, svc string, wantPort int32) endpointState {
	ctx := context.Background()
	st := endpointState{slice: map[string]string{}}
	svcObj, err := cs.CoreV1().Services(ns).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		st.sliceErr, st.epErr = err, err
		return st
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		st.sliceErr = err
		return st
	}
	byName := map[string]corev1.Pod{}
	for _, p := range pods.Items {
		byName[p.Name] = p
	}
	list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		st.sliceErr = err
		return st
	}
	check := func(cond bool, format string, a ...any) {
		if !cond && st.sliceErr == nil {
			st.sliceErr = fmt.Errorf(format, a...)
		}
	}
	for _, s := range list.Items {
		check(s.Labels[discoveryv1.LabelManagedBy] == "endpointslice-controller.k8s.io", "slice %s managed-by %q", s.Name, s.Labels[discoveryv1.LabelManagedBy])
		check(strings.HasPrefix(s.Name, svc+"-"), "slice name %s", s.Name)
		check(s.AddressType == discoveryv1.AddressTypeIPv4, "slice %s addressType %s", s.Name, s.AddressType)
		check(len(s.OwnerReferences) == 1 && s.OwnerReferences[0].UID == svcObj.UID && s.OwnerReferences[0].Kind == "Service", "slice %s owners %+v", s.Name, s.OwnerReferences)
		check(len(s.Endpoints) <= 100, "slice %s has %d endpoints", s.Name, len(s.Endpoints))
		if len(s.Endpoints) > 0 {
			check(len(s.Ports) == 1 && s.Ports[0].Port != nil && *s.Ports[0].Port == wantPort, "slice %s ports %+v", s.Name, s.Ports)
		}
		for _, ep := range s.Endpoints {
			name := ep.TargetRef.Name
			_, dup := st.slice[name]
			check(!dup, "pod %s in two endpoints", name)
			p, ok := byName[name]
			check(ok, "endpoint of unknown pod %s", name)
			check(ep.TargetRef.Kind == "Pod" && ep.TargetRef.UID == p.UID, "endpoint targetRef %+v", ep.TargetRef)
			check(slices.Equal(ep.Addresses, []string{p.Status.PodIP}), "pod %s addresses %v, IP %s", name, ep.Addresses, p.Status.PodIP)
			check(ep.NodeName != nil && *ep.NodeName == p.Spec.NodeName, "pod %s endpoint node %v", name, ep.NodeName)
			c := ep.Conditions
			switch {
			case *c.Terminating:
				st.slice[name] = "terminating"
				check(!*c.Ready, "terminating pod %s ready", name)
			case *c.Ready:
				st.slice[name] = "ready"
				check(*c.Serving, "ready pod %s not serving", name)
			case *c.Serving:
				st.slice[name] = "serving"
			default:
				st.slice[name] = "down"
			}
		}
	}
	ep, err := cs.CoreV1().Endpoints(ns).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		st.epErr = err
		return st
	}
	for _, sub := range ep.Subsets {
		if len(sub.Ports) != 1 || sub.Ports[0].Port != wantPort {
			st.epErr = fmt.Errorf("endpoints ports %+v", sub.Ports)
		}
		for _, a := range sub.Addresses {
			st.ready = append(st.ready, a.TargetRef.Name)
		}
		for _, a := range sub.NotReadyAddresses {
			st.notReady = append(st.notReady, a.TargetRef.Name)
		}
	}
	slices.Sort(st.ready)
	slices.Sort(st.notReady)
	return st
}

// waitEndpoints waits until a Service's slices show want (pod → state)
// and its Endpoints list ready and notReady, and returns how long it took.
func waitEndpoints(t *testing.T, cs kubernetes.Interface, ns, svc string, port int32, timeout time.Duration, want map[string]string, ready, notReady []string) time.Duration {
	t.Helper()
	start := time.Now()
	eventually(t, timeout, func() error {
		st := readEndpoints(cs, ns, svc, port)
		if st.sliceErr != nil || st.epErr != nil || !maps.Equal(st.slice, want) ||
			!slices.Equal(st.ready, ready) || !slices.Equal(st.notReady, notReady) {
			return fmt.Errorf("%v; want slices %v, endpoints ready %v not ready %v", st, want, ready, notReady)
		}
		return nil
	})
	return time.Since(start)
}

// TestEndpointsFollowReadinessDocker is acceptance 5 of the controllers
// issue on `skiff up` with a real Docker node: a Service with three ready
// pods has three ready endpoints in its EndpointSlice and Endpoints; a
// pod whose readiness probe starts failing drops out within one probe
// period and a little, and comes back when the probe passes again; a
// terminating pod is marked so; and the Service's endpoints go with it.
func TestEndpointsFollowReadinessDocker(t *testing.T) {
	_, cs, node := startUp(t)
	img := busybox(t)
	ctx := context.Background()
	ns := "ep-readiness"
	createNamespace(t, cs, ns)

	const period = 2 // readiness probe period, seconds
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			// A named targetPort, resolved in each pod.
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The pods are created directly with the Service's labels. The
	// container ignores SIGTERM so that a deleted pod stays terminating
	// for its whole (short) grace period.
	names := []string{"web-0", "web-1", "web-2"}
	for _, n := range names {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr.To[int64](6),
				Containers: []corev1.Container{{
					Name: "web", Image: img,
					Command: []string{"sh", "-c", "trap '' TERM; touch /tmp/healthy; while true; do sleep 1; done"},
					Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
						PeriodSeconds:    period,
						FailureThreshold: 1,
						SuccessThreshold: 1,
					},
				}},
			},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		p := waitPod(t, cs, ns, n, 90*time.Second, podReady)
		if p.Spec.NodeName != node {
			t.Fatalf("pod %s on node %q, want %q", n, p.Spec.NodeName, node)
		}
	}

	allReady := map[string]string{"web-0": "ready", "web-1": "ready", "web-2": "ready"}
	waitEndpoints(t, cs, ns, "web", 8080, 15*time.Second, allReady, names, nil)
	sl, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil || len(sl.Items) != 1 || sl.Items[0].Labels["tier"] != "front" || *sl.Items[0].Ports[0].Name != "http" {
		t.Fatalf("slices %+v, %v", sl, err)
	}

	// The probe starts failing in web-1: it must leave the ready
	// endpoints within one probe period, plus the time for the agent to
	// report and the controllers to write (the "little").
	const within = period*time.Second + 5*time.Second
	web1 := waitPod(t, cs, ns, "web-1", 10*time.Second, podReady)
	docker(t, "exec", containerID(web1, "web"), "rm", "/tmp/healthy")
	took := waitEndpoints(t, cs, ns, "web", 8080, within,
		map[string]string{"web-0": "ready", "web-1": "down", "web-2": "ready"},
		[]string{"web-0", "web-2"}, []string{"web-1"})
	t.Logf("failing readiness reached the endpoints after %s (probe period %ds)", took.Round(100*time.Millisecond), period)
	if p, _ := cs.CoreV1().Pods(ns).Get(ctx, "web-1", metav1.GetOptions{}); podReady(p) == nil {
		t.Fatal("web-1 still Ready with its probe failing")
	}

	docker(t, "exec", containerID(web1, "web"), "touch", "/tmp/healthy")
	took = waitEndpoints(t, cs, ns, "web", 8080, within, allReady, names, nil)
	t.Logf("passing readiness reached the endpoints after %s", took.Round(100*time.Millisecond))

	// A deleted pod stays in the slice as terminating until it is gone;
	// Endpoints drop it at once.
	if err := cs.CoreV1().Pods(ns).Delete(ctx, "web-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(t, cs, ns, "web", 8080, 5*time.Second,
		map[string]string{"web-0": "ready", "web-1": "ready", "web-2": "terminating"},
		[]string{"web-0", "web-1"}, nil)
	waitEndpoints(t, cs, ns, "web", 8080, 30*time.Second,
		map[string]string{"web-0": "ready", "web-1": "ready"},
		[]string{"web-0", "web-1"}, nil)

	// The Service goes: so do its slices and Endpoints.
	if err := cs.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		sl, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil || len(sl.Items) != 0 {
			return fmt.Errorf("slices left: %v %v", sl, err)
		}
		if _, err := cs.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("endpoints left: %v", err)
		}
		return nil
	})
}

// TestEndpointSlicesSplitManyPods runs 150 pods on a simulated node
// against the real API server: the controller spreads them over slices of
// at most 100 without listing a pod twice, the Endpoints list all 150,
// and a selector change moves the Service to other pods.
func TestEndpointSlicesSplitManyPods(t *testing.T) {
	s := startServer(t)
	cs := clientset(t, s)
	nodes := fakeNodes(t, s, 1)
	ctx := context.Background()
	ns := "ep-many"
	createNamespace(t, cs, ns)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "many"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "many"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 150
	want := map[string]string{}
	var all []string
	for i := range n {
		name := fmt.Sprintf("many-%03d", i)
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "many", "half": fmt.Sprint(i % 2)}},
			Spec:       corev1.PodSpec{NodeName: nodes[0], Containers: []corev1.Container{{Name: "c", Image: "busybox:local"}}},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want[name] = "ready"
		all = append(all, name)
	}
	waitEndpoints(t, cs, ns, "many", 8080, 60*time.Second, want, all, nil)
	sl, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=many"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sl.Items) != 2 {
		t.Fatalf("%d slices for %d endpoints, want 2", len(sl.Items), n)
	}

	// Narrow the selector to half the pods.
	cur, err := cs.CoreV1().Services(ns).Get(ctx, "many", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Selector = map[string]string{"app": "many", "half": "0"}
	if _, err := cs.CoreV1().Services(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	half := map[string]string{}
	var halfNames []string
	for i := 0; i < n; i += 2 {
		name := fmt.Sprintf("many-%03d", i)
		half[name] = "ready"
		halfNames = append(halfNames, name)
	}
	waitEndpoints(t, cs, ns, "many", 8080, 30*time.Second, half, halfNames, nil)
}

// TestServiceAccountDefaultEverywhere: every namespace, the built-in ones
// and a new one, has a "default" ServiceAccount, and it comes back when
// deleted.
func TestServiceAccountDefaultEverywhere(t *testing.T) {
	s := startServer(t)
	cs := clientset(t, s)
	ctx := context.Background()
	createNamespace(t, cs, "sa-new")
	has := func(ns string) error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	}
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease", "sa-new"} {
		eventually(t, 15*time.Second, func() error { return has(ns) })
	}
	old, err := cs.CoreV1().ServiceAccounts("sa-new").Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ServiceAccounts("sa-new").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		sa, err := cs.CoreV1().ServiceAccounts("sa-new").Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if sa.UID == old.UID {
			return fmt.Errorf("still the deleted account")
		}
		return nil
	})
	k := newKubectl(t, s, "")
	if out := k.must("get", "serviceaccounts", "-n", "sa-new"); !strings.Contains(out, "default") {
		t.Fatalf("kubectl get serviceaccounts:\n%s", out)
	}
}
