package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

var skiffBin string

func TestMain(m *testing.M) {
	// client-go logs every dropped connection; the kill -9 tests make many.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	dir, err := os.MkdirTemp("", "skiff-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	skiffBin, err = cluster.SkiffBinary(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startServer runs `skiff server` in a fresh data directory for the test.
func startServer(t *testing.T, args ...string) *cluster.Server {
	t.Helper()
	s, err := cluster.Start(cluster.Options{Bin: skiffBin, DataDir: filepath.Join(t.TempDir(), "data"), Args: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("server log:\n%s", tail(s.Log(), 4000))
		}
	})
	return s
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func clientset(t *testing.T, s *cluster.Server) *kubernetes.Clientset {
	t.Helper()
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// kubectl runs one stock kubectl binary against one server.
type kubectl struct {
	t          *testing.T
	bin        string
	minor      string
	kubeconfig string
	cacheDir   string
	env        []string
}

func newKubectl(t *testing.T, s *cluster.Server, minor string) *kubectl {
	t.Helper()
	bin, err := cluster.Kubectl(minor)
	if err != nil {
		t.Fatal(err)
	}
	return &kubectl{t: t, bin: bin, minor: minor, kubeconfig: s.Kubeconfig(), cacheDir: t.TempDir()}
}

// run returns stdout, stderr and the exit code.
func (k *kubectl) run(args ...string) (string, string, int) {
	return k.runIn("", args...)
}

func (k *kubectl) runIn(stdin string, args ...string) (string, string, int) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)
	return cluster.Run(ctx, k.env, stdin, k.bin, full...)
}

// runOpenStdin runs kubectl with input on a stdin that stays open until
// kubectl exits, as a terminal's does. A stdin that ends at once races the
// container of an interactive session that is not stdinOnce (kubectl debug
// -i makes such): the runtime — the Docker engine here, containerd's CRI
// on a cluster — stops sending its output to an attach whose client
// closed stdin.
func (k *kubectl) runOpenStdin(input string, args ...string) (string, string, int) {
	k.t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		k.t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if _, err := pw.WriteString(input); err != nil {
		k.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)
	return cluster.RunStdin(ctx, k.env, pr, k.bin, full...)
}

// must runs kubectl and fails the test unless it exits 0.
func (k *kubectl) must(args ...string) string {
	k.t.Helper()
	out, errOut, code := k.run(args...)
	if code != 0 {
		k.t.Fatalf("kubectl %s %s: exit %d\nstdout: %s\nstderr: %s", k.minor, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not within %s: %v", timeout, err)
}
