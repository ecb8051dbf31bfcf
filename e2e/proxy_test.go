package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/nodeagent/proxy"
)

// The proxy tests drive real iptables on the host. Traffic to a ClusterIP
// is only sent once the node's rules for it are seen in iptables-save, so
// no packet to the service range ever leaves the machine.

// pxWebScript serves the pod's hostname on :8080, and a file of $BIG_MB
// MiB (default 1) as /big for the throughput figures.
const pxWebScript = `mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=${BIG_MB:-1} 2>/dev/null; hostname > /www/index.html && exec httpd -f -p 8080 -h /www`

// pxBigMiB is the size of the file the throughput figures download.
const pxBigMiB = 256

// pxWebDeployment runs replicas of the hostname server. A pod turns unready
// while /tmp/unready exists. node pins the pods ("" lets the scheduler
// place them).
func pxWebDeployment(name, image string, replicas int32, node string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeName:                      node,
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Containers: []corev1.Container{{
						Name: "web", Image: image, Command: []string{"sh", "-c", pxWebScript},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "test ! -f /tmp/unready && test -f /www/index.html"}}},
							PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1,
						},
					}},
				},
			},
		},
	}
}

// pxService is a NodePort Service for the app's port 8080 on port 80,
// at a random ClusterIP and NodePort (tests on one host share iptables,
// so two clusters must not pick the same ones).
func pxService(name, app string, proto corev1.Protocol, targetPort int) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(int32(targetPort)), Protocol: proto}},
		},
	}
}

// pxCreateService creates svc with an explicit random ClusterIP and
// NodePort, trying other values if the server finds them taken.
func pxCreateService(t *testing.T, cs kubernetes.Interface, svc *corev1.Service) *corev1.Service {
	t.Helper()
	var err error
	for i := 0; i < 5; i++ {
		s := svc.DeepCopy()
		s.Spec.ClusterIP = fmt.Sprintf("10.96.%d.%d", 100+rand.IntN(150), 1+rand.IntN(254))
		for j := range s.Spec.Ports {
			if s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer {
				s.Spec.Ports[j].NodePort = int32(30000 + rand.IntN(2768))
			}
		}
		var out *corev1.Service
		out, err = cs.CoreV1().Services("default").Create(context.Background(), s, metav1.CreateOptions{})
		if err == nil {
			return out
		}
		if !apierrors.IsInvalid(err) && !apierrors.IsConflict(err) {
			break
		}
	}
	t.Fatalf("create service %s: %v", svc.Name, err)
	return nil
}

func pxCreateDeployment(t *testing.T, cs kubernetes.Interface, d *appsv1.Deployment) {
	t.Helper()
	if _, err := cs.AppsV1().Deployments("default").Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func pxScale(t *testing.T, cs kubernetes.Interface, name string, replicas int32) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		d, err := cs.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		d.Spec.Replicas = ptr.To(replicas)
		_, err = cs.AppsV1().Deployments("default").Update(context.Background(), d, metav1.UpdateOptions{})
		return err
	})
}

// pxReadyPods waits until exactly n pods of the app are Ready (and no
// other of its pods exists) and returns them by name.
func pxReadyPods(t *testing.T, cs kubernetes.Interface, app string, n int, timeout time.Duration) map[string]corev1.Pod {
	t.Helper()
	var out map[string]corev1.Pod
	eventually(t, timeout, func() error {
		list, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return err
		}
		out = map[string]corev1.Pod{}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil || podReady(&p) != nil || p.Status.PodIP == "" {
				return fmt.Errorf("pod %s not ready (phase %s)", p.Name, p.Status.Phase)
			}
			out[p.Name] = p
		}
		if len(out) != n {
			return fmt.Errorf("%d ready pods of %s, want %d", len(out), app, n)
		}
		return nil
	})
	return out
}

func pxPodIPs(pods map[string]corev1.Pod) []string {
	var ips []string
	for _, p := range pods {
		ips = append(ips, p.Status.PodIP)
	}
	sort.Strings(ips)
	return ips
}

// pxNodeRules returns the iptables-save lines (nat and filter) that belong
// to one node's proxy.
func pxNodeRules(t *testing.T, clusterID, node string) []string {
	t.Helper()
	prefix := proxy.NodeChainPrefix(clusterID, node) + "-"
	var lines []string
	for _, table := range []string{"nat", "filter"} {
		out, err := exec.Command("iptables-save", "-t", table).Output()
		if err != nil {
			t.Fatalf("iptables-save -t %s: %v", table, err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, prefix) {
				lines = append(lines, table+": "+l)
			}
		}
	}
	return lines
}

// pxDNATTargets are the endpoints the node's rules send a service port to.
func pxDNATTargets(lines []string, svcPort string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, `"`+svcPort+`"`) && strings.Contains(l, "--to-destination ") {
			out = append(out, l[strings.Index(l, "--to-destination ")+len("--to-destination "):])
		}
	}
	sort.Strings(out)
	return out
}

// pxWaitDNAT waits until the node's rules send svcPort exactly to ips:port.
func pxWaitDNAT(t *testing.T, clusterID, node, svcPort string, ips []string, port int) {
	t.Helper()
	var want []string
	for _, ip := range ips {
		want = append(want, fmt.Sprintf("%s:%d", ip, port))
	}
	sort.Strings(want)
	eventually(t, 60*time.Second, func() error {
		if got := pxDNATTargets(pxNodeRules(t, clusterID, node), svcPort); !slices.Equal(got, want) {
			return fmt.Errorf("rules of %s send to %v, want %v", svcPort, got, want)
		}
		return nil
	})
}

// pxCleanupRules removes a node's rules at the end of a test, after
// stop has stopped its agent (so it cannot put them back).
func pxCleanupRules(t *testing.T, clusterID string, stop func(), nodes ...string) {
	t.Cleanup(func() {
		stop()
		for _, n := range nodes {
			if err := proxy.Cleanup(clusterID, n); err != nil {
				t.Errorf("remove the proxy rules of %s: %v", n, err)
			}
			if left := pxNodeRules(t, clusterID, n); len(left) > 0 {
				t.Errorf("rules of %s left after cleanup: %q", n, left)
			}
		}
	})
}

// pxHTTPClient opens a new connection per request, so each one is balanced
// on its own.
func pxHTTPClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

func pxGet(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(b)), err
}

// pxFromHost sends n requests from the host and counts the answers.
func pxFromHost(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	c := pxHTTPClient()
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		got, err := pxGet(c, url)
		if err != nil {
			t.Fatalf("request %d of %d to %s: %v", i+1, n, url, err)
		}
		seen[got]++
	}
	return seen
}

// pxWaitAllAnswer waits until every pod has answered a request to url
// from the host: Ready pods reach the proxy a moment apart, and a spread
// measured before the last one arrived would fault the balancing for it.
func pxWaitAllAnswer(t *testing.T, url string, pods []string) {
	t.Helper()
	c := pxHTTPClient()
	seen := map[string]bool{}
	eventually(t, 60*time.Second, func() error {
		got, err := pxGet(c, url)
		if err != nil {
			return err
		}
		seen[got] = true
		for _, p := range pods {
			if !seen[p] {
				return fmt.Errorf("%s has not answered yet (answers so far from %v)", p, seen)
			}
		}
		return nil
	})
}

// pxFromPod sends n requests with busybox wget from inside a pod's
// container and counts the answers ("FAILED: …" for failures).
func pxFromPod(t *testing.T, containerID, url string, n int) map[string]int {
	t.Helper()
	script := fmt.Sprintf(`for i in $(seq %d); do timeout 5 wget -qO- %s 2>/tmp/err || echo "FAILED: $(cat /tmp/err)"; done`, n, url)
	out := docker(t, "exec", containerID, "sh", "-c", script)
	seen := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			seen[l]++
		}
	}
	return seen
}

// pxAssertSpread checks that n answers came only from pods, and each pod
// gave a fair share: with a uniform random choice, each of k pods gets
// n/k on average; a fifth of that is many standard deviations below.
func pxAssertSpread(t *testing.T, what string, seen map[string]int, pods []string, n int) {
	t.Helper()
	total := 0
	for name, c := range seen {
		if !slices.Contains(pods, name) {
			t.Errorf("%s: %d answers %q, not from the pods %v", what, c, name, pods)
		}
		total += c
	}
	if total != n {
		t.Errorf("%s: %d answers, want %d", what, total, n)
	}
	for _, p := range pods {
		if seen[p] < n/len(pods)/5 {
			t.Errorf("%s: pod %s answered %d of %d: not balanced (%v)", what, p, seen[p], n, seen)
		}
	}
	t.Logf("%s: %v", what, seen)
}

func pxNames(pods map[string]corev1.Pod) []string {
	var out []string
	for n := range pods {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func pxNodeInternalIP(t *testing.T, cs kubernetes.Interface, node string) string {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	t.Fatalf("node %s has no InternalIP", node)
	return ""
}

func pxClientPod(t *testing.T, cs *kubernetes.Clientset, name, image, node string) string {
	t.Helper()
	p := sleeperPod(name, image)
	p.Spec.NodeName = node
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitPod(t, cs, "default", name, 90*time.Second, podRunning)
	return containerID(got, "main")
}

func pxRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// pxThroughput starts one pod serving a pxBigMiB file behind a Service,
// downloads it from the host through each path in turn (its pod IP, its
// ClusterIP, its NodePort on 127.0.0.1), five rounds interleaved so all
// paths see the same machine load, and logs the median rate of each and
// its ratio to the direct one. One pod, so every path reaches the same
// server.
func pxThroughput(t *testing.T, cs *kubernetes.Clientset, img, label string) {
	t.Helper()
	d := pxWebDeployment("bulk", img, 1, "")
	d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "BIG_MB", Value: fmt.Sprint(pxBigMiB)}}
	pxCreateDeployment(t, cs, d)
	svc := pxCreateService(t, cs, pxService("bulk", "bulk", corev1.ProtocolTCP, 8080))
	pods := pxReadyPods(t, cs, "bulk", 1, 120*time.Second)
	podIP := pxPodIPs(pods)[0]
	names := []string{"pod IP", "ClusterIP", "NodePort 127.0.0.1"}
	urls := []string{fmt.Sprintf("http://%s:8080/big", podIP), fmt.Sprintf("http://%s/big", svc.Spec.ClusterIP), fmt.Sprintf("http://127.0.0.1:%d/big", svc.Spec.Ports[0].NodePort)}
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	pxWaitProgrammed(t, svc.Spec.ClusterIP)
	eventually(t, 60*time.Second, func() error { _, err := pxGet(c, fmt.Sprintf("http://%s/", svc.Spec.ClusterIP)); return err })
	rates := make([][]float64, len(urls))
	for round := 0; round < 5; round++ {
		for i, url := range urls {
			start := time.Now()
			resp, err := c.Get(url)
			if err != nil {
				t.Fatalf("download %s: %v", url, err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != pxBigMiB<<20 {
				t.Fatalf("download %s: %d bytes, %v", url, n, err)
			}
			rates[i] = append(rates[i], float64(n)/(1<<20)/time.Since(start).Seconds())
		}
	}
	var parts []string
	var base float64
	for i, r := range rates {
		sort.Float64s(r)
		med := r[len(r)/2]
		if i == 0 {
			base = med
			parts = append(parts, fmt.Sprintf("%s %.0f MiB/s", names[i], med))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f MiB/s (%.2f)", names[i], med, med/base))
	}
	t.Logf("%s, median of 5 × %d MiB: %s", label, pxBigMiB, strings.Join(parts, ", "))
}

// pxWaitProgrammed waits until a ClusterIP is served on this host: a NAT
// rule for it (iptables mode) or the address on the loopback device
// (userspace mode). Only then may a test send to it: before, a packet
// would follow the default route out of the machine.
func pxWaitProgrammed(t *testing.T, ip string) {
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		if out, err := exec.Command("iptables-save", "-t", "nat").Output(); err == nil && strings.Contains(string(out), "-d "+ip+"/32 ") {
			return nil
		}
		if out, err := exec.Command("ip", "-4", "-o", "address", "show", "dev", "lo").Output(); err == nil && strings.Contains(string(out), " "+ip+"/32 ") {
			return nil
		}
		return fmt.Errorf("ClusterIP %s is not programmed on this host yet", ip)
	})
}

// pxPrivilegedDefault lifts Pod Security on the test cluster's default
// namespace: the UDP echo server comes from a hostPath volume and the
// hostPort check needs a hostPort, both forbidden by the baseline level.
func pxPrivilegedDefault(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels["pod-security.kubernetes.io/enforce"] = "privileged"
	if _, err := cs.CoreV1().Namespaces().Update(context.Background(), ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestProxyServicesDocker is the proxy part of the Services issue's
// acceptance 1 on a real Docker node with real iptables: ClusterIP from
// the host and from a pod, NodePort on 127.0.0.1 and the node's address,
// 300 requests each spread over 3 pods; hairpin; ClientIP affinity; a pod
// failing readiness gets no traffic; UDP, with a flow moving off a
// deleted endpoint; scale to 0 refuses at once; scale back serves again.
func TestProxyServicesDocker(t *testing.T) {
	s, cs, node := startUp(t)
	id := clusterIDOf(t, s)
	pxCleanupRules(t, id, s.Kill, node)
	img := busybox(t)
	ctx := context.Background()
	pxPrivilegedDefault(t, cs)

	pxCreateDeployment(t, cs, pxWebDeployment("web", img, 3, ""))
	svc := pxCreateService(t, cs, pxService("web", "web", corev1.ProtocolTCP, 8080))
	sticky := pxService("web-sticky", "web", corev1.ProtocolTCP, 8080)
	sticky.Spec.Type, sticky.Spec.SessionAffinity = corev1.ServiceTypeClusterIP, corev1.ServiceAffinityClientIP
	sticky = pxCreateService(t, cs, sticky)
	client := pxClientPod(t, cs, "client", img, "")

	pods := pxReadyPods(t, cs, "web", 3, 120*time.Second)
	pxWaitDNAT(t, id, node, "default/web:http", pxPodIPs(pods), 8080)
	pxWaitDNAT(t, id, node, "default/web-sticky:http", pxPodIPs(pods), 8080)
	clusterURL := fmt.Sprintf("http://%s/", svc.Spec.ClusterIP)
	nodePort := svc.Spec.Ports[0].NodePort
	hostIP := pxNodeInternalIP(t, cs, node)

	t.Run("balanced", func(t *testing.T) {
		pxAssertSpread(t, "ClusterIP from the host", pxFromHost(t, clusterURL, 300), pxNames(pods), 300)
		pxAssertSpread(t, "NodePort on 127.0.0.1", pxFromHost(t, fmt.Sprintf("http://127.0.0.1:%d/", nodePort), 300), pxNames(pods), 300)
		pxAssertSpread(t, "NodePort on "+hostIP, pxFromHost(t, fmt.Sprintf("http://%s:%d/", hostIP, nodePort), 300), pxNames(pods), 300)
		pxAssertSpread(t, "ClusterIP from a pod", pxFromPod(t, client, clusterURL, 300), pxNames(pods), 300)
		pxAssertSpread(t, "NodePort from a pod", pxFromPod(t, client, fmt.Sprintf("http://%s:%d/", hostIP, nodePort), 60), pxNames(pods), 60)
	})

	t.Run("hairpin", func(t *testing.T) {
		// A pod reaching itself through its own Service.
		self := pxNames(pods)[0]
		p := pods[self]
		seen := pxFromPod(t, containerID(&p, "web"), clusterURL, 30)
		pxAssertSpread(t, "ClusterIP from a backend pod", seen, pxNames(pods), 30)
		if seen[self] == 0 {
			t.Errorf("pod %s never reached itself through its Service: %v", self, seen)
		}
	})

	t.Run("affinity", func(t *testing.T) {
		seen := pxFromHost(t, fmt.Sprintf("http://%s/", sticky.Spec.ClusterIP), 50)
		if len(seen) != 1 {
			t.Errorf("sessionAffinity ClientIP: one client reached %v", seen)
		}
	})

	t.Run("readiness", func(t *testing.T) {
		sick := pxNames(pods)[1]
		p := pods[sick]
		docker(t, "exec", containerID(&p, "web"), "touch", "/tmp/unready")
		var healthy []string
		for _, n := range pxNames(pods) {
			if n != sick {
				healthy = append(healthy, pods[n].Status.PodIP)
			}
		}
		pxWaitDNAT(t, id, node, "default/web:http", healthy, 8080)
		seen := pxFromHost(t, clusterURL, 150)
		if seen[sick] != 0 {
			t.Errorf("unready pod %s got %d of 150 requests", sick, seen[sick])
		}
		pxAssertSpread(t, "ClusterIP with one pod unready", seen, slices.DeleteFunc(pxNames(pods), func(n string) bool { return n == sick }), 150)
		docker(t, "exec", containerID(&p, "web"), "rm", "/tmp/unready")
		pxWaitDNAT(t, id, node, "default/web:http", pxPodIPs(pods), 8080)
	})

	t.Run("udp", func(t *testing.T) { pxUDP(t, cs, id, node, img) })

	t.Run("throughput", func(t *testing.T) { pxThroughput(t, cs, img, "iptables mode, from the host") })

	t.Run("hostPort", func(t *testing.T) {
		// hostPort is Docker's port publishing (the agent maps it into
		// the sandbox's port bindings); it must keep working beside
		// the proxy's rules.
		hp := 20000 + rand.IntN(9000)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "hostport"},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr.To[int64](1),
				Containers: []corev1.Container{{Name: "web", Image: img, Command: []string{"sh", "-c", pxWebScript},
					Ports: []corev1.ContainerPort{{ContainerPort: 8080, HostPort: int32(hp)}}}},
			},
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitPod(t, cs, "default", "hostport", 90*time.Second, podRunning)
		for _, url := range []string{fmt.Sprintf("http://127.0.0.1:%d/", hp), fmt.Sprintf("http://%s:%d/", hostIP, hp)} {
			var got string
			eventually(t, 30*time.Second, func() error {
				var err error
				got, err = pxGet(pxHTTPClient(), url)
				return err
			})
			if got != "hostport" {
				t.Errorf("%s answered %q, want the pod's hostname", url, got)
			}
		}
		fromPod := pxFromPod(t, client, fmt.Sprintf("http://%s:%d/", hostIP, hp), 3)
		if fromPod["hostport"] != 3 {
			t.Errorf("hostPort from a pod: %v", fromPod)
		}
	})

	t.Run("scale to zero refuses", func(t *testing.T) {
		pxScale(t, cs, "web", 0)
		eventually(t, 60*time.Second, func() error {
			for _, l := range pxNodeRules(t, id, node) {
				if strings.Contains(l, `"default/web:http has no endpoints"`) && strings.Contains(l, svc.Spec.ClusterIP) {
					return nil
				}
			}
			return errors.New("no reject rule for the ClusterIP yet")
		})
		c := pxHTTPClient()
		for _, url := range []string{clusterURL, fmt.Sprintf("http://127.0.0.1:%d/", nodePort), fmt.Sprintf("http://%s:%d/", hostIP, nodePort)} {
			start := time.Now()
			_, err := pxGet(c, url)
			if !pxRefused(err) {
				t.Errorf("%s without endpoints: %v, want connection refused", url, err)
			}
			t.Logf("%s without endpoints: refused after %s", url, time.Since(start).Round(time.Microsecond))
		}
		out := pxFromPod(t, client, clusterURL, 1)
		for l := range out {
			if !strings.Contains(l, "Connection refused") {
				t.Errorf("from a pod without endpoints: %q, want connection refused", l)
			}
		}
		// A ClusterIP of no Service is refused too, not routed away.
		if _, err := pxGet(c, "http://10.96.255.254/"); !pxRefused(err) {
			t.Errorf("unallocated service IP: %v, want connection refused", err)
		}
	})

	t.Run("scale back serves again", func(t *testing.T) {
		pxScale(t, cs, "web", 3)
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		var firstReady, served time.Time
		deadline := time.Now().Add(120 * time.Second)
		for time.Now().Before(deadline) && served.IsZero() {
			if firstReady.IsZero() {
				list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
				if err == nil {
					for _, p := range list.Items {
						if podReady(&p) == nil {
							firstReady = time.Now()
						}
					}
				}
			}
			if _, err := pxGet(c, clusterURL); err == nil {
				served = time.Now()
			}
			time.Sleep(20 * time.Millisecond)
		}
		if served.IsZero() {
			t.Fatal("the Service did not answer again after scaling back")
		}
		t.Logf("answered %s after the first pod was seen Ready through the API", served.Sub(firstReady).Round(time.Millisecond))
		pods = pxReadyPods(t, cs, "web", 3, 120*time.Second)
		pxWaitDNAT(t, id, node, "default/web:http", pxPodIPs(pods), 8080)
		pxAssertSpread(t, "ClusterIP after scaling back", pxFromHost(t, clusterURL, 90), pxNames(pods), 90)
	})
}

// pxUDPEchoSource is a UDP server answering "<hostname> <datagram>", built
// for the test and run in pods through a hostPath volume (busybox has no
// UDP server).
const pxUDPEchoSource = `package main

import (
	"net"
	"os"
)

func main() {
	host, _ := os.Hostname()
	pc, err := net.ListenPacket("udp4", ":5353")
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			continue
		}
		pc.WriteTo(append([]byte(host+" "), buf[:n]...), from)
	}
}
`

func pxBuildUDPEcho(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(pxUDPEchoSource), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "udpecho"), "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the UDP echo server: %v\n%s", err, out)
	}
	return filepath.Join(dir, "bin")
}

// pxUDP checks a UDP Service: answered through the ClusterIP and the
// NodePort, and a long-lived flow (one client socket) moves to another
// endpoint when its endpoint turns unready, which needs the stale
// conntrack entry deleted.
func pxUDP(t *testing.T, cs kubernetes.Interface, id, node, img string) {
	bin := pxBuildUDPEcho(t)
	d := pxWebDeployment("echo", img, 2, "")
	d.Spec.Template.Spec.Containers[0].Command = []string{"/udp/udpecho"}
	d.Spec.Template.Spec.Containers[0].ReadinessProbe.Exec.Command = []string{"sh", "-c", "test ! -f /tmp/unready"}
	d.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "udp", MountPath: "/udp"}}
	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "udp", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: bin}}}}
	pxCreateDeployment(t, cs, d)
	svc := pxCreateService(t, cs, pxService("echo", "echo", corev1.ProtocolUDP, 5353))
	pods := pxReadyPods(t, cs, "echo", 2, 120*time.Second)
	pxWaitDNAT(t, id, node, "default/echo:http", pxPodIPs(pods), 5353)

	ask := func(c net.Conn, msg string) (string, error) {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			return "", err
		}
		host, rest, _ := strings.Cut(string(buf[:n]), " ")
		if rest != msg {
			return "", fmt.Errorf("echo of %q is %q", msg, buf[:n])
		}
		return host, nil
	}
	// Many flows (a new socket each) spread over both pods.
	seen := map[string]int{}
	for i := 0; i < 40; i++ {
		c, err := net.Dial("udp4", fmt.Sprintf("%s:80", svc.Spec.ClusterIP))
		if err != nil {
			t.Fatal(err)
		}
		host, err := ask(c, fmt.Sprint("ping ", i))
		c.Close()
		if err != nil {
			t.Fatalf("UDP through the ClusterIP: %v", err)
		}
		seen[host]++
	}
	pxAssertSpread(t, "UDP ClusterIP flows", seen, pxNames(pods), 40)
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", svc.Spec.Ports[0].NodePort))
	if err != nil {
		t.Fatal(err)
	}
	if host, err := ask(c, "nodeport"); err != nil || !slices.Contains(pxNames(pods), host) {
		t.Errorf("UDP through the NodePort on 127.0.0.1: %q %v", host, err)
	}
	c.Close()

	// One flow, kept alive: its endpoint turns unready (the pod keeps
	// running and answering: only the proxy can move the flow, by
	// deleting its conntrack entry).
	flow, err := net.Dial("udp4", fmt.Sprintf("%s:80", svc.Spec.ClusterIP))
	if err != nil {
		t.Fatal(err)
	}
	defer flow.Close()
	first, err := ask(flow, "hello")
	if err != nil {
		t.Fatal(err)
	}
	p := pods[first]
	docker(t, "exec", containerID(&p, "web"), "touch", "/tmp/unready")
	var others []string
	for n, p := range pods {
		if n != first {
			others = append(others, p.Status.PodIP)
		}
	}
	pxWaitDNAT(t, id, node, "default/echo:http", others, 5353)
	moved := ""
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && moved == "" {
		if host, err := ask(flow, "again"); err == nil && host != first {
			moved = host
		}
		time.Sleep(100 * time.Millisecond)
	}
	if moved == "" {
		t.Fatalf("the UDP flow stayed on unready pod %s (stale conntrack entry)", first)
	}
	t.Logf("UDP flow moved from unready %s to %s", first, moved)
}

// TestProxyAgentRestartDocker kills the agent with SIGKILL: Services keep
// answering while it is down, changes made meanwhile (a Service deleted,
// one created, a pod removed) are applied when it is back, and its rules
// then hold no duplicate and nothing stale.
func TestProxyAgentRestartDocker(t *testing.T) {
	img := busybox(t)
	s := startServer(t)
	cs := clientset(t, s)
	node := uniqueName("px")
	agent, err := cluster.StartAgent(cluster.AgentOptions{Bin: skiffBin, Server: s, NodeName: node, DataDir: filepath.Join(t.TempDir(), "agent")})
	if err != nil {
		t.Fatal(err)
	}
	id := clusterIDOf(t, s)
	t.Cleanup(func() {
		agent.Kill()
		removeClusterContainers(t, id)
		if t.Failed() {
			t.Logf("agent log:\n%s", tail(agent.Log(), 6000))
		}
	})
	pxCleanupRules(t, id, agent.Kill, node)
	waitNodeReady(t, cs, node)

	pxCreateDeployment(t, cs, pxWebDeployment("web", img, 3, ""))
	web := pxCreateService(t, cs, pxService("web", "web", corev1.ProtocolTCP, 8080))
	doomed := pxCreateService(t, cs, pxService("doomed", "web", corev1.ProtocolTCP, 8080))
	pods := pxReadyPods(t, cs, "web", 3, 120*time.Second)
	pxWaitDNAT(t, id, node, "default/web:http", pxPodIPs(pods), 8080)
	pxWaitDNAT(t, id, node, "default/doomed:http", pxPodIPs(pods), 8080)
	before := pxNodeRules(t, id, node)
	pxCheckNodeRules(t, id, node, before)
	webURL := fmt.Sprintf("http://%s/", web.Spec.ClusterIP)

	agent.Kill()
	pxAssertSpread(t, "ClusterIP while the agent is down", pxFromHost(t, webURL, 60), pxNames(pods), 60)

	// Meanwhile: a Service goes, one comes, a pod is removed.
	if err := cs.CoreV1().Services("default").Delete(context.Background(), "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	fresh := pxCreateService(t, cs, pxService("fresh", "web", corev1.ProtocolTCP, 8080))
	pxScale(t, cs, "web", 2)
	// The removed pod keeps running until its agent is back: the rules
	// still in place keep serving.
	pxAssertSpread(t, "ClusterIP while the agent is down, after the changes", pxFromHost(t, webURL, 60), pxNames(pods), 60)

	if err := agent.Restart(); err != nil {
		t.Fatal(err)
	}
	pods = pxReadyPods(t, cs, "web", 2, 120*time.Second)
	pxWaitDNAT(t, id, node, "default/web:http", pxPodIPs(pods), 8080)
	pxWaitDNAT(t, id, node, "default/fresh:http", pxPodIPs(pods), 8080)
	after := pxNodeRules(t, id, node)
	pxCheckNodeRules(t, id, node, after)
	for _, l := range after {
		if strings.Contains(l, "default/doomed") || strings.Contains(l, doomed.Spec.ClusterIP+"/32") {
			t.Errorf("stale rule of the deleted Service: %s", l)
		}
	}
	pxAssertSpread(t, "ClusterIP after the restart", pxFromHost(t, webURL, 60), pxNames(pods), 60)
	pxAssertSpread(t, "Service created while the agent was down", pxFromHost(t, fmt.Sprintf("http://%s/", fresh.Spec.ClusterIP), 60), pxNames(pods), 60)
	t.Logf("node rules: %d lines before the kill, %d after the restart", len(before), len(after))
}

// pxCheckNodeRules checks a node's iptables-save lines: every jump rule in
// a built-in chain once, no rule twice in a chain, and no chain that
// nothing jumps to (a stale one).
func pxCheckNodeRules(t *testing.T, clusterID, node string, lines []string) {
	t.Helper()
	prefix := proxy.NodeChainPrefix(clusterID, node)
	count := map[string]int{}
	declared := map[string]bool{}
	targets := map[string]bool{}
	jumps := 0
	for _, l := range lines {
		count[l]++
		table, rule, _ := strings.Cut(l, ": ")
		if strings.HasPrefix(rule, ":") {
			name, _, _ := strings.Cut(rule[1:], " ")
			declared[table+"/"+name] = true
			continue
		}
		f := strings.Fields(rule)
		for i := range f {
			if f[i] == "-j" && i+1 < len(f) {
				targets[table+"/"+f[i+1]] = true
			}
		}
		if len(f) > 1 && !strings.HasPrefix(f[1], prefix) {
			jumps++
		}
	}
	for l, n := range count {
		if n > 1 {
			t.Errorf("duplicate rule (%d times): %s", n, l)
		}
	}
	if jumps != 10 {
		t.Errorf("%d jump rules into the node's chains, want 10:\n%s", jumps, strings.Join(lines, "\n"))
	}
	for c := range declared {
		if !targets[c] && !strings.HasSuffix(c, "-MARK-MASQ") {
			t.Errorf("chain %s is declared but nothing jumps to it (stale)", c)
		}
	}
}

// TestProxyTwoAgentsOneEngineDocker runs two agents on one Docker engine
// (one host, one iptables): a pod on node A reaches a Service whose pods
// are on node B; each agent has its own chains; removing one node's rules
// leaves the other's working.
func TestProxyTwoAgentsOneEngineDocker(t *testing.T) {
	img := busybox(t)
	s := startServer(t)
	cs := clientset(t, s)
	id := clusterIDOf(t, s)
	var agents []*cluster.Agent
	var nodes []string
	for _, n := range []string{uniqueName("pxa"), uniqueName("pxb")} {
		a, err := cluster.StartAgent(cluster.AgentOptions{Bin: skiffBin, Server: s, NodeName: n, DataDir: filepath.Join(t.TempDir(), n)})
		if err != nil {
			t.Fatal(err)
		}
		agents, nodes = append(agents, a), append(nodes, n)
	}
	t.Cleanup(func() {
		for _, a := range agents {
			a.Kill()
		}
		removeClusterContainers(t, id)
		if t.Failed() {
			for i, a := range agents {
				t.Logf("agent %s log:\n%s", nodes[i], tail(a.Log(), 4000))
			}
		}
	})
	pxCleanupRules(t, id, func() {
		for _, a := range agents {
			a.Kill()
		}
	}, nodes...)
	for _, n := range nodes {
		waitNodeReady(t, cs, n)
	}
	a, b := nodes[0], nodes[1]

	pxCreateDeployment(t, cs, pxWebDeployment("web", img, 2, b))
	svc := pxService("web", "web", corev1.ProtocolTCP, 8080)
	// Local: the pods are on B, which shares this host with A, so both
	// nodes count them as local.
	svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	svc = pxCreateService(t, cs, svc)
	client := pxClientPod(t, cs, "client", img, a)
	pods := pxReadyPods(t, cs, "web", 2, 120*time.Second)
	for _, p := range pods {
		if p.Spec.NodeName != b {
			t.Fatalf("pod %s on %s, want %s", p.Name, p.Spec.NodeName, b)
		}
	}
	for _, n := range nodes {
		pxWaitDNAT(t, id, n, "default/web:http", pxPodIPs(pods), 8080)
		pxCheckNodeRules(t, id, n, pxNodeRules(t, id, n))
	}
	url := fmt.Sprintf("http://%s/", svc.Spec.ClusterIP)
	pxAssertSpread(t, "pod on A → ClusterIP → pods on B", pxFromPod(t, client, url, 100), pxNames(pods), 100)
	pxAssertSpread(t, "Local NodePort on 127.0.0.1", pxFromHost(t, fmt.Sprintf("http://127.0.0.1:%d/", svc.Spec.Ports[0].NodePort), 60), pxNames(pods), 60)

	// Removing A's rules leaves B's: the Service still answers.
	if err := proxy.Cleanup(id, a); err != nil {
		t.Fatal(err)
	}
	if left := pxNodeRules(t, id, a); len(left) != 0 {
		t.Fatalf("rules of %s left: %q", a, left)
	}
	pxCheckNodeRules(t, id, b, pxNodeRules(t, id, b))
	pxAssertSpread(t, "pod on A → ClusterIP with only B's rules", pxFromPod(t, client, url, 60), pxNames(pods), 60)
}

// TestProxyUserspaceDocker runs an agent with --proxy-mode=userspace: no
// iptables rules; the agent relays ClusterIP (bound on the loopback
// device) and NodePort traffic itself.
func TestProxyUserspaceDocker(t *testing.T) {
	img := busybox(t)
	s := startServer(t)
	cs := clientset(t, s)
	node := uniqueName("pxu")
	agent, err := cluster.StartAgent(cluster.AgentOptions{Bin: skiffBin, Server: s, NodeName: node, DataDir: filepath.Join(t.TempDir(), "agent"),
		Args: []string{"--proxy-mode", "userspace", "--log-level", "debug"}})
	if err != nil {
		t.Fatal(err)
	}
	id := clusterIDOf(t, s)
	t.Cleanup(func() {
		agent.Kill()
		removeClusterContainers(t, id)
		// The ClusterIPs the agent put on the loopback device (its
		// Services' and the cluster's own kubernetes Service).
		out, _ := exec.Command("ip", "-4", "-o", "address", "show", "dev", "lo", "label", "lo:skiff").Output()
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			for i := 0; i+1 < len(f); i++ {
				if f[i] == "inet" {
					if err := exec.Command("ip", "address", "del", f[i+1], "dev", "lo").Run(); err != nil {
						t.Errorf("remove %s from the loopback device: %v", f[i+1], err)
					}
				}
			}
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", tail(agent.Log(), 6000))
		}
	})
	waitNodeReady(t, cs, node)
	pxCreateDeployment(t, cs, pxWebDeployment("web", img, 3, ""))
	svc := pxCreateService(t, cs, pxService("web", "web", corev1.ProtocolTCP, 8080))
	clusterIP := svc.Spec.ClusterIP
	client := pxClientPod(t, cs, "client", img, "")
	pods := pxReadyPods(t, cs, "web", 3, 120*time.Second)
	pxWaitProgrammed(t, clusterIP)
	if left := pxNodeRules(t, id, node); len(left) != 0 {
		t.Errorf("userspace mode wrote iptables rules: %q", left)
	}
	url := fmt.Sprintf("http://%s/", clusterIP)
	pxWaitAllAnswer(t, url, pxNames(pods))
	pxAssertSpread(t, "userspace ClusterIP from the host", pxFromHost(t, url, 150), pxNames(pods), 150)
	pxAssertSpread(t, "userspace ClusterIP from a pod", pxFromPod(t, client, url, 150), pxNames(pods), 150)
	pxAssertSpread(t, "userspace NodePort on 127.0.0.1", pxFromHost(t, fmt.Sprintf("http://127.0.0.1:%d/", svc.Spec.Ports[0].NodePort), 150), pxNames(pods), 150)

	pxThroughput(t, cs, img, "userspace mode, from the host")

	pxScale(t, cs, "web", 0)
	pxReadyPods(t, cs, "web", 0, 120*time.Second)
	eventually(t, 60*time.Second, func() error {
		if _, err := pxGet(pxHTTPClient(), url); !pxRefused(err) {
			return fmt.Errorf("ClusterIP without endpoints: %v, want connection refused", err)
		}
		return nil
	})
	if _, err := pxGet(pxHTTPClient(), fmt.Sprintf("http://127.0.0.1:%d/", svc.Spec.Ports[0].NodePort)); !pxRefused(err) {
		t.Errorf("NodePort without endpoints: %v, want connection refused", err)
	}
}

// TestProxyResetRemovesRulesDocker: `skiff reset` removes the cluster's
// Service rules with its containers (the agent itself never does: its
// rules outlive it so Services survive a restart).
func TestProxyResetRemovesRulesDocker(t *testing.T) {
	s, cs, node := startUp(t)
	id := clusterIDOf(t, s)
	pxCleanupRules(t, id, s.Kill, node)
	img := busybox(t)
	pxCreateDeployment(t, cs, pxWebDeployment("web", img, 1, ""))
	svc := pxCreateService(t, cs, pxService("web", "web", corev1.ProtocolTCP, 8080))
	pods := pxReadyPods(t, cs, "web", 1, 120*time.Second)
	pxWaitDNAT(t, id, node, "default/web:http", pxPodIPs(pods), 8080)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if len(pxNodeRules(t, id, node)) == 0 {
		t.Fatal("stopping skiff up removed the Service rules; they must stay until reset")
	}
	if got, err := pxGet(pxHTTPClient(), fmt.Sprintf("http://%s/", svc.Spec.ClusterIP)); err != nil || got != pxNames(pods)[0] {
		t.Errorf("Service with skiff up stopped: %q %v, want it still answering", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, code := cluster.Run(ctx, nil, "", skiffBin, "reset", "--data-dir", s.DataDir())
	if code != 0 || !strings.Contains(out, "Service proxy rules") {
		t.Fatalf("reset: exit %d\n%s%s", code, out, errOut)
	}
	if left := pxNodeRules(t, id, node); len(left) != 0 {
		t.Errorf("rules left after reset: %q", left)
	}
}
