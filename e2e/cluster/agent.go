package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// AgentOptions configure a `skiff agent` process joining a server.
type AgentOptions struct {
	Bin      string
	Server   *Server
	NodeName string
	DataDir  string
	// Args are extra flags (e.g. --runtime fake, --cpu 4).
	Args []string
}

// Agent is a running `skiff agent` process.
type Agent struct {
	opts AgentOptions

	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

// StartAgent runs an agent. It returns once the process runs; wait for the
// node to be Ready through the API.
func StartAgent(o AgentOptions) (*Agent, error) {
	a := &Agent{opts: o}
	return a, a.start()
}

func (a *Agent) start() error {
	args := append([]string{"agent", "--server", a.opts.Server.URL,
		"--token-file", filepath.Join(a.opts.Server.DataDir(), "node-token"),
		"--node-name", a.opts.NodeName, "--data-dir", a.opts.DataDir}, a.opts.Args...)
	cmd := exec.Command(a.opts.Bin, args...)
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: log}, &lockedWriter{w: log}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	a.mu.Lock()
	a.cmd, a.log, a.done = cmd, log, done
	a.mu.Unlock()
	select {
	case <-done:
		return fmt.Errorf("agent exited at once:\n%s", a.Log())
	case <-time.After(100 * time.Millisecond):
	}
	return nil
}

// Log returns what the agent has printed so far.
func (a *Agent) Log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.log == nil {
		return ""
	}
	return a.log.String()
}

// Kill sends SIGKILL and waits for the process to be gone. Its containers
// keep running, as they would on a real node.
func (a *Agent) Kill() {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// Stop sends SIGTERM and waits up to 10 s.
func (a *Agent) Stop() error {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		a.Kill()
		return errors.New("agent did not stop within 10s of SIGTERM")
	}
}

// Restart starts the agent again with the same options.
func (a *Agent) Restart() error { return a.start() }

// PID is the agent's process ID.
func (a *Agent) PID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmd.Process.Pid
}
