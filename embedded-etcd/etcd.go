package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultQuotaBackendBytes is etcd's own default backend quota (2 GiB).
const DefaultQuotaBackendBytes = 2 << 30

// Config says where and how to run the embedded member.
type Config struct {
	// Dir holds the member's WAL and snapshot files. Created 0700 if absent.
	Dir string
	// QuotaBackendBytes caps the backend database. When it is exceeded etcd
	// raises a NOSPACE alarm and refuses writes (reads and deletes go on).
	QuotaBackendBytes int64
	// LogFile receives etcd's own log lines (warnings and errors only).
	// Empty means discard them.
	LogFile string
	// StartTimeout bounds how long Start waits for the member to be ready.
	StartTimeout time.Duration
	// ClientURL, if set (e.g. unix:///path/etcd.sock), also serves etcd's
	// own gRPC API there. Skiff itself never needs it; the benchmarks use
	// it to measure a plain etcd client against the same member.
	ClientURL string
}

// Server is a running embedded etcd member.
type Server struct {
	etcd   *embed.Etcd
	client *clientv3.Client
}

// Start runs an etcd member in-process and returns once it serves requests.
func Start(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("etcd: a data directory is required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd: create data directory: %w", err)
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	ec := embed.NewConfig()
	ec.Name = "skiff"
	ec.Dir = cfg.Dir
	// The member is reached only through the in-process client, so it
	// listens on nothing. The peer URL is recorded in the member list but
	// never bound; a single-member cluster never dials its peers.
	peer, _ := url.Parse("http://localhost:2380")
	ec.ListenPeerUrls = nil
	ec.AdvertisePeerUrls = []url.URL{*peer}
	ec.ListenClientUrls = nil
	ec.AdvertiseClientUrls = nil
	if cfg.ClientURL != "" {
		u, err := url.Parse(cfg.ClientURL)
		if err != nil {
			return nil, fmt.Errorf("etcd: client URL: %w", err)
		}
		ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*u}, []url.URL{*u}
	}
	ec.ListenClientHttpUrls = nil
	ec.ListenMetricsUrls = nil
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	// A lone member has nobody to hear heartbeats from, so a short election
	// timeout costs nothing and makes a restart elect itself in ~100 ms
	// instead of ~1 s.
	ec.TickMs = 10
	ec.ElectionMs = 100
	ec.QuotaBackendBytes = cfg.QuotaBackendBytes
	if ec.QuotaBackendBytes == 0 {
		ec.QuotaBackendBytes = DefaultQuotaBackendBytes
	}
	// Compaction is done by the API server (every few minutes, keeping the
	// previous interval's history), as kube-apiserver does, so the same code
	// path serves the embedded and the external mode.
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "0"
	// A write is acknowledged only after the WAL is fsynced.
	ec.UnsafeNoFsync = false
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newLogger(cfg.LogFile))

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("etcd: start: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: start: %w", err)
	case <-time.After(cfg.StartTimeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("etcd: not ready after %s", cfg.StartTimeout)
	}
	return &Server{etcd: e, client: v3client.New(e.Server)}, nil
}

// Client returns the in-process client. It stays valid until Close.
func (s *Server) Client() *clientv3.Client { return s.client }

// Close stops the member after in-flight requests finish. Every write that
// was acknowledged is already on disk, so Close is about tidiness, not
// durability.
func (s *Server) Close() {
	s.client.Close()
	s.etcd.Close()
}

// Snapshot writes a consistent point-in-time copy of the backend database.
func Snapshot(ctx context.Context, c *clientv3.Client, w io.Writer) (int64, error) {
	rc, err := c.Snapshot(ctx)
	if err != nil {
		return 0, fmt.Errorf("etcd: snapshot: %w", err)
	}
	defer rc.Close()
	n, err := io.Copy(w, rc)
	if err != nil {
		return n, fmt.Errorf("etcd: snapshot: %w", err)
	}
	return n, nil
}

// ExternalConfig describes how to reach an etcd cluster that Skiff does not run.
type ExternalConfig struct {
	Endpoints []string
	// Optional TLS client files, as given to the etcd command line.
	CAFile, CertFile, KeyFile string
	DialTimeout               time.Duration
}

// Connect returns a client for an external etcd and checks that it answers.
func Connect(ctx context.Context, cfg ExternalConfig) (*clientv3.Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints given")
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	cc := clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
	}
	if cfg.CAFile != "" || cfg.CertFile != "" {
		tlsCfg, err := clientTLS(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, err
		}
		cc.TLS = tlsCfg
	}
	c, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("etcd: connect %v: %w", cfg.Endpoints, err)
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := c.Get(pctx, "health", clientv3.WithCountOnly()); err != nil {
		c.Close()
		return nil, fmt.Errorf("etcd: %v does not answer: %w", cfg.Endpoints, err)
	}
	return c, nil
}

func newLogger(path string) *zap.Logger {
	if path == "" {
		return zap.NewNop()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return zap.NewNop()
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return zap.NewNop()
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(f), zapcore.WarnLevel))
}
