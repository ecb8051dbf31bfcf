package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// fakeInternet is the host's "upstream" resolver for a test: an
// authoritative server on <127.53.x.y>:53 (resolv.conf cannot name a port)
// that knows external.test and nothing else. It returns the resolv.conf
// that points at it, for the agent's --resolv-conf.
func fakeInternet(t *testing.T, answer string) string {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		q := req.Question[0]
		switch {
		case strings.EqualFold(q.Name, "external.test.") && q.Qtype == dns.TypeA:
			rr, _ := dns.NewRR("external.test. 30 IN A " + answer)
			m.Answer = append(m.Answer, rr)
		case strings.EqualFold(q.Name, "external.test."):
		default:
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	var ip string
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		ip = fmt.Sprintf("127.53.%d.%d", rand.IntN(250)+1, rand.IntN(250)+1)
		var err error
		if pc, err = net.ListenPacket("udp", ip+":53"); err != nil {
			continue
		}
		if ln, err = net.Listen("tcp", ip+":53"); err != nil {
			pc.Close()
			continue
		}
		break
	}
	if ln == nil {
		t.Fatal("no free loopback address for the upstream resolver")
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		go func() { _ = s.ActivateAndServe() }()
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver "+ip+"\nsearch example.internal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// appContainer finds the container of a pod's main container by its
// labels (kubectl exec is not there yet).
func appContainer(t *testing.T, clusterID, ns, pod string) string {
	t.Helper()
	var id string
	eventually(t, 30*time.Second, func() error {
		id = docker(t, "ps", "-q", "--filter", "label=skiff.dev/cluster="+clusterID, "--filter", "label=skiff.dev/pod-namespace="+ns,
			"--filter", "label=skiff.dev/pod-name="+pod, "--filter", "label=skiff.dev/kind=app")
		if n := len(strings.Fields(id)); n != 1 {
			return fmt.Errorf("%d app containers for pod %s/%s", n, ns, pod)
		}
		return nil
	})
	return id
}

// inPod runs a command in a container and returns its output and exit code.
func inPod(t *testing.T, container string, cmd ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", append([]string{"exec", container}, cmd...)...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker exec %v: %v", cmd, err)
	}
	return string(out), code
}

// lookup runs busybox nslookup in the pod until its output has every
// wanted string (DNS answers follow the API within moments, not at once).
func lookup(t *testing.T, container string, args []string, want ...string) string {
	t.Helper()
	var out string
	eventually(t, 30*time.Second, func() error {
		out, _ = inPod(t, container, append([]string{"nslookup"}, args...)...)
		for _, w := range want {
			if !strings.Contains(out, w) {
				return fmt.Errorf("nslookup %s: no %q in:\n%s", strings.Join(args, " "), w, out)
			}
		}
		return nil
	})
	return out
}

// address is busybox nslookup's line for an A record, whole, so that
// 10.42.0.5 is not found in 10.42.0.50.
func address(ip string) string { return "Address: " + ip + "\n" }

func randomClusterIP() string {
	return fmt.Sprintf("10.96.%d.%d", 200+rand.IntN(50), 2+rand.IntN(250))
}

func webService(ip string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}},
	}
}

// clientPod starts a busybox pod to run lookups in and returns its app
// container.
func clientPod(t *testing.T, cs *kubernetes.Clientset, clusterID, img string) string {
	t.Helper()
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), sleeperPod("client", img), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, cs, "default", "client", 90*time.Second, podRunning)
	return appContainer(t, clusterID, "default", "client")
}

// TestDNSFromPods is issue 6's DNS acceptance: from a busybox pod, a
// Service by its short name and its FQDN, a headless Service (all its
// pods), a StatefulSet pod by hostname, SRV and PTR, an NXDOMAIN, and an
// outside name forwarded to the node's resolver; the pod's resolv.conf
// carries the search path and ndots:5.
func TestDNSFromPods(t *testing.T) {
	resolvConf := fakeInternet(t, "192.0.2.77")
	s, cs, _ := startUp(t, "--resolv-conf", resolvConf)
	id := clusterIDOf(t, s)
	img := busybox(t)
	ctx := context.Background()

	webIP := randomClusterIP()
	if _, err := cs.CoreV1().Services("default").Create(ctx, webService(webIP), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	web := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: sleeperPod("web", img).Spec}},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A headless Service over a StatefulSet's three pods, which carry
	// hostname and subdomain.
	dbLabels := map[string]string{"app": "db"}
	headless := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "headless"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: dbLabels,
			Ports: []corev1.ServicePort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, headless, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	db := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), ServiceName: "headless", PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector: &metav1.LabelSelector{MatchLabels: dbLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: dbLabels}, Spec: sleeperPod("db", img).Spec}},
	}
	if _, err := cs.AppsV1().StatefulSets("default").Create(ctx, db, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client := clientPod(t, cs, id, img)

	var dbIPs []string
	for i := range 3 {
		p := waitPod(t, cs, "default", fmt.Sprintf("db-%d", i), 120*time.Second, podReady)
		dbIPs = append(dbIPs, p.Status.PodIP)
	}
	eventually(t, 30*time.Second, func() error { return readyEndpoints(cs, "headless", dbIPs) })

	t.Run("resolv.conf", func(t *testing.T) {
		out, code := inPod(t, client, "cat", "/etc/resolv.conf")
		want := []string{"nameserver 10.42.0.1", "search default.svc.cluster.local svc.cluster.local cluster.local example.internal", "options ndots:5"}
		got := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || !slices.Equal(got, want) {
			t.Fatalf("the pod's resolv.conf:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
		}
	})
	t.Run("host-network pod with ClusterFirstWithHostNet", func(t *testing.T) {
		// The engine copies the host's resolv.conf into a host-network
		// container; this policy asks for cluster DNS instead.
		pxPrivilegedDefault(t, cs)
		pod := sleeperPod("hostnet", img)
		pod.Spec.HostNetwork, pod.Spec.DNSPolicy = true, corev1.DNSClusterFirstWithHostNet
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitPod(t, cs, "default", "hostnet", 90*time.Second, podRunning)
		out, code := inPod(t, appContainer(t, id, "default", "hostnet"), "cat", "/etc/resolv.conf")
		if code != 0 || !strings.HasPrefix(out, "nameserver 10.42.0.1\nsearch default.svc.cluster.local ") {
			t.Fatalf("the host-network pod's resolv.conf:\n%s", out)
		}
		lookup(t, appContainer(t, id, "default", "hostnet"), []string{"web.default.svc.cluster.local"}, address(webIP))
	})
	t.Run("service by short name and FQDN", func(t *testing.T) {
		lookup(t, client, []string{"web"}, "Name:\tweb.default.svc.cluster.local\n"+address(webIP))
		out := lookup(t, client, []string{"web.default.svc.cluster.local"}, address(webIP))
		if strings.Count(out, "Address: ") != 1 { // one A record (the server's line has a tab)
			t.Fatalf("nslookup web.default.svc.cluster.local:\n%s", out)
		}
	})
	t.Run("headless service: every pod", func(t *testing.T) {
		var want []string
		for _, ip := range dbIPs {
			want = append(want, address(ip))
		}
		lookup(t, client, []string{"headless"}, want...)
		lookup(t, client, []string{"headless.default.svc.cluster.local"}, want...)
	})
	t.Run("statefulset pod by hostname", func(t *testing.T) {
		out := lookup(t, client, []string{"db-1.headless.default.svc.cluster.local"}, address(dbIPs[1]))
		for _, other := range []string{dbIPs[0], dbIPs[2]} {
			if strings.Contains(out, address(other)) {
				t.Fatalf("db-1 resolved to another pod too:\n%s", out)
			}
		}
	})
	t.Run("SRV and PTR", func(t *testing.T) {
		lookup(t, client, []string{"-type=srv", "_http._tcp.web.default.svc.cluster.local"}, "service = 0 100 80 web.default.svc.cluster.local")
		lookup(t, client, []string{"-type=srv", "_pg._tcp.headless.default.svc.cluster.local"}, "5432 db-0.headless.default.svc.cluster.local", "5432 db-2.headless.default.svc.cluster.local")
		lookup(t, client, []string{webIP}, "name = web.default.svc.cluster.local")
	})
	t.Run("NXDOMAIN", func(t *testing.T) {
		out, code := inPod(t, client, "nslookup", "nothere.default.svc.cluster.local")
		if code == 0 || !strings.Contains(out, "NXDOMAIN") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("outside name forwarded to the node's resolver", func(t *testing.T) {
		lookup(t, client, []string{"external.test"}, address("192.0.2.77"))
		out, code := inPod(t, client, "nslookup", "unknown.test")
		if code == 0 || !strings.Contains(out, "NXDOMAIN") {
			t.Fatalf("an unknown outside name: exit %d:\n%s", code, out)
		}
	})
	t.Run("answers follow the endpoints", func(t *testing.T) {
		if err := cs.AppsV1().StatefulSets("default").Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, func() error {
			out, _ := inPod(t, client, "nslookup", "headless.default.svc.cluster.local")
			if !strings.Contains(out, "NXDOMAIN") {
				return fmt.Errorf("a headless Service without endpoints still answers:\n%s", out)
			}
			return nil
		})
	})
}

// readyEndpoints checks that a Service's EndpointSlices list exactly ips
// as ready.
func readyEndpoints(cs *kubernetes.Clientset, svc string, ips []string) error {
	list, err := cs.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return err
	}
	var got []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				got = append(got, ep.Addresses...)
			}
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ips))
	if !slices.Equal(got, want) {
		return fmt.Errorf("ready endpoints of %s: %v, want %v", svc, got, want)
	}
	return nil
}

// TestDNSTwoClustersShareOneEngine runs two clusters on one Docker engine:
// their agents share the gateway's port 53, and the kernel hands each
// query to either. Every pod must still get its own cluster's answer.
func TestDNSTwoClustersShareOneEngine(t *testing.T) {
	img := busybox(t)
	type member struct {
		ip, client string
	}
	var members []member
	for range 2 {
		s, cs, _ := startUp(t)
		ip := randomClusterIP()
		if _, err := cs.CoreV1().Services("default").Create(context.Background(), webService(ip), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		members = append(members, member{ip: ip, client: clientPod(t, cs, clusterIDOf(t, s), img)})
	}
	if members[0].ip == members[1].ip {
		t.Skip("both clusters drew the same ClusterIP")
	}
	for i, m := range members {
		other := members[1-i].ip
		lookup(t, m.client, []string{"web.default.svc.cluster.local"}, address(m.ip))
		// Twenty lookups, each from a new source port: without relaying
		// about half would reach the other cluster's agent.
		out, _ := inPod(t, m.client, "sh", "-c", "for i in $(seq 20); do nslookup web.default.svc.cluster.local; done")
		if n := strings.Count(out, address(m.ip)); n != 20 || strings.Count(out, "Address: ") != 20 {
			t.Fatalf("cluster %d: %d of 20 lookups gave its ClusterIP %s (the other's is %s):\n%s", i, n, m.ip, other, out)
		}
	}
}
