package proxy

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func testSlice(name, svc string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: svc},
			Annotations: map[string]string{corev1.EndpointsLastChangeTriggerTime: time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints:   eps,
	}
}

func readyEP(ip, node string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To(node), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}
}

// TestProxierFollowsTheAPI runs a Proxier on a fake API and a fake
// iptables: the first sync programs the Service, a slice change reaches
// the rules with its latency reported, a deleted Service's chains go,
// and a node sharing this host counts as local.
func TestProxierFollowsTheAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ClusterConfigMap, Namespace: "kube-system"}, Data: map[string]string{"clusterCIDR": "10.42.0.0/16"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.2"}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.2"}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-c"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.3"}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.20", ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt(8080), NodePort: 30080, Protocol: corev1.ProtocolTCP}}}},
		testSlice("web-1", "web", readyEP("10.42.0.5", "node-b"), readyEP("10.42.0.6", "node-c")),
	)
	f := newFakeIPTables()
	var mu sync.Mutex
	var results []SyncResult
	p, err := newProxier(Options{Client: client, ClusterID: testCluster, NodeName: "node-a", NodeIPs: []string{"192.0.2.2"}, Logger: slog.New(slog.DiscardHandler),
		MinSyncInterval: 10 * time.Millisecond,
		OnSync: func(r SyncResult) {
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}}, ModeIPTables, f)
	if err != nil {
		t.Fatal(err)
	}
	p.routeLocalnet = filepath.Join(t.TempDir(), "route_localnet")
	p.flows = nil
	p.sysfs = t.TempDir()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-p.Synced():
	case err := <-done:
		t.Fatalf("Run returned before syncing: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no first sync")
	}
	prefix := NodeChainPrefix(testCluster, "node-a")
	names := chainNames{prefix: prefix}
	svcName := servicePortName{Port: "http", Protocol: corev1.ProtocolTCP}
	svcName.Namespace, svcName.Name = "default", "web"
	waitFor := func(what string, cond func(map[string][]string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if cond(f.chainsUnder(prefix)) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: host chains %v", what, f.chainsUnder(prefix))
	}
	// node-b shares this host (same InternalIP): its endpoint is local,
	// so the Local NodePort has a local endpoint; node-c's is not.
	waitFor("local endpoints of a co-located node", func(c map[string][]string) bool {
		svl := strings.Join(c[tableNAT+"/"+names.svl(svcName)], "\n")
		return strings.Contains(svl, "10.42.0.5:8080") && !strings.Contains(svl, "10.42.0.6:8080")
	})

	// An endpoint change reaches the rules, and the sync reports latency.
	s, _ := client.DiscoveryV1().EndpointSlices("default").Get(ctx, "web-1", metav1.GetOptions{})
	s.Endpoints = append(s.Endpoints, readyEP("10.42.0.7", "node-c"))
	mu.Lock()
	before := len(results)
	mu.Unlock()
	if _, err := client.DiscoveryV1().EndpointSlices("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("new endpoint", func(c map[string][]string) bool {
		return strings.Contains(strings.Join(c[tableNAT+"/"+names.svc(svcName)], "\n"), "10.42.0.7:8080")
	})
	// OnSync runs just after the rules are written: wait for its report
	// of the sync that wrote them.
	var last SyncResult
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(results)
		if n > 0 {
			last = results[n-1]
		}
		mu.Unlock()
		if n > before || time.Now().After(deadline) {
			break
		}
	}
	if last.Err != nil || last.Full || last.Latency <= 0 || last.NetworkProgramming < time.Second || last.Written == 0 {
		t.Errorf("last sync %+v: want an incremental sync with latencies", last)
	}

	// The Service goes: its chains go, nothing else of it remains.
	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("service removed", func(c map[string][]string) bool {
		for k := range c {
			if strings.Contains(k, "-SVC-") || strings.Contains(k, "-SEP-") || strings.Contains(k, "-EXT-") && !strings.HasSuffix(k, "-EXT-SERVICES") {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Stopping leaves the rules in place (an agent restart must not
	// interrupt Services).
	if len(f.chainsUnder(prefix)) == 0 {
		t.Error("Run removed the rules when it stopped")
	}
}

func TestParseClusterConfig(t *testing.T) {
	c, err := parseClusterConfig(map[string]string{"clusterCIDR": "10.42.0.0/16"})
	if err != nil || c.ServiceCIDR.String() != DefaultServiceCIDR || c.NodePortMin != 30000 || c.NodePortMax != 32767 || c.ClusterCIDR.String() != "10.42.0.0/16" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = parseClusterConfig(map[string]string{"clusterCIDR": "10.42.0.0/16", "serviceCIDR": "10.100.0.1/20", "serviceNodePortRange": "20000-20100"})
	if err != nil || c.ServiceCIDR.String() != "10.100.0.0/20" || c.NodePortMin != 20000 || c.NodePortMax != 20100 {
		t.Fatalf("explicit: %+v %v", c, err)
	}
	for _, bad := range []map[string]string{
		{"clusterCIDR": "nope"}, {"serviceCIDR": "fd00::/108"}, {"serviceNodePortRange": "30000"},
		{"serviceNodePortRange": "40000-30000"}, {"serviceNodePortRange": "0-70000"},
	} {
		if _, err := parseClusterConfig(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestStaleUDPFlows(t *testing.T) {
	a := endpoint{IP: "10.42.0.1", Port: 53, Ready: true}
	b := endpoint{IP: "10.42.0.2", Port: 53, Ready: true}
	sp := testPort("dns", corev1.ProtocolUDP, "10.96.0.10", 53, a, b)
	sp.NodePort = 30053
	gone := sp
	gone.Endpoints = []endpoint{b}
	got := staleUDPFlows([]servicePort{sp}, []servicePort{gone})
	if len(got) != 2 || got[0].OrigDst.String() != "10.96.0.10" || got[0].ReplySrc.String() != "10.42.0.1" || !got[1].LocalDst || got[1].OrigDstPort != 30053 {
		t.Errorf("endpoint removed: %+v", got)
	}
	// A port that had no endpoint gets one: unNATed flows to it go.
	empty := sp
	empty.Endpoints = nil
	got = staleUDPFlows([]servicePort{empty}, []servicePort{sp})
	if len(got) != 2 || !got[0].Unnated || got[0].ReplySrc.IsValid() {
		t.Errorf("endpoints appeared: %+v", got)
	}
	// TCP is left to itself; nothing changing means nothing to clear.
	tcp := testPort("web", corev1.ProtocolTCP, "10.96.0.11", 80, a)
	if got := staleUDPFlows([]servicePort{tcp, sp}, []servicePort{sp}); len(got) != 0 {
		t.Errorf("no UDP change: %+v", got)
	}
}

func TestEnableHairpinOnThePodBridge(t *testing.T) {
	// 127.0.0.0/8 stands for the cluster CIDR: the loopback device holds
	// an address of it, as Docker's bridge holds the pod gateway.
	sysfs := t.TempDir()
	for port, mode := range map[string]string{"veth1": "0\n", "veth2": "1\n"} {
		dir := filepath.Join(sysfs, "class", "net", "lo", "brif", port)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hairpin_mode"), []byte(mode), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := enableHairpin(sysfs, netip.MustParsePrefix("127.0.0.0/8"))
	if err != nil || n != 1 {
		t.Fatalf("changed %d ports, %v; want 1", n, err)
	}
	for _, port := range []string{"veth1", "veth2"} {
		b, _ := os.ReadFile(filepath.Join(sysfs, "class", "net", "lo", "brif", port, "hairpin_mode"))
		if strings.TrimSpace(string(b)) != "1" {
			t.Errorf("%s hairpin_mode %q", port, b)
		}
	}
	// No interface in the CIDR: nothing to do.
	if n, err := enableHairpin(sysfs, netip.MustParsePrefix("203.0.113.0/24")); n != 0 || err != nil {
		t.Errorf("no bridge: %d %v", n, err)
	}
}
