package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/e2e/images"
	"github.com/skiff-dev/skiff/nodeagent/proxy"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// upCluster is a `skiff up` process (control plane and one Docker node)
// with what the Services and streams scenarios need to reach it and to
// clean up after it.
type upCluster struct {
	s    *cluster.Server
	cfg  *rest.Config
	cs   kubernetes.Interface
	node string
	// id is the cluster's identity: its containers' label and part of
	// its proxy chains' names.
	id      string
	svcCIDR netip.Prefix
	// userspace: the agent's proxy binds ClusterIPs on the loopback device.
	userspace bool
}

// startUp starts `skiff up` with its own node name and its own service
// CIDR. The CIDR is picked at random in 10.100.0.0–10.199.0.0/16: other
// clusters on this host (other people's tests) keep the default
// 10.96.0.0/16, and two clusters' Services at one ClusterIP collide on a
// shared host, which would measure someone else's pod.
func startUp(e *env, name string, args ...string) (*upCluster, error) {
	node := fmt.Sprintf("bench-%s-%d", name, time.Now().UnixNano()%1e6)
	cidr := netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", 100+rand.IntN(100)))
	all := append([]string{"--node-name", node, "--service-cidr", cidr.String()}, args...)
	s, err := cluster.Start(cluster.Options{Bin: e.skiffBin, DataDir: filepath.Join(e.tmp, name), Subcommand: "up", Args: all})
	if err != nil {
		return nil, fmt.Errorf("skiff up: %w", err)
	}
	c := &upCluster{s: s, node: node, svcCIDR: cidr}
	for _, a := range args {
		if a == "--proxy-mode=userspace" {
			c.userspace = true
		}
	}
	if c.id, err = clusterID(s); err != nil {
		c.close()
		return nil, fmt.Errorf("cluster id: %w", err)
	}
	cfg, err := s.RESTConfig()
	if err != nil {
		c.close()
		return nil, err
	}
	c.cfg = unthrottled(cfg)
	if c.cs, err = kubernetes.NewForConfig(c.cfg); err != nil {
		c.close()
		return nil, err
	}
	if err := waitNode(context.Background(), c.cs, node); err != nil {
		c.close()
		return nil, fmt.Errorf("%w\nskiff up log (tail):\n%s", err, tail(s.Log(), 3000))
	}
	if !c.userspace {
		// The chains must be where this program's copy of the proxy
		// package names them: a skiff binary built from other sources
		// would be measured wrong and leave its rules behind at close.
		chain := proxy.NodeChainPrefix(c.id, node) + "-SERVICES"
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if _, err = iptablesChain(chain); err == nil {
				break
			}
		}
		if err != nil {
			c.close()
			return nil, fmt.Errorf("the node's proxy chain %s does not exist: is %s built from this checkout? %w", chain, e.skiffBin, err)
		}
	}
	return c, nil
}

// close kills the cluster and removes what it left on the host: its
// containers, its node's iptables chains (they outlive the agent by
// design) and, in userspace mode, its ClusterIPs on the loopback device.
func (c *upCluster) close() {
	ctx := context.Background()
	c.s.Kill()
	if c.id == "" {
		return
	}
	if rt, err := runtime.NewDocker(runtime.DockerOptions{}); err == nil {
		removeLabelled(ctx, rt, map[string]string{runtime.LabelManaged: "true", runtime.LabelCluster: c.id})
	}
	if err := proxy.CleanupCluster(c.id); err != nil {
		fmt.Fprintf(os.Stderr, "  cleanup of cluster %s's proxy rules: %v\n", c.id, err)
	}
	if c.userspace {
		removeLoopbackIn(c.svcCIDR)
	}
}

// removeLoopbackIn deletes the addresses of one service CIDR that the
// userspace proxy put on the loopback device (kept after a kill -9).
func removeLoopbackIn(cidr netip.Prefix) {
	out, _ := exec.Command("ip", "-4", "-o", "address", "show", "dev", "lo").Output()
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" {
				continue
			}
			p, err := netip.ParsePrefix(f[i+1])
			if err != nil || !cidr.Contains(p.Addr()) {
				continue
			}
			if err := exec.Command("ip", "address", "del", f[i+1], "dev", "lo").Run(); err != nil {
				fmt.Fprintf(os.Stderr, "  remove %s from lo: %v\n", f[i+1], err)
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// ---------------------------------------------------------------------
// services/endpoint-to-rule

const (
	e2rServices  = 1000
	e2rEndpoints = 3
	e2rPort      = 8080
)

// benchEndpointToRule: 1,000 selector-less Services with 3 endpoints each
// (EndpointSlices written here, addresses in the pod CIDR that no pod
// holds), then one Service's endpoint address is swapped again and again;
// each time, the clock runs from the API write returning until the node's
// iptables send the Service to the new address.
func benchEndpointToRule(e *env) ([]Result, error) {
	ctx := context.Background()
	c, err := startUp(e, "endpoint-to-rule")
	if err != nil {
		return nil, err
	}
	defer c.close()
	cm, err := c.cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "skiff-cluster", metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the cluster's network settings: %w", err)
	}
	podCIDR, err := netip.ParsePrefix(cm.Data["clusterCIDR"])
	if err != nil {
		return nil, fmt.Errorf("clusterCIDR %q: %w", cm.Data["clusterCIDR"], err)
	}
	// The issue asks for p99 over at least 50 changes: -quick keeps that.
	changes := 200
	if e.quick {
		changes = 50
	}
	// Addresses from the upper half of the pod CIDR: the agent hands out
	// pod addresses from the bottom, and these must never be a real pod's.
	ips, err := upperHalf(podCIDR, e2rServices*e2rEndpoints+changes)
	if err != nil {
		return nil, err
	}

	var next atomic.Int32
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	start := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= e2rServices {
					return
				}
				if err := createStaticService(ctx, c.cs, i, ips[i*e2rEndpoints:(i+1)*e2rEndpoints]); err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	created := time.Since(start)

	// All 1,000 in the rules before the measurement starts.
	prefix := proxy.NodeChainPrefix(c.id, c.node)
	servicesChain := prefix + "-SERVICES"
	var rules string
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		rules, err = iptablesChain(servicesChain)
		if err == nil && strings.Count(rules, `"default/svc-`) >= e2rServices {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("after 3 min, %d of %d Services have rules in %s (err %v)", strings.Count(rules, `"default/svc-`), e2rServices, servicesChain, err)
		}
	}
	initial := time.Since(start)

	const target = e2rServices / 2
	svc, err := c.cs.CoreV1().Services("default").Get(ctx, svcName(target), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	svcChain, err := jumpFor(rules, svc.Spec.ClusterIP)
	if err != nil {
		return nil, err
	}
	slice, err := c.cs.DiscoveryV1().EndpointSlices("default").Get(ctx, svcName(target), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	fresh := ips[e2rServices*e2rEndpoints:]
	var took, polls []time.Duration
	load := loadAvg()
	for i := 0; i < changes; i++ {
		newEP := fresh[i].String()
		slice.Endpoints[i%e2rEndpoints].Addresses = []string{newEP}
		slice, err = c.cs.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{})
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		written := time.Now()
		want := fmt.Sprintf(`-> %s:%d"`, newEP, e2rPort)
		for {
			listed := time.Now()
			out, err := iptablesChain(svcChain)
			polls = append(polls, time.Since(listed))
			if err == nil && strings.Contains(out, want) {
				took = append(took, time.Since(written))
				if i == 0 || i == changes-1 {
					// Not timed: the endpoint chain the Service now jumps
					// to does DNAT to the new address (one restore wrote
					// both, atomically).
					if err := checkDNAT(out, want, newEP); err != nil {
						return nil, err
					}
				}
				break
			}
			if time.Since(written) > 30*time.Second {
				return nil, fmt.Errorf("change %d: %s not in chain %s 30 s after the EndpointSlice update (last listing err %v):\n%s", i, want, svcChain, err, out)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Changes arrive at random moments relative to the proxy's
		// 100 ms minimum sync interval, as they would in a cluster.
		time.Sleep(time.Duration(150+rand.IntN(250)) * time.Millisecond)
	}
	p50, p99 := percentile(took, 50), percentile(took, 99)
	return []Result{{
		Scenario: "services/endpoint-to-rule",
		Metric:   fmt.Sprintf("EndpointSlice write → new endpoint in the node's iptables, p99 (%d Services × %d endpoints)", e2rServices, e2rEndpoints),
		Unit:     "ms", Ours: ms(p99),
		Target: "p99 ≤ 1 s (anchor: kube-proxy iptables at 5,000 nodes p50 ~5 s)",
		Met:    p99 <= time.Second && len(took) >= 50,
		Note: fmt.Sprintf("p50 %.0f ms, max %.0f ms over %d address swaps of one Service; polled with iptables -t nat -S <its chain> "+
			"(one listing takes %.1f ms p50, then 5 ms pause: the resolution); initial: %d Services + slices created in %.1f s, all in the rules %.1f s after the first create; %s",
			ms(p50), ms(percentile(took, 100)), len(took), ms(percentile(polls, 50)), e2rServices, created.Seconds(), initial.Seconds(), load),
	}}, nil
}

func svcName(i int) string { return fmt.Sprintf("svc-%04d", i) }

// createStaticService creates a Service without selector and the
// EndpointSlice that stands for its endpoints, managed by this program
// (so the EndpointSlice controller leaves it alone).
func createStaticService(ctx context.Context, cs kubernetes.Interface, i int, ips []netip.Addr) error {
	name := svcName(i)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(e2rPort), Protocol: corev1.ProtocolTCP}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service %s: %w", name, err)
	}
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			discoveryv1.LabelServiceName: name,
			discoveryv1.LabelManagedBy:   "bench.skiff.dev",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(""), Port: ptr.To[int32](e2rPort), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, ip := range ips {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create endpointslice %s: %w", name, err)
	}
	return nil
}

// upperHalf returns n consecutive addresses from the middle of p upward.
func upperHalf(p netip.Prefix, n int) ([]netip.Addr, error) {
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("pod CIDR %s is not IPv4", p)
	}
	size := 1 << (32 - p.Bits())
	if size/2-1 < n {
		return nil, fmt.Errorf("pod CIDR %s is too small for %d made-up endpoint addresses", p, n)
	}
	b := p.Masked().Addr().As4()
	base := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	base += uint32(size / 2)
	out := make([]netip.Addr, n)
	for i := range out {
		v := base + uint32(i)
		out[i] = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	return out, nil
}

// iptablesChain lists one nat chain (-S): far cheaper than iptables-save
// of a table holding thousands of chains.
func iptablesChain(chain string) (string, error) {
	out, err := exec.Command("iptables", "-w", "-t", "nat", "-S", chain).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("iptables -t nat -S %s: %v: %s", chain, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// jumpFor finds, in a listing of the SERVICES chain, the chain the
// ClusterIP rule of ip jumps to.
func jumpFor(rules, ip string) (string, error) {
	for _, l := range strings.Split(rules, "\n") {
		if strings.Contains(l, "-d "+ip+"/32 ") && strings.Contains(l, "cluster IP") {
			if i := strings.LastIndex(l, "-j "); i >= 0 {
				return strings.Fields(l[i+3:])[0], nil
			}
		}
	}
	return "", fmt.Errorf("no ClusterIP rule for %s in:\n%s", ip, tail(rules, 2000))
}

// checkDNAT follows the service chain's rule for an endpoint (the line
// ending in comment want) to its endpoint chain and checks its DNAT.
func checkDNAT(svcRules, want, ep string) error {
	for _, l := range strings.Split(svcRules, "\n") {
		if !strings.Contains(l, want) {
			continue
		}
		i := strings.LastIndex(l, "-j ")
		if i < 0 {
			break
		}
		sep := strings.Fields(l[i+3:])[0]
		out, err := iptablesChain(sep)
		if err != nil {
			return err
		}
		if !strings.Contains(out, fmt.Sprintf("-j DNAT --to-destination %s:%d", ep, e2rPort)) {
			return fmt.Errorf("endpoint chain %s has no DNAT to %s:%d:\n%s", sep, ep, e2rPort, out)
		}
		return nil
	}
	return fmt.Errorf("no rule for %s in the service chain:\n%s", want, svcRules)
}

// ---------------------------------------------------------------------
// services/throughput-clusterip, services/throughput-nodeport

// throughputFigures are one cluster's rates, in MiB/s, per path: the
// best round (what the figures compare) and the median round.
type throughputFigures struct {
	best, med   map[string]float64
	rounds, mib int
	load        string
}

const (
	pathDirect    = "direct"
	pathClusterIP = "clusterIP"
	pathNodePort  = "nodePort"
	// The NodePort on the node's InternalIP: a cross-check for the
	// 127.0.0.1 one, whose path (route_localnet, SNAT) is its own.
	pathNodeIP = "nodePortNodeIP"
)

// One run per proxy mode serves both scenarios: the ClusterIP and the
// NodePort are measured on the same pod in the same rounds, against the
// same direct reads.
var (
	throughputMu    sync.Mutex
	throughputCache = map[string]*throughputFigures{}
)

func benchThroughputClusterIP(e *env) ([]Result, error) { return throughputResults(e, false) }
func benchThroughputNodePort(e *env) ([]Result, error)  { return throughputResults(e, true) }

func throughputResults(e *env, nodePort bool) ([]Result, error) {
	var rs []Result
	for _, mode := range []struct {
		name   string
		target float64
		anchor string
	}{{"iptables", 0.9, "kube-proxy iptables ~96%"}, {"userspace", 0.6, "the old Go userspace proxy 36%"}} {
		f, err := throughputFor(e, mode.name)
		if err != nil {
			return nil, fmt.Errorf("%s mode: %w", mode.name, err)
		}
		scen, what, path := "services/throughput-clusterip", "ClusterIP:80 from the host", pathClusterIP
		if nodePort {
			scen, what, path = "services/throughput-nodeport", "NodePort on 127.0.0.1", pathNodePort
		}
		ours, base := f.best[path], f.best[pathDirect]
		ratio := ours / base
		extra := ""
		if nodePort {
			extra = fmt.Sprintf("; the same NodePort on the node's InternalIP: best %.0f MiB/s (%.2f)", f.best[pathNodeIP], f.best[pathNodeIP]/base)
		}
		rs = append(rs, Result{Scenario: scen, Metric: fmt.Sprintf("%s mode: read through %s, best round", mode.name, what),
			Unit: "MiB/s", Ours: ours, Baseline: base, BaselineName: "pod IP directly, same run", Ratio: ratio,
			Target: fmt.Sprintf("≥ %.1f× direct (anchor: %s)", mode.target, mode.anchor), Met: ratio >= mode.target,
			Note: fmt.Sprintf("best of %d rounds × %d MiB, one TCP connection each, paths interleaved (order rotated each round): "+
				"the machine is shared and its load only ever slows a round down; medians %.0f vs %.0f MiB/s (%.2f); "+
				"one pod (zeros from a static Go server), client on the host%s; %s",
				f.rounds, f.mib, f.med[path], f.med[pathDirect], f.med[path]/f.med[pathDirect], extra, f.load)})
	}
	return rs, nil
}

func throughputFor(e *env, mode string) (*throughputFigures, error) {
	throughputMu.Lock()
	defer throughputMu.Unlock()
	if f, ok := throughputCache[mode]; ok {
		return f, nil
	}
	f, err := measureThroughput(e, mode)
	if err != nil {
		return nil, err
	}
	throughputCache[mode] = f
	return f, nil
}

func measureThroughput(e *env, mode string) (*throughputFigures, error) {
	ctx := context.Background()
	img, err := byteServerImage(ctx, e)
	if err != nil {
		return nil, err
	}
	c, err := startUp(e, "throughput-"+mode, "--proxy-mode="+mode)
	if err != nil {
		return nil, err
	}
	defer c.close()
	podIP, err := startByteServer(ctx, c.cs, img)
	if err != nil {
		return nil, err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "bytes"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "bytes"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}
	if svc, err = c.cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	direct := net.JoinHostPort(podIP, "8080")
	viaClusterIP := net.JoinHostPort(svc.Spec.ClusterIP, "80")
	viaNodePort := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(svc.Spec.Ports[0].NodePort)))
	// The ClusterIP must be programmed before the first dial: until then
	// a packet to it would follow the default route off the machine.
	if err := waitProgrammed(svc.Spec.ClusterIP, 60*time.Second); err != nil {
		return nil, err
	}
	if err := checkMode(c, mode, svc.Spec.ClusterIP); err != nil {
		return nil, err
	}
	n, err := c.cs.CoreV1().Nodes().Get(ctx, c.node, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var nodeIP string
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			nodeIP = a.Address
		}
	}
	if nodeIP == "" {
		return nil, fmt.Errorf("node %s reports no InternalIP", c.node)
	}
	viaNodeIP := net.JoinHostPort(nodeIP, strconv.Itoa(int(svc.Spec.Ports[0].NodePort)))
	for _, a := range []string{direct, viaClusterIP, viaNodePort, viaNodeIP} {
		if err := waitReadable(a, 60*time.Second); err != nil {
			return nil, err
		}
	}
	rounds, mib := 11, 256
	if e.quick {
		rounds, mib = 7, 128
	}
	f := &throughputFigures{best: map[string]float64{}, med: map[string]float64{}, rounds: rounds, mib: mib, load: loadAvg()}
	paths := []struct{ name, addr string }{{pathDirect, direct}, {pathClusterIP, viaClusterIP}, {pathNodePort, viaNodePort}, {pathNodeIP, viaNodeIP}}
	rates := map[string][]float64{}
	for r := 0; r < rounds; r++ {
		// Each round starts on another path, so that a load that comes
		// and goes on the shared machine does not favour one of them.
		for k := range paths {
			p := paths[(r+k)%len(paths)]
			rate, err := readMiB(p.addr, mib)
			if err != nil {
				return nil, err
			}
			rates[p.name] = append(rates[p.name], rate)
		}
	}
	for name, rs := range rates {
		f.med[name] = median(rs)
		f.best[name] = slices.Max(rs)
	}
	return f, nil
}

// loadAvg says how busy the (shared) machine was when a measurement
// started: figures taken at a load above the CPU count are noisy.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return fmt.Sprintf("load average %s %s %s on %d CPUs at the start", f[0], f[1], f[2], goruntime.NumCPU())
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// checkMode makes sure the traffic measured goes the way the mode says:
// iptables mode has a NAT rule for the ClusterIP in this node's chains;
// userspace mode has none (no chain at all) and the ClusterIP on the
// loopback device, where the agent listens.
func checkMode(c *upCluster, mode, clusterIP string) error {
	chain := proxy.NodeChainPrefix(c.id, c.node) + "-SERVICES"
	rules, err := iptablesChain(chain)
	onLo := false
	if out, lerr := exec.Command("ip", "-4", "-o", "address", "show", "dev", "lo").Output(); lerr == nil {
		onLo = strings.Contains(string(out), " "+clusterIP+"/32 ")
	}
	switch mode {
	case "iptables":
		if err != nil || !strings.Contains(rules, "-d "+clusterIP+"/32 ") {
			return fmt.Errorf("iptables mode: no rule for %s in %s (%v)", clusterIP, chain, err)
		}
	case "userspace":
		if err == nil {
			return fmt.Errorf("userspace mode: the node has iptables chain %s:\n%s", chain, rules)
		}
		if !onLo {
			return fmt.Errorf("userspace mode: ClusterIP %s is not on the loopback device", clusterIP)
		}
	}
	return nil
}

// waitProgrammed waits until ip has a NAT rule (iptables mode) or is on
// the loopback device (userspace mode).
func waitProgrammed(ip string, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out, err := exec.Command("iptables-save", "-t", "nat").Output(); err == nil && strings.Contains(string(out), "-d "+ip+"/32 ") {
			return nil
		}
		if out, err := exec.Command("ip", "-4", "-o", "address", "show", "dev", "lo").Output(); err == nil && strings.Contains(string(out), " "+ip+"/32 ") {
			return nil
		}
	}
	return fmt.Errorf("ClusterIP %s not programmed on this host after %s", ip, timeout)
}

// waitReadable waits until a connection to addr yields bytes.
func waitReadable(addr string, timeout time.Duration) error {
	var last error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, last = readBytes(addr, 1<<16); last == nil {
			return nil
		}
	}
	return fmt.Errorf("%s serves no bytes after %s: %w", addr, timeout, last)
}

// readMiB reads n MiB from one new connection to addr (the byte server
// sends zeros until the client closes) and returns the rate in MiB/s,
// connection set-up included.
func readMiB(addr string, n int) (float64, error) {
	d, err := readBytes(addr, int64(n)<<20)
	if err != nil {
		return 0, err
	}
	return float64(n) / d.Seconds(), nil
}

func readBytes(addr string, n int64) (time.Duration, error) {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	got, err := io.CopyBuffer(io.Discard, io.LimitReader(conn, n), make([]byte, 256<<10))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", addr, err)
	}
	if got != n {
		return 0, fmt.Errorf("read %s: %d of %d bytes, then EOF", addr, got, n)
	}
	return time.Since(start), nil
}

// startByteServer runs the byte server pod and returns its IP once it
// is Running.
func startByteServer(ctx context.Context, cs kubernetes.Interface, img string) (string, error) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bytes", Labels: map[string]string{"app": "bytes"}},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{Name: "main", Image: img,
				Command: []string{"/bytesrv", "-listen", ":8080"},
				Ports:   []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return "", err
	}
	return waitPodRunning(ctx, cs, "bytes", 90*time.Second)
}

func waitPodRunning(ctx context.Context, cs kubernetes.Interface, name string, timeout time.Duration) (string, error) {
	var last *corev1.Pod
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		last = p
		if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
			return p.Status.PodIP, nil
		}
	}
	b, _ := json.Marshal(last)
	return "", fmt.Errorf("pod %s not Running with an IP after %s: %s", name, timeout, b)
}

// byteServerSource is the byte server: it accepts connections on -listen
// and writes zeros to each until the client goes. Go rather than busybox
// nc so that the server is never the bottleneck (and busybox nc's -l/-e
// differ between builds).
const byteServerSource = `package main

import (
	"flag"
	"log"
	"net"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve zeros on")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
}
`

// byteServerImage builds the byte server statically and imports it as a
// one-file image, tagged by the source's hash so that a changed server is
// rebuilt and an unchanged one is reused (a fixture, like Busybox).
func byteServerImage(ctx context.Context, e *env) (string, error) {
	sum := sha256.Sum256([]byte(byteServerSource))
	ref := "skiff-bench-bytesrv:" + hex.EncodeToString(sum[:6])
	dc, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return "", fmt.Errorf("docker client: %w", err)
	}
	defer dc.Close()
	if _, err := dc.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect %s: %w", ref, err)
	}
	dir := filepath.Join(e.tmp, "bytesrv")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(byteServerSource), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module bytesrv\n\ngo 1.22\n"), 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", "bytesrv", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the byte server: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "bytesrv"))
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bytesrv", Mode: 0o755, Size: int64(len(bin)), ModTime: time.Now()})
		if err == nil {
			_, err = tw.Write(bin)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	body, err := dc.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, ref, image.ImportOptions{
		Changes: []string{`CMD ["/bytesrv"]`, `LABEL "` + images.FixtureLabel + `"="bench-bytesrv"`},
	})
	if err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("import %s: %w", ref, err)
		}
		if m.Error != nil {
			return "", fmt.Errorf("import %s: %w", ref, m.Error)
		}
	}
	return ref, nil
}
