package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/apiserver/servicealloc"
	"github.com/skiff-dev/skiff/e2e/cluster"
)

var allocTestCIDR = netip.MustParsePrefix("10.96.0.0/16")

func allocTestService(name string, ports ...int32) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}}}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", p), Port: p, TargetPort: intstr.FromInt32(p)})
	}
	return svc
}

// createServicesAtOnce creates n Services at once and returns name → cluster IP.
func createServicesAtOnce(t *testing.T, cs *kubernetes.Clientset, ns, prefix string, n int) map[string]string {
	t.Helper()
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			svc, err := cs.CoreV1().Services(ns).Create(context.Background(), allocTestService(fmt.Sprintf("%s-%d", prefix, i), 80), metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("create: %v", err)
				return
			}
			got[svc.Name] = svc.Spec.ClusterIP
		})
	}
	wg.Wait()
	return got
}

// requireDistinctClusterIPs fails the test unless every Service has its own IP inside
// the service CIDR, other than the kubernetes Service's.
func requireDistinctClusterIPs(t *testing.T, ips map[string]string) {
	t.Helper()
	owner := map[string]string{}
	for name, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil || !allocTestCIDR.Contains(a) || ip == "10.96.0.1" {
			t.Errorf("%s got cluster IP %q", name, ip)
		}
		if other, dup := owner[ip]; dup {
			t.Errorf("%s and %s share %s", name, other, ip)
		}
		owner[ip] = name
	}
}

// TestServiceAllocation: cluster IPs and node ports come from the service
// ranges, never twice, are given back on delete and survive a restart;
// the kubernetes Service points at the API server; a LoadBalancer gets
// the nodes' addresses.
func TestServiceAllocation(t *testing.T) {
	s := startServer(t)
	cs := clientset(t, s)
	k := newKubectl(t, s, "1.33")
	ctx := context.Background()
	ns := "alloc"
	k.must("create", "namespace", ns)

	// The user story: expose a Deployment as a NodePort Service.
	k.must("create", "deployment", "web", "--image=busybox:local", "-n", ns, "--", "httpd", "-f", "-p", "8080")
	if out := k.must("expose", "deploy/web", "--port=80", "--target-port=8080", "--type=NodePort", "-n", ns); strings.TrimSpace(out) != "service/web exposed" {
		t.Fatalf("expose printed %q", out)
	}
	out := k.must("get", "svc", "web", "-n", ns)
	row := regexp.MustCompile(`(?m)^web\s+NodePort\s+(10\.96\.\d+\.\d+)\s+<none>\s+80:(3\d{4})/TCP\s`)
	m := row.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("kubectl get svc:\n%s", out)
	}
	webIP, webPort := m[1], m[2]
	if np, _ := strconv.Atoi(webPort); np < 30000 || np > 32767 {
		t.Fatalf("node port %s", webPort)
	}

	// 50 creates at once: 50 distinct IPs.
	ips := createServicesAtOnce(t, cs, ns, "many", 50)
	if len(ips) != 50 {
		t.Fatalf("%d of 50 created", len(ips))
	}
	ips["web"] = webIP
	requireDistinctClusterIPs(t, ips)

	// A taken IP or node port is refused with upstream's 422.
	_, errOut, code := k.run("create", "service", "clusterip", "taken", "--tcp=80", "--clusterip="+webIP, "-n", ns)
	want := fmt.Sprintf(`spec.clusterIPs: Invalid value: ["%s"]: failed to allocate IP %s: provided IP is already allocated`, webIP, webIP)
	if code == 0 || !strings.Contains(errOut, want) {
		t.Fatalf("create with a taken IP: exit %d, %s\nwant %s", code, errOut, want)
	}
	taken := allocTestService("taken", 80)
	taken.Spec.ClusterIP = webIP
	_, err := cs.CoreV1().Services(ns).Create(ctx, taken, metav1.CreateOptions{})
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Code != 422 || len(se.ErrStatus.Details.Causes) != 1 || se.ErrStatus.Details.Causes[0].Field != "spec.clusterIPs" {
		t.Fatalf("create with a taken IP through client-go: %v", err)
	}
	_, errOut, code = k.run("create", "service", "nodeport", "taken-port", "--tcp=80", "--node-port="+webPort, "-n", ns)
	if code == 0 || !strings.Contains(errOut, "spec.ports[0].nodePort: Invalid value: "+webPort+": provided port is already allocated") {
		t.Fatalf("create with a taken node port: exit %d, %s", code, errOut)
	}

	// Deleting frees both for reuse.
	k.must("delete", "service", "web", "-n", ns)
	k.must("create", "service", "nodeport", "reuse", "--tcp=80", "--node-port="+webPort, "-n", ns)
	reuse := allocTestService("reuse-ip", 80)
	reuse.Spec.ClusterIP = webIP
	if got, err := cs.CoreV1().Services(ns).Create(ctx, reuse, metav1.CreateOptions{}); err != nil || got.Spec.ClusterIP != webIP {
		t.Fatalf("reusing a freed IP: %v", err)
	}

	// Re-applying a manifest keeps the allocated node port; a port added
	// to it gets a new one; the cluster IP is immutable.
	dir := t.TempDir()
	manifest := func(ports string) string {
		p := filepath.Join(dir, "applied.yaml")
		doc := "apiVersion: v1\nkind: Service\nmetadata:\n  name: applied\n  namespace: " + ns +
			"\nspec:\n  type: NodePort\n  selector:\n    app: applied\n  ports:\n" + ports
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k.must("apply", "-f", manifest("  - name: http\n    port: 80\n"))
	first, err := cs.CoreV1().Services(ns).Get(ctx, "applied", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k.must("apply", "-f", manifest("  - name: http\n    port: 80\n  - name: https\n    port: 443\n"))
	second, err := cs.CoreV1().Services(ns).Get(ctx, "applied", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := second.Spec.Ports; len(p) != 2 || p[0].NodePort != first.Spec.Ports[0].NodePort || p[1].NodePort == 0 || p[1].NodePort == p[0].NodePort ||
		second.Spec.ClusterIP != first.Spec.ClusterIP {
		t.Fatalf("after re-applying with a port added: %+v (before %+v)", second.Spec, first.Spec)
	}
	_, errOut, code = k.run("patch", "svc", "applied", "-n", ns, "--type=merge", "-p", `{"spec":{"clusterIP":"10.96.1.1","clusterIPs":["10.96.1.1"]}}`)
	if code == 0 || !strings.Contains(errOut, "may not change once set") {
		t.Fatalf("changing the cluster IP: exit %d, %s", code, errOut)
	}

	// The kubernetes Service and its endpoints point at this API server,
	// at the address pods can reach: with a loopback --listen and no
	// --advertise-address, the pod network's gateway, where the server
	// listens too.
	apiPort := s.URL[strings.LastIndex(s.URL, ":")+1:]
	requireKubernetesService(t, cs, "10.42.0.1", apiPort)
	if !strings.Contains(s.Log(), "API server reachable from pods") {
		t.Error("the server does not say it listens for pods on the pod network's gateway")
	}

	// A LoadBalancer gets node ports and the Ready nodes' addresses.
	fakeNodes(t, s, 2)
	k.must("create", "service", "loadbalancer", "lb", "--tcp=80:8080", "-n", ns)
	eventually(t, 30*time.Second, func() error {
		svc, err := cs.CoreV1().Services(ns).Get(ctx, "lb", metav1.GetOptions{})
		if err != nil {
			return err
		}
		in := svc.Status.LoadBalancer.Ingress
		if len(in) != 1 || in[0].IP != "127.0.0.1" || svc.Spec.Ports[0].NodePort == 0 {
			return fmt.Errorf("ingress %+v, ports %+v", in, svc.Spec.Ports)
		}
		return nil
	})
	if out := k.must("get", "svc", "lb", "-n", ns); !regexp.MustCompile(`lb\s+LoadBalancer\s+10\.96\.\d+\.\d+\s+127\.0\.0\.1\s+80:3\d{4}/TCP`).MatchString(out) {
		t.Errorf("kubectl get svc lb:\n%s", out)
	}

	// A restart keeps every allocation, and new ones do not collide.
	before := map[string]string{}
	list, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range list.Items {
		before[svc.Name] = svc.Spec.ClusterIP
	}
	s.Kill()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	cs = clientset(t, s)
	after := createServicesAtOnce(t, cs, ns, "after", 20)
	list, err = cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{}
	for _, svc := range list.Items {
		all[svc.Name] = svc.Spec.ClusterIP
		if ip, ok := before[svc.Name]; ok && ip != svc.Spec.ClusterIP {
			t.Errorf("%s: %s before the restart, %s after", svc.Name, ip, svc.Spec.ClusterIP)
		}
	}
	if len(all) != len(before)+len(after) {
		t.Fatalf("%d services after the restart, want %d", len(all), len(before)+len(after))
	}
	requireDistinctClusterIPs(t, all)
	requireKubernetesService(t, cs, "10.42.0.1", apiPort)
}

func requireKubernetesService(t *testing.T, cs *kubernetes.Clientset, advertise, apiPort string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 20*time.Second, func() error {
		svc, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p := svc.Spec.Ports; svc.Spec.ClusterIP != "10.96.0.1" || len(p) != 1 || p[0].Name != "https" || p[0].Port != 443 || p[0].TargetPort.String() != apiPort {
			return fmt.Errorf("kubernetes service %+v", svc.Spec)
		}
		slice, err := cs.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if slice.Labels[discoveryv1.LabelServiceName] != "kubernetes" || len(slice.Endpoints) != 1 || slice.Endpoints[0].Addresses[0] != advertise ||
			len(slice.Ports) != 1 || fmt.Sprint(*slice.Ports[0].Port) != apiPort {
			return fmt.Errorf("kubernetes endpointslice %+v", slice)
		}
		ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || ep.Subsets[0].Addresses[0].IP != advertise {
			return fmt.Errorf("kubernetes endpoints %+v", ep.Subsets)
		}
		return nil
	})
	// The cluster settings node agents read.
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "skiff-cluster", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["serviceCIDR"] != "10.96.0.0/16" || cm.Data["serviceNodePortRange"] != "30000-32767" || cm.Data["clusterDomain"] != "cluster.local" {
		t.Errorf("skiff-cluster %v", cm.Data)
	}
}

// TestServiceAllocationTwoServers: two API servers sharing one external
// etcd, creating Services at once, never hand out the same cluster IP or
// node port.
func TestServiceAllocationTwoServers(t *testing.T) {
	endpoint := startExternalEtcdForServices(t)
	a := startServer(t, "--etcd-endpoints", endpoint, "--advertise-address", "10.0.0.1")
	b := startServer(t, "--etcd-endpoints", endpoint, "--advertise-address", "10.0.0.2")
	clients := []*kubernetes.Clientset{clientset(t, a), clientset(t, b)}
	ctx := context.Background()
	var mu sync.Mutex
	ips, ports := map[string]string{}, map[int32]string{}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			svc := allocTestService(fmt.Sprintf("s-%d", i), 80)
			svc.Spec.Type = corev1.ServiceTypeNodePort
			got, err := clients[i%2].CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("create through server %d: %v", i%2, err)
				return
			}
			ips[got.Name] = got.Spec.ClusterIP
			np := got.Spec.Ports[0].NodePort
			if other, dup := ports[np]; dup {
				t.Errorf("%s and %s share node port %d", got.Name, other, np)
			}
			ports[np] = got.Name
		})
	}
	wg.Wait()
	if len(ips) != 60 {
		t.Fatalf("%d of 60 created", len(ips))
	}
	requireDistinctClusterIPs(t, ips)

	// The reservations in etcd are exactly the Services' (and the
	// kubernetes Service's IP): a create that fails after reserving (the
	// name is taken) gives its reservation back; a delete releases.
	ec, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	reserved := func(kind string) int64 {
		t.Helper()
		resp, err := ec.Get(ctx, "/skiff/serviceallocations/"+kind+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	for i := range 10 {
		svc := allocTestService(fmt.Sprintf("s-%d", i), 80)
		svc.Spec.Type = corev1.ServiceTypeNodePort
		if _, err := clients[i%2].CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating %s again: %v", svc.Name, err)
		}
	}
	if ipKeys, portKeys := reserved("clusterips"), reserved("nodeports"); ipKeys != 61 || portKeys != 60 {
		t.Fatalf("%d IP and %d node port reservations for 60 NodePort Services and the kubernetes Service", ipKeys, portKeys)
	}
	for i := range 30 {
		if err := clients[i%2].CoreV1().Services("default").Delete(ctx, fmt.Sprintf("s-%d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if ipKeys, portKeys := reserved("clusterips"), reserved("nodeports"); ipKeys != 31 || portKeys != 30 {
		t.Fatalf("after deleting 30: %d IP and %d node port reservations", ipKeys, portKeys)
	}
	// The servers listen on different ports (one host), which one
	// EndpointSlice cannot express: both publish the same choice, the
	// lower address on its port, and keep it rather than overwrite each
	// other. Once the first stops cleanly, the second takes over.
	aPort, bPort := a.URL[strings.LastIndex(a.URL, ":")+1:], b.URL[strings.LastIndex(b.URL, ":")+1:]
	requireKubernetesService(t, clients[1], "10.0.0.1", aPort)
	slice, err := clients[0].DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(servicealloc.APIServerLeaseRefresh + 2*time.Second)
	again, err := clients[0].DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != slice.ResourceVersion {
		t.Errorf("the kubernetes EndpointSlice was rewritten (%s → %s): the servers disagree", slice.ResourceVersion, again.ResourceVersion)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	requireKubernetesService(t, clients[1], "10.0.0.2", bPort)
}

// startExternalEtcdForServices runs an etcd that no skiff server owns and
// returns its client URL.
func startExternalEtcdForServices(t *testing.T) string {
	t.Helper()
	cport, err := cluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pport, err := cluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "etcd")
	cu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", cport))
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", pport))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd not ready")
	}
	return cu.String()
}
