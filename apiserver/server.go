package apiserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/version"

	"github.com/skiff-dev/skiff/apiserver/pki"
	"github.com/skiff-dev/skiff/apiserver/servicealloc"
	"github.com/skiff-dev/skiff/apiserver/storage"
	"github.com/skiff-dev/skiff/apiserver/tables"
	"github.com/skiff-dev/skiff/manifests"
)

// User is an authenticated identity.
type User struct {
	Name   string
	Groups []string
}

// Config is everything a Server needs.
type Config struct {
	Registry *manifests.Registry
	Etcd     *clientv3.Client
	Logger   *slog.Logger
	// Tokens maps bearer tokens to users.
	Tokens map[string]User
	// Version is served at /version.
	Version version.Info
	// OpenAPI serves /openapi/v2 and /openapi/v3[/…] when set.
	OpenAPI http.Handler
	// MaxRequestBytes caps request bodies (413 beyond); default 3 MiB.
	MaxRequestBytes int64
	// CompactionInterval: see storage.Options. Default 5 minutes.
	CompactionInterval time.Duration
	// BookmarkInterval between BOOKMARK events of idle watches; default 1 minute.
	BookmarkInterval time.Duration
	// EventTTL is how long Events live; default 1 hour.
	EventTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ClusterCIDR is the pod network, published to node agents (default
	// DefaultClusterCIDR).
	ClusterCIDR string
	// ServiceCIDR and ServiceNodePortRange are where Services' cluster IPs
	// and node ports come from (DefaultServiceCIDR,
	// DefaultServiceNodePortRange); published to node agents too.
	ServiceCIDR, ServiceNodePortRange string
	// NotReadyTolerationSeconds and UnreachableTolerationSeconds are the
	// tolerations pods get by default (DefaultTolerationSeconds).
	NotReadyTolerationSeconds, UnreachableTolerationSeconds int64
	// Credentials: the cluster CA (to sign node certificates) and the
	// API server's client certificate towards node agents.
	Credentials *pki.Credentials
	// Git configures the built-in git remote at /git/ (gitremote.go).
	Git GitRemoteConfig
}

// Server serves the Kubernetes API.
type Server struct {
	cfg      Config
	log      *slog.Logger
	registry *manifests.Registry
	scheme   *runtime.Scheme
	codecs   serializer.CodecFactory
	store    *storage.Store
	metrics  *metrics
	// services reserves Services' cluster IPs and node ports.
	services *servicealloc.Allocator
	// fields tracks managedFields and serves server-side apply.
	fields *fieldTracker

	resources  map[*manifests.Type]*resource
	namespaces *resource
	discovery  *discovery
	ready      atomic.Bool
	now        func() time.Time

	nodeClientOnce sync.Once
	nodeHTTP       *http.Client

	git *gitRemote
}

// New builds a server over an etcd client. Call Start before serving.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil || cfg.Etcd == nil {
		return nil, errors.New("apiserver: a registry and an etcd client are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 3 << 20
	}
	if cfg.BookmarkInterval == 0 {
		cfg.BookmarkInterval = time.Minute
	}
	if cfg.EventTTL == 0 {
		cfg.EventTTL = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = DefaultClusterCIDR
	}
	if cfg.NotReadyTolerationSeconds == 0 {
		cfg.NotReadyTolerationSeconds = DefaultTolerationSeconds
	}
	if cfg.UnreachableTolerationSeconds == 0 {
		cfg.UnreachableTolerationSeconds = DefaultTolerationSeconds
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		registry:  cfg.Registry,
		scheme:    cfg.Registry.Scheme(),
		codecs:    serializer.NewCodecFactory(cfg.Registry.Scheme(), serializer.EnableStrict),
		metrics:   newMetrics(),
		resources: map[*manifests.Type]*resource{},
		now:       cfg.Now,
	}
	services, err := servicealloc.New(servicealloc.Config{
		Etcd: cfg.Etcd, ServiceCIDR: cfg.ServiceCIDR, NodePortRange: cfg.ServiceNodePortRange,
		ServicesPrefix: storage.ResourcePrefix("", "services"), Now: cfg.Now, Logger: cfg.Logger.With("component", "servicealloc"),
	})
	if err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	s.services = services
	s.git = newGitRemote(s, cfg.Git)
	s.fields = newFieldTracker(s)
	s.store = storage.New(cfg.Etcd, storage.Options{
		Logger:             cfg.Logger,
		Observe:            s.metrics.observeEtcd,
		CompactionInterval: cfg.CompactionInterval,
	})
	// Stored types first, so converted views can share their caches.
	for _, t := range cfg.Registry.Types() {
		if t.Storage != nil || !t.Stored() {
			continue
		}
		res := &resource{s: s, t: t, stored: t, fields: selectableFields(t.GroupVersionKind), printer: tables.For(t.GroupVersionKind),
			protobuf: hasProtobuf(cfg.Registry.Scheme(), t.GroupVersionKind)}
		res.prefix = storage.ResourcePrefix(t.GroupVersionKind.Group, t.Resource)
		res.cache = s.store.Register(res.prefix, t.Namespaced, storage.Codec{Decode: res.decodeStored, Fields: res.fields.extract})
		if t.GroupVersionKind == corev1.SchemeGroupVersion.WithKind("Event") {
			res.ttl = int64(cfg.EventTTL / time.Second)
		}
		s.resources[t] = res
		if t.GroupVersionKind == corev1.SchemeGroupVersion.WithKind("Namespace") {
			s.namespaces = res
		}
	}
	for _, t := range cfg.Registry.Types() {
		if t.Storage == nil {
			continue
		}
		st, ok := cfg.Registry.ByKind(*t.Storage)
		if !ok {
			return nil, fmt.Errorf("apiserver: %s is stored as %s, which is not registered", t.GroupVersionKind, *t.Storage)
		}
		base := s.resources[st]
		s.resources[t] = &resource{s: s, t: t, stored: st, cache: base.cache, prefix: base.prefix, ttl: base.ttl,
			fields: base.fields, printer: tables.For(t.GroupVersionKind), protobuf: hasProtobuf(cfg.Registry.Scheme(), t.GroupVersionKind)}
	}
	if s.namespaces == nil {
		return nil, errors.New("apiserver: the registry has no namespaces")
	}
	s.discovery = newDiscovery(cfg.Registry)
	return s, nil
}

// Start loads the watch cache and creates the bootstrap namespaces. The
// store follows etcd until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	if err := s.store.Start(ctx); err != nil {
		return err
	}
	if err := s.bootstrap(ctx); err != nil {
		return err
	}
	// Reservations left by a crash (reserved, Service never stored; or
	// Service deleted, never released) are put right before serving, and
	// every serviceRepairInterval after, as upstream's repair controllers.
	res, err := s.services.Repair(ctx)
	if err != nil {
		return fmt.Errorf("apiserver: %w", err)
	}
	s.log.Info("service addresses checked", "services", res.Services, "restored", res.Restored, "transferred", res.Transferred,
		"released", res.Released, "pending", res.Pending, "duplicates", res.Duplicates, "outOfRange", res.OutOfRange)
	go s.services.RunRepair(ctx, serviceRepairInterval)
	return nil
}

// serviceRepairInterval is upstream's repair period for cluster IPs and
// node ports.
const serviceRepairInterval = 3 * time.Minute

// resourceByKind returns the REST implementation of a served kind.
func (s *Server) resourceByKind(gvk schema.GroupVersionKind) *resource {
	t, _ := s.registry.ByKind(gvk)
	return s.resources[t]
}

// Store exposes the object store (for tools and tests, e.g. compaction).
func (s *Server) Store() *storage.Store { return s.store }

// SetReady marks the server ready (its kubeconfig and tokens are written);
// /readyz also requires etcd to answer.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// publicPaths are served without credentials, as kube-apiserver's default
// system:public-info-viewer binding allows.
func publicPath(p string) bool {
	switch p {
	case "/healthz", "/livez", "/readyz", "/version", "/version/", "/cacerts":
		return true
	}
	return strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/") || strings.HasPrefix(p, "/readyz/")
}

// authenticate returns the user the request's bearer token names.
func (s *Server) authenticate(r *http.Request) (User, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return User{}, false
	}
	tok = strings.TrimSpace(tok)
	for known, u := range s.cfg.Tokens {
		if subtle.ConstantTimeCompare([]byte(known), []byte(tok)) == 1 {
			return u, true
		}
	}
	return User{}, false
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	growStack()
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	var info *requestInfo
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if rec.code == 0 {
				s.writeError(rec, r, apierrors.NewInternalError(fmt.Errorf("%v", p)), schema.GroupResource{}, "")
			}
		}
		verb, group, resource, sub := strings.ToUpper(r.Method), "", "", ""
		if info != nil {
			verb, group, resource, sub = strings.ToUpper(info.verb), info.gv.Group, info.typ.Resource, info.subresource
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(verb, group, resource, sub, strconv.Itoa(code)).Inc()
		if verb != "WATCH" {
			s.metrics.latency.WithLabelValues(verb, group, resource, sub).Observe(time.Since(start).Seconds())
		}
	}()
	w = rec

	if isHookPath(r.URL.Path) {
		// Flux Receivers' webhooks: the path and the payload's signature
		// authenticate them (receiver.go), not a bearer token.
		s.serveHook(w, r)
		return
	}
	if isGitPath(r.URL.Path) {
		// The built-in git remote authenticates on its own: git sends
		// the token as an HTTP Basic password (gitremote.go).
		s.serveGit(w, r)
		return
	}
	var user User
	if !publicPath(r.URL.Path) {
		var ok bool
		if user, ok = s.authenticate(r); !ok {
			s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"), schema.GroupResource{}, "")
			return
		}
		if err := refuseImpersonation(user, r.Header); err != nil {
			s.writeError(w, r, err, schema.GroupResource{}, "")
			return
		}
	}
	switch p := r.URL.Path; {
	case p == "/cacerts" && s.cfg.Credentials != nil:
		s.serveCACerts(w)
		return
	case p == "/skiff/node-certificate" && s.cfg.Credentials != nil:
		s.serveNodeCertificate(w, r, user)
		return
	case p == "/version" || p == "/version/":
		writeJSONValue(w, http.StatusOK, mediaJSON, s.cfg.Version)
		return
	case p == "/healthz" || p == "/livez" || strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/"):
		s.serveHealth(w, r, false)
		return
	case p == "/readyz" || strings.HasPrefix(p, "/readyz/"):
		s.serveHealth(w, r, true)
		return
	case p == "/metrics":
		promhttp.HandlerFor(prometheus.Gatherers{s.metrics.registry, prometheus.DefaultGatherer}, promhttp.HandlerOpts{}).ServeHTTP(w, r)
		return
	case p == "/openapi/v2" || p == "/openapi/v3" || strings.HasPrefix(p, "/openapi/v3/"):
		if s.cfg.OpenAPI == nil {
			s.writeError(w, r, notFoundPath(r), schema.GroupResource{}, "")
			return
		}
		s.cfg.OpenAPI.ServeHTTP(w, r)
		return
	}
	if r.Method == http.MethodGet && s.discovery.serve(w, r) {
		return
	}
	var ok bool
	var err error
	info, ok, err = s.parseResourcePath(r)
	if !ok {
		s.writeError(w, r, notFoundPath(r), schema.GroupResource{}, "")
		return
	}
	if err != nil {
		s.writeError(w, r, err, schema.GroupResource{}, "")
		return
	}
	if !info.typ.Stored() {
		// The self reviews (kubectl auth can-i, auth whoami).
		s.serveReview(w, r, info, user)
		return
	}
	if info.isStream() {
		// pods/exec, attach, portforward: upgraded streams (streams.go).
		s.serveStream(w, r, info, user)
		return
	}
	s.serveResource(w, r, info)
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, info *requestInfo) {
	res := s.resources[info.typ]
	if info.verb != "watch" {
		// Bound the time to read the body of a request that is not a
		// stream, so a slow client cannot hold a handler forever.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(60 * time.Second))
	}
	switch info.verb {
	case "get":
		switch info.subresource {
		case "", "status", "scale", "ephemeralcontainers":
			s.get(w, r, res, info)
		case "log":
			s.serveLog(w, r, res, info)
		default:
			s.writeError(w, r, methodNotSupported(info, "get "+info.subresource), res.gr(), info.name)
		}
	case "list":
		s.list(w, r, res, info)
	case "watch":
		s.serveWatch(w, r, res, info)
	case "create":
		s.create(w, r, res, info)
	case "update":
		if info.subresource == "binding" {
			s.writeError(w, r, methodNotSupported(info, "update binding"), res.gr(), info.name)
			return
		}
		s.update(w, r, res, info)
	case "patch":
		if info.subresource == "binding" || info.subresource == "finalize" {
			s.writeError(w, r, methodNotSupported(info, "patch "+info.subresource), res.gr(), info.name)
			return
		}
		s.patch(w, r, res, info)
	case "delete":
		s.delete(w, r, res, info)
	case "deletecollection":
		s.deleteCollection(w, r, res, info)
	}
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request, readiness bool) {
	type check struct {
		name string
		err  error
	}
	var checks []check
	checks = append(checks, check{"ping", nil})
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks = append(checks, check{"etcd", s.store.Health(ctx)})
	if readiness {
		var err error
		if !s.ready.Load() {
			err = errors.New("the server is still starting")
		}
		checks = append(checks, check{"bootstrap", err})
	}
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if c.err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: %v\n", c.name, c.err)
		} else {
			fmt.Fprintf(&b, "[+]%s ok\n", c.name)
		}
	}
	what := strings.TrimPrefix(r.URL.Path, "/")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%s%s check failed\n", b.String(), what)
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		fmt.Fprintf(w, "%s%s check passed\n", b.String(), what)
		return
	}
	fmt.Fprint(w, "ok")
}
