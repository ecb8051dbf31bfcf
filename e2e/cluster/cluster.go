// Package cluster starts, stops and kills skiff processes for the e2e
// tests and the benchmarks, and finds the binaries they drive (skiff, the
// stock kubectl of each minor version).
package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// SkiffBinary returns the skiff binary to test: $SKIFF_BIN, or one built
// from this checkout into dir.
func SkiffBinary(dir string) (string, error) {
	if b := os.Getenv("SKIFF_BIN"); b != "" {
		return b, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "skiff")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/skiff")
	cmd.Dir = root
	// Static: the agent builds the pod sandbox image from this binary.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/skiff: %v\n%s", err, b)
	}
	return out, nil
}

func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the repository")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Kubectl returns the path of the stock kubectl of a minor version
// ("1.27"…"1.33"), which live beside the binary the PATH's kubectl links
// to. "" returns the PATH's kubectl itself.
func Kubectl(minor string) (string, error) {
	onPath, err := exec.LookPath("kubectl")
	if err != nil {
		return "", errors.New("kubectl is not on PATH")
	}
	if minor == "" {
		return onPath, nil
	}
	real, err := filepath.EvalSymlinks(onPath)
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(real), "kubectl."+minor)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("kubectl %s not found beside %s", minor, real)
	}
	return p, nil
}

// FreePort returns a TCP port that was free a moment ago on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Options configure a skiff server process.
type Options struct {
	Bin     string
	DataDir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// Args are extra command-line flags.
	Args []string
	// Subcommand is "server" (default) or "up".
	Subcommand string
}

// Server is a running skiff server process.
type Server struct {
	opts Options
	URL  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

// Start runs a server and waits until /readyz answers 200.
func Start(o Options) (*Server, error) {
	if o.Port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		o.Port = p
	}
	if o.Subcommand == "" {
		o.Subcommand = "server"
	}
	s := &Server{opts: o, URL: "https://127.0.0.1:" + strconv.Itoa(o.Port)}
	return s, s.start()
}

func (s *Server) start() error {
	args := append([]string{s.opts.Subcommand, "--data-dir", s.opts.DataDir, "--listen", "127.0.0.1:" + strconv.Itoa(s.opts.Port)}, s.opts.Args...)
	cmd := exec.Command(s.opts.Bin, args...)
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: log}, &lockedWriter{w: log}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.log, s.done = cmd, log, done
	s.mu.Unlock()
	if err := s.WaitReady(30 * time.Second); err != nil {
		s.Kill()
		return fmt.Errorf("%w\nserver log:\n%s", err, s.Log())
	}
	return nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Log returns what the process has printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// WaitReady polls /readyz until it answers 200.
func (s *Server) WaitReady(timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("server exited before it was ready")
		default:
		}
		resp, err := c.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server not ready after %s", timeout)
}

// Kubeconfig is the admin kubeconfig the server wrote.
func (s *Server) Kubeconfig() string { return filepath.Join(s.opts.DataDir, "kubeconfig") }

// DataDir is the server's data directory.
func (s *Server) DataDir() string { return s.opts.DataDir }

// RESTConfig loads the admin client configuration.
func (s *Server) RESTConfig() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
}

// Kill sends SIGKILL and waits for the process to be gone.
func (s *Server) Kill() {
	s.signal(syscall.SIGKILL)
}

// Stop sends SIGTERM and waits up to 10 s for a clean exit.
func (s *Server) Stop() error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			return fmt.Errorf("server exited with %d after SIGTERM", code)
		}
		return nil
	case <-time.After(10 * time.Second):
		s.Kill()
		return errors.New("server did not stop within 10s of SIGTERM")
	}
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	<-done
}

// Restart starts the process again on the same data directory and port.
func (s *Server) Restart() error { return s.start() }

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Run runs a command with a timeout and returns its stdout, stderr and
// exit code (-1 if it could not run).
func Run(ctx context.Context, env []string, stdin string, name string, args ...string) (string, string, int) {
	var r io.Reader
	if stdin != "" {
		r = strings.NewReader(stdin)
	}
	return RunStdin(ctx, env, r, name, args...)
}

// RunStdin is Run with any stdin (nil for none): an *os.File (a pipe the
// caller keeps open) goes to the command as is, so the command's input
// ends only when the caller closes it.
func RunStdin(ctx context.Context, env []string, stdin io.Reader, name string, args ...string) (string, string, int) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = stdin
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			code = -1
			errb.WriteString(err.Error())
		}
	}
	return out.String(), errb.String(), code
}
