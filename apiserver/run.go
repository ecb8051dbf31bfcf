package apiserver

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
	"runtime/debug"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/apiserver/openapi"
	"github.com/skiff-dev/skiff/apiserver/pki"
	"github.com/skiff-dev/skiff/apiserver/servicealloc"
	etcd "github.com/skiff-dev/skiff/embedded-etcd"
	"github.com/skiff-dev/skiff/manifests"
)

// RunOptions are the command-line settings of `skiff server`.
type RunOptions struct {
	DataDir string
	// Listen is the HTTPS address; default 127.0.0.1:6443.
	Listen string
	// TLSSANs are extra names or addresses for the serving certificate.
	TLSSANs []string
	// EtcdEndpoints selects an external etcd instead of the embedded one.
	EtcdEndpoints                         []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// EtcdQuotaBytes caps the embedded etcd's database (default 2 GiB).
	EtcdQuotaBytes int64
	// ClusterCIDR is the pod network (default DefaultClusterCIDR).
	ClusterCIDR string
	// ServiceCIDR and ServiceNodePortRange: where Services' cluster IPs and
	// node ports come from (DefaultServiceCIDR, DefaultServiceNodePortRange).
	ServiceCIDR, ServiceNodePortRange string
	// AdvertiseAddress is the address pods reach this API server at (the
	// kubernetes Service's endpoint); empty chooses one, see
	// servicealloc.AdvertiseAddress.
	AdvertiseAddress string
	// Default toleration of the not-ready/unreachable taints (seconds).
	NotReadyTolerationSeconds, UnreachableTolerationSeconds int64
	// EtcdClientURL also serves the embedded etcd's gRPC API there
	// (benchmarks only; empty in production).
	EtcdClientURL      string
	CompactionInterval time.Duration
	// GitPushWait and GitMaxRequestBytes configure the built-in git
	// remote (see GitRemoteConfig; 0 means the default).
	GitPushWait        time.Duration
	GitMaxRequestBytes int64
	Version            version.Info
	Logger             *slog.Logger
}

// Running is a serving API server.
type Running struct {
	Server *Server
	// URL clients use (https://host:port).
	URL            string
	CAPEM          []byte
	AdminToken     string
	NodeToken      string
	KubeconfigPath string

	etcd *clientv3.Client
	done chan error
}

// Etcd returns the server's etcd client (benchmarks compare against it).
func (r *Running) Etcd() *clientv3.Client { return r.etcd }

// Wait blocks until the server has stopped and returns why.
func (r *Running) Wait() error { return <-r.done }

// RESTConfig is an admin client configuration for in-process components
// (controllers, scheduler), which use the API like any other client.
func (r *Running) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            r.URL,
		BearerToken:     r.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: r.CAPEM},
	}
}

// Run starts etcd (embedded or external) and the API server, writes the
// admin kubeconfig and the node token, and returns once /readyz would
// answer 200. It serves until ctx ends, then shuts down cleanly.
func Run(ctx context.Context, o RunOptions) (*Running, error) {
	if o.DataDir == "" {
		return nil, errors.New("a data directory is required")
	}
	if o.Version.GitVersion == "" {
		return nil, errors.New("the server's version (RunOptions.Version) is required: /version and OpenAPI report it")
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:6443"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", o.Listen, err)
	}
	clientHost := host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		clientHost = "127.0.0.1"
	}
	sans := []string{"127.0.0.1", "::1", "localhost"}
	if hn, err := os.Hostname(); err == nil {
		sans = append(sans, hn)
	}
	if host != "" && clientHost == host {
		sans = append(sans, host)
	}
	sans = append(sans, o.TLSSANs...)
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = DefaultServiceCIDR
	}
	kubernetesIP, err := servicealloc.FirstAddress(o.ServiceCIDR)
	if err != nil {
		return nil, fmt.Errorf("--service-cidr: %w", err)
	}
	hostAddrs, err := servicealloc.HostAddresses()
	if err != nil {
		log.Warn("cannot list the host's addresses", "err", err)
	}
	advertise, err := servicealloc.AdvertiseAddress(o.AdvertiseAddress, host, hostAddrs)
	if err != nil {
		return nil, err
	}
	// Pods reach the API server at the advertise address (through the
	// kubernetes Service), so the server must accept connections there.
	// The default --listen is loopback, which pods cannot reach: then the
	// server also listens on the pod network's gateway (the host's side of
	// the bridge every agent on this host attaches pods to) and
	// advertises that, unless told otherwise. Pods, and only pods and the
	// host, can reach it; nothing is opened to the host's other networks.
	podListen := ""
	switch ip := net.ParseIP(host); {
	case servicealloc.LoopbackOnly(host) && o.AdvertiseAddress == "":
		gw, err := podNetworkGateway(o.ClusterCIDR)
		if err != nil {
			return nil, err
		}
		advertise, podListen = gw, gw.String()
	case servicealloc.LoopbackOnly(host):
		log.Warn("the API server listens on a loopback address only: pods cannot reach it at --advertise-address; listen on 0.0.0.0 or on the advertise address",
			"listen", o.Listen, "advertiseAddress", advertise.String())
	case ip != nil && !ip.IsUnspecified() && !ip.Equal(net.IP(advertise.AsSlice())):
		log.Warn("the API server does not listen on its advertise address: pods cannot reach it through the kubernetes Service",
			"listen", o.Listen, "advertiseAddress", advertise.String())
	}
	// In-cluster clients reach the API server by the kubernetes Service's
	// IP and names, and at the advertise address.
	sans = append(sans, kubernetesIP.String(), advertise.String(),
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc."+ClusterDomain)
	creds, err := pki.Ensure(o.DataDir, sans, time.Now())
	if err != nil {
		return nil, err
	}

	var client *clientv3.Client
	var closeEtcd func()
	if len(o.EtcdEndpoints) > 0 {
		client, err = etcd.Connect(ctx, etcd.ExternalConfig{Endpoints: o.EtcdEndpoints, CAFile: o.EtcdCAFile, CertFile: o.EtcdCertFile, KeyFile: o.EtcdKeyFile})
		if err != nil {
			return nil, err
		}
		closeEtcd = func() { client.Close() }
	} else {
		start := time.Now()
		e, err := etcd.Start(etcd.Config{Dir: filepath.Join(o.DataDir, "etcd"), QuotaBackendBytes: o.EtcdQuotaBytes,
			LogFile: filepath.Join(o.DataDir, "etcd.log"), ClientURL: o.EtcdClientURL})
		if err != nil {
			return nil, err
		}
		log.Info("etcd started", "dir", filepath.Join(o.DataDir, "etcd"), "took", time.Since(start).Round(time.Millisecond))
		client, closeEtcd = e.Client(), e.Close
	}

	reg, err := manifests.NewRegistry()
	if err != nil {
		closeEtcd()
		return nil, err
	}
	// GitRepositories name the built-in remote's repositories with
	// file:// URLs, which must be absolute.
	absDataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		closeEtcd()
		return nil, err
	}
	cfg := Config{
		Registry: reg,
		Etcd:     client,
		Logger:   log,
		Tokens: map[string]User{
			creds.AdminToken: {Name: "skiff-admin", Groups: []string{"system:masters", "system:authenticated"}},
			creds.NodeToken:  {Name: "system:node-bootstrap", Groups: []string{"system:nodes", "system:authenticated"}},
		},
		Version:            o.Version,
		CompactionInterval: o.CompactionInterval,
		Credentials:        creds,
		ClusterCIDR:        o.ClusterCIDR,

		ServiceCIDR:          o.ServiceCIDR,
		ServiceNodePortRange: o.ServiceNodePortRange,

		NotReadyTolerationSeconds:    o.NotReadyTolerationSeconds,
		UnreachableTolerationSeconds: o.UnreachableTolerationSeconds,

		Git: GitRemoteConfig{Dir: filepath.Join(absDataDir, "git"), PushWait: o.GitPushWait, MaxRequestBytes: o.GitMaxRequestBytes},
	}
	docs, err := openapi.New(reg, openapi.Info{Title: "Kubernetes", Version: o.Version.GitVersion})
	if err != nil {
		closeEtcd()
		return nil, err
	}
	cfg.OpenAPI = docs
	srv, err := New(cfg)
	if err != nil {
		closeEtcd()
		return nil, err
	}
	storeCtx, stopStore := context.WithCancel(context.Background())
	if err := srv.Start(storeCtx); err != nil {
		stopStore()
		closeEtcd()
		return nil, err
	}

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		stopStore()
		closeEtcd()
		return nil, fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	if port == "0" {
		_, port, _ = net.SplitHostPort(ln.Addr().String())
	}
	portNum, _ := strconv.Atoi(port)
	listeners := []net.Listener{ln}
	if podListen != "" {
		pl, err := listenFreebind(ctx, net.JoinHostPort(podListen, port))
		if err != nil {
			ln.Close()
			stopStore()
			closeEtcd()
			return nil, fmt.Errorf("listen for pods on the pod network's gateway %s (set --advertise-address, or --listen 0.0.0.0): %w", podListen, err)
		}
		listeners = append(listeners, pl)
		log.Info("API server reachable from pods", "address", pl.Addr().String())
	}
	stopKubernetesService := srv.ServeKubernetesService(storeCtx, advertise.String(), portNum)
	url := "https://" + net.JoinHostPort(clientHost, port)
	reqCtx, cancelRequests := context.WithCancel(context.Background())
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 2000},
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{creds.Serving},
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	running := &Running{
		Server: srv, URL: url, CAPEM: creds.CAPEM, AdminToken: creds.AdminToken, NodeToken: creds.NodeToken,
		KubeconfigPath: filepath.Join(o.DataDir, pki.KubeconfigFile),
		etcd:           client,
		done:           make(chan error, 1),
	}
	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { serveErr <- hs.ServeTLS(l, "", "") }()
	}

	kc, err := pki.Kubeconfig("skiff", url, creds.CAPEM, creds.AdminToken)
	if err == nil {
		err = pki.WriteFileAtomic(running.KubeconfigPath, kc, 0o600)
	}
	if err != nil {
		hs.Close()
		cancelRequests()
		stopKubernetesService()
		stopStore()
		closeEtcd()
		return nil, err
	}
	srv.SetReady(true)
	log.Info("API server ready", "url", url, "kubeconfig", running.KubeconfigPath)
	// Start-up (OpenAPI generation above all) leaves tens of MiB of
	// garbage; hand it back to the OS now rather than at the next GC
	// cycle, which an idle server may not reach for minutes.
	go debug.FreeOSMemory()

	go func() {
		var err error
		select {
		case <-ctx.Done():
		case err = <-serveErr:
		}
		srv.SetReady(false)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// Watches never end on their own: cancel request contexts so
		// Shutdown does not wait for them.
		cancelRequests()
		_ = hs.Shutdown(shutdownCtx)
		cancel()
		stopKubernetesService()
		stopStore()
		closeEtcd()
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		log.Info("API server stopped")
		running.done <- err
	}()
	return running, nil
}
