package nodeagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/nodeagent/dns"
	"github.com/skiff-dev/skiff/nodeagent/podstate"
	"github.com/skiff-dev/skiff/nodeagent/prober"
	"github.com/skiff-dev/skiff/nodeagent/proxy"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
	"github.com/skiff-dev/skiff/nodeagent/volume"
)

// Options configure an agent.
type Options struct {
	// Server is the API server URL; Token the node token (K10…).
	Server, Token string
	// NodeName defaults to the host name.
	NodeName string
	Runtime  runtime.Runtime
	// DataDir holds the pods' volumes (DataDir/pods/<uid>/…).
	DataDir string
	// NodeIP is the address the node reports (default: the host's
	// primary address).
	NodeIP string
	// Listen is where the agent serves logs to the API server (default
	// an ephemeral port on all addresses).
	Listen string
	// CPU, Memory and Pods override what the node reports as capacity.
	CPU, Memory *resource.Quantity
	Pods        int
	// Labels are added to the node (e.g. node-role.kubernetes.io/worker).
	Labels map[string]string
	// Version is reported as the node's kubelet version.
	Version string
	Logger  *slog.Logger
	Clock   clock.WithTicker
	// LeaseInterval (10 s), StatusInterval (10 s) and Resync (10 s) pace
	// the heartbeats and the periodic pod resync.
	LeaseInterval, StatusInterval, Resync time.Duration
	// Workers sync pods in parallel (default 8).
	Workers int
	// ResolvConf is the node's resolv.conf, the kubelet's --resolv-conf
	// (default /etc/resolv.conf): cluster DNS forwards other names to its
	// servers, and Default-policy pods get it.
	ResolvConf string
	// ProxyMode is the Service proxy's mode: proxy.ModeIPTables,
	// proxy.ModeUserspace, "" (iptables where it works), or ProxyNone.
	ProxyMode string
}

// ProxyNone turns the Service proxy off (simulated nodes).
const ProxyNone = "none"

func (o *Options) defaults() error {
	if o.Server == "" || o.Token == "" {
		return errors.New("nodeagent: a server URL and a node token are required")
	}
	if o.Runtime == nil {
		return errors.New("nodeagent: a runtime is required")
	}
	if o.NodeName == "" {
		hn, err := os.Hostname()
		if err != nil {
			return err
		}
		o.NodeName = hn
	}
	if o.DataDir == "" {
		return errors.New("nodeagent: a data directory is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.LeaseInterval == 0 {
		o.LeaseInterval = 10 * time.Second
	}
	if o.StatusInterval == 0 {
		o.StatusInterval = 10 * time.Second
	}
	if o.Resync == 0 {
		o.Resync = 10 * time.Second
	}
	if o.Workers == 0 {
		o.Workers = 8
	}
	if o.Listen == "" {
		o.Listen = ":0"
	}
	if o.NodeIP == "" {
		o.NodeIP = primaryIP()
	}
	if o.Version == "" {
		o.Version = "v0.0.0-skiff"
	}
	return nil
}

// Agent is a running node agent.
type Agent struct {
	opts   Options
	log    *slog.Logger
	client kubernetes.Interface
	rt     runtime.Runtime
	clock  clock.WithTicker

	pods      listerscorev1.PodLister
	podSynced cache.InformerSynced
	// objects watches the ConfigMaps and Secrets this node's pods mount.
	objects  *objectWatcher
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	volumes  *volume.Manager
	prober   *prober.Manager
	source   volume.Source

	port        int
	clusterID   string
	pauseImage  string
	networkName string
	gateway     string
	// dns is the cluster DNS this node serves its pods on the gateway.
	dns *dns.Server

	mu     sync.Mutex
	memory map[types.UID]map[string]*podstate.Memory
	// lastStarted remembers when each running container instance started,
	// to notice a container restarted behind the agent's back.
	lastStarted map[string]time.Time
	// podKeys maps pod UIDs to namespace/name, for probe updates.
	podKeys map[types.UID]string

	ready chan struct{}
}

// ClusterID is the short cluster identity containers are labelled with:
// the first 12 hex digits of the cluster CA's hash (as node tokens carry it).
func ClusterID(caHash string) string {
	if len(caHash) > 12 {
		return caHash[:12]
	}
	return caHash
}

// ClusterIDOfToken returns the cluster identity of a node token.
func ClusterIDOfToken(token string) (string, error) {
	h, err := caHashOfToken(token)
	if err != nil {
		return "", err
	}
	return ClusterID(h), nil
}

// NetworkName is the Docker network every agent on an engine uses.
const NetworkName = "skiff"

// Run joins the cluster and runs the agent until ctx ends.
func Run(ctx context.Context, o Options) error {
	a, err := New(ctx, o)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// New joins the cluster (CA, credentials, serving certificate) and
// prepares the agent; Run starts it.
func New(ctx context.Context, o Options) (*Agent, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	hosts := []string{o.NodeIP, "127.0.0.1", "localhost"}
	if hn, err := os.Hostname(); err == nil {
		hosts = append(hosts, hn)
	}
	creds, err := join(ctx, o.Server, o.Token, o.NodeName, hosts)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(creds.rest)
	if err != nil {
		return nil, err
	}
	caHash, _ := caHashOfToken(o.Token)
	a := &Agent{
		opts:        o,
		clusterID:   ClusterID(caHash),
		log:         o.Logger.With("node", o.NodeName),
		client:      client,
		rt:          o.Runtime,
		clock:       o.Clock,
		networkName: NetworkName,
		memory:      map[types.UID]map[string]*podstate.Memory{},
		lastStarted: map[string]time.Time{},
		podKeys:     map[types.UID]string{},
		ready:       make(chan struct{}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pods"}),
	}
	a.source = newObjectSource(client, o.Clock)
	a.objects = newObjectWatcher(client, a.mountedObjectChanged)
	a.volumes = volume.NewManager(filepath.Join(o.DataDir, "pods"), a.source, volume.Options{
		Logger: a.log, NodeName: o.NodeName, HostIP: func() string { return o.NodeIP },
		Allocatable: func() corev1.ResourceList { return hostCapacity(o) },
		Now:         o.Clock.Now,
	})
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	a.recorder = broadcaster.NewRecorder(schemeForEvents(), corev1.EventSource{Component: "kubelet", Host: o.NodeName})
	a.prober = prober.NewManager(o.Runtime, prober.Options{Logger: a.log, Clock: o.Clock, Recorder: a.recorder})
	go func() {
		<-ctx.Done()
		a.prober.Close()
		broadcaster.Shutdown()
	}()

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("agent listen on %s: %w", o.Listen, err)
	}
	a.port = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{creds.serving},
			ClientCAs:    creds.caPool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		},
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("agent server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return a, nil
}

// Ready is closed once the node is registered and its pods are synced.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// NodeName is the node the agent registered.
func (a *Agent) NodeName() string { return a.opts.NodeName }

// Run registers the node and syncs pods until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	defer a.queue.ShutDown()
	name, version, err := a.rt.Version(ctx)
	if err != nil {
		return fmt.Errorf("container runtime: %w", err)
	}
	cidr, err := a.clusterCIDR(ctx)
	if err != nil {
		return err
	}
	if a.gateway, err = a.rt.EnsureNetwork(ctx, a.networkName, cidr); err != nil {
		return fmt.Errorf("pod network: %w", err)
	}
	if a.pauseImage, err = a.rt.EnsurePauseImage(ctx); err != nil {
		return fmt.Errorf("sandbox image: %w", err)
	}
	// Cluster DNS serves before any pod starts, so none is created with a
	// resolv.conf pointing at nothing.
	_, simulated := a.rt.(*runtime.Fake)
	a.dns = dns.New(dns.Options{Client: a.client, Address: a.gateway, ResolvConf: a.opts.ResolvConf,
		ClusterID: a.clusterID, NodeName: a.opts.NodeName, Simulated: simulated, Logger: a.log})
	if err := a.dns.Start(ctx); err != nil {
		a.log.Warn("no cluster DNS on this node; pods fall back to the node's resolvers", "err", err)
	}
	// Registration is retried until it works, with kubelet's back-off
	// (100 ms doubling to 7 s): a server restarting, or a conflict with
	// a controller writing the same Node, is no reason to give up.
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 7*time.Second) {
		err := a.registerNode(ctx, name+"://"+version)
		if err == nil {
			break
		}
		a.log.Warn("node registration failed; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.clock.After(delay):
		}
	}
	go a.heartbeat(ctx, name+"://"+version)
	if err := a.startProxy(ctx); err != nil {
		return err
	}

	factory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "spec.nodeName=" + a.opts.NodeName
		}))
	podInformer := factory.Core().V1().Pods()
	a.pods = podInformer.Lister()
	a.podSynced = podInformer.Informer().HasSynced
	// Each pod event also re-derives which ConfigMaps and Secrets the
	// node's pods mount, so that exactly those are watched.
	watchMounted := func() {
		if pods, err := a.pods.List(labelsEverything()); err == nil {
			a.objects.set(ctx, mountedObjects(pods))
		}
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.enqueue(o); watchMounted() },
		UpdateFunc: func(_, o any) { a.enqueue(o); watchMounted() },
		DeleteFunc: func(o any) { a.enqueue(o); watchMounted() },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), a.podSynced) {
		return ctx.Err()
	}
	// Containers of pods this node no longer has (deleted while the agent
	// was down) are found by the first resync of every pod key.
	if err := a.adopt(ctx); err != nil {
		a.log.Warn("adopting containers", "err", err)
	}
	go a.watchRuntime(ctx)
	go a.watchProbes(ctx)
	go a.resyncLoop(ctx)
	var wg sync.WaitGroup
	for i := 0; i < a.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a.processNext(ctx) {
			}
		}()
	}
	close(a.ready)
	a.log.Info("node agent ready", "runtime", name+" "+version, "port", a.port)
	<-ctx.Done()
	a.queue.ShutDown()
	wg.Wait()
	return nil
}

// clusterCIDR reads the pod network the server publishes.
func (a *Agent) clusterCIDR(ctx context.Context) (string, error) {
	cm, err := a.client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, "skiff-cluster", metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("read the cluster settings (kube-system/skiff-cluster): %w", err)
	}
	if cidr := cm.Data["clusterCIDR"]; cidr != "" {
		return cidr, nil
	}
	return "", errors.New("kube-system/skiff-cluster has no clusterCIDR")
}

// mountedObjectChanged re-syncs the pods that mount a ConfigMap or Secret
// that changed, reading it afresh, so their volume files follow.
func (a *Agent) mountedObjectChanged(ref objectRef) {
	if src, ok := a.source.(*objectSource); ok {
		src.forget(ref)
	}
	pods, err := a.pods.List(labelsEverything())
	if err != nil {
		return
	}
	for _, p := range pods {
		if p.Namespace == ref.namespace && mountedObjects([]*corev1.Pod{p})[ref] {
			a.queue.Add(p.Namespace + "/" + p.Name)
		}
	}
}

func (a *Agent) enqueue(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.queue.Add(pod.Namespace + "/" + pod.Name)
}

func (a *Agent) processNext(ctx context.Context) bool {
	key, quit := a.queue.Get()
	if quit {
		return false
	}
	defer a.queue.Done(key)
	wake, err := a.syncPod(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("pod sync failed", "pod", key, "err", err)
		}
		a.queue.AddRateLimited(key)
		return true
	}
	a.queue.Forget(key)
	if !wake.IsZero() {
		if d := wake.Sub(a.clock.Now()); d > 0 {
			a.queue.AddAfter(key, d+10*time.Millisecond)
		} else {
			a.queue.Add(key)
		}
	}
	return true
}

// resyncLoop re-syncs every pod periodically: configMap and secret
// changes reach volumes this way, and nothing missed stays missed.
func (a *Agent) resyncLoop(ctx context.Context) {
	t := a.clock.NewTicker(a.opts.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		pods, err := a.pods.List(labelsEverything())
		if err == nil {
			for _, p := range pods {
				a.queue.Add(p.Namespace + "/" + p.Name)
			}
		}
		if err := a.adopt(ctx); err != nil {
			a.log.Warn("cleanup of orphan containers", "err", err)
		}
	}
}

// watchRuntime turns container events into pod syncs.
func (a *Agent) watchRuntime(ctx context.Context) {
	for ctx.Err() == nil {
		evs, errs := a.rt.Events(ctx, a.ownLabels())
		for done := false; !done; {
			select {
			case ev, ok := <-evs:
				if !ok {
					done = true
					continue
				}
				if ns, name := ev.Labels[runtime.LabelPodNamespace], ev.Labels[runtime.LabelPodName]; ns != "" && name != "" {
					a.queue.Add(ns + "/" + name)
				}
			case err := <-errs:
				if err != nil && ctx.Err() == nil {
					a.log.Warn("runtime events stream broke; resubscribing", "err", err)
				}
				done = true
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-a.clock.After(time.Second):
		}
	}
}

// watchProbes turns probe result changes into pod syncs.
func (a *Agent) watchProbes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-a.prober.Updates():
			if !ok {
				return
			}
			if key, ok := a.keyOf(u.PodUID); ok {
				a.queue.Add(key)
			}
		}
	}
}

// ownLabels select the containers this agent owns: Skiff's, of this
// cluster, on this node. Agents of other nodes or other clusters sharing
// the engine are never touched.
func (a *Agent) ownLabels() map[string]string {
	return map[string]string{runtime.LabelManaged: "true", runtime.LabelCluster: a.clusterID, runtime.LabelNode: a.opts.NodeName}
}

// match is ownLabels plus more.
func (a *Agent) match(kv ...string) map[string]string {
	m := a.ownLabels()
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func primaryIP() string {
	// The source address of a route to a public address (no packet is sent).
	if c, err := net.Dial("udp", "192.0.2.1:9"); err == nil {
		defer c.Close()
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
			return a.IP.String()
		}
	}
	return "127.0.0.1"
}

func hostCapacity(o Options) corev1.ResourceList {
	cpu := resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI)
	if o.CPU != nil {
		cpu = o.CPU
	}
	mem := resource.NewQuantity(memTotal(), resource.BinarySI)
	if o.Memory != nil {
		mem = o.Memory
	}
	pods := 110
	if o.Pods > 0 {
		pods = o.Pods
	}
	return corev1.ResourceList{
		corev1.ResourceCPU:              *cpu,
		corev1.ResourceMemory:           *mem,
		corev1.ResourcePods:             *resource.NewQuantity(int64(pods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(diskTotal(o.DataDir), resource.BinarySI),
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// startProxy runs the Service proxy (the node's kube-proxy) until ctx
// ends. Its rules outlive the agent, so Services keep answering across a
// restart; a sync failure is retried by the proxy itself.
func (a *Agent) startProxy(ctx context.Context) error {
	if a.opts.ProxyMode == ProxyNone {
		return nil
	}
	px, err := proxy.New(proxy.Options{Client: a.client, ClusterID: a.clusterID, NodeName: a.opts.NodeName, NodeIPs: []string{a.opts.NodeIP},
		Mode: a.opts.ProxyMode, Logger: a.log.With("component", "proxy")})
	if err != nil {
		return fmt.Errorf("service proxy: %w", err)
	}
	go func() {
		if err := px.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("service proxy stopped", "err", err)
		}
	}()
	return nil
}
