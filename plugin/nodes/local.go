package nodes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// localAgents is the directory of the agents this plugin started:
// <data-dir>/nodes/<name>/{agent.pid,agent.log,data/}.
type localAgents struct{ dir string }

func (l localAgents) nodeDir(name string) string { return filepath.Join(l.dir, "nodes", name) }
func (l localAgents) pidFile(name string) string { return filepath.Join(l.nodeDir(name), "agent.pid") }
func (l localAgents) logFile(name string) string { return filepath.Join(l.nodeDir(name), "agent.log") }
func (l localAgents) dataDir(name string) string { return filepath.Join(l.nodeDir(name), "data") }

// errNotLocal says a node has no pid file: this plugin did not start it.
var errNotLocal = errors.New("not started by kubectl skiff nodes add")

// pid reads a node's pid file; errNotLocal when there is none.
func (l localAgents) pid(name string) (int, error) {
	b, err := os.ReadFile(l.pidFile(name))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("node %s: %w (no %s)", name, errNotLocal, l.pidFile(name))
	}
	if err != nil {
		return 0, fmt.Errorf("node %s: %w", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("node %s: bad pid file %s: %q", name, l.pidFile(name), b)
	}
	return pid, nil
}

// names lists the nodes that have a pid file.
func (l localAgents) names() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(l.dir, "nodes"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(l.dir, "nodes"), err)
	}
	var out []string
	for _, e := range entries {
		if _, err := os.Stat(l.pidFile(e.Name())); e.IsDir() && err == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// running reports whether the agent of name runs: its pid is alive and,
// where /proc tells, is a `skiff agent` for that node name — a pid file
// outliving its process must not make us signal whatever reused the pid.
func (l localAgents) running(name string) (int, bool) {
	pid, err := l.pid(name)
	if err != nil {
		return 0, false
	}
	return pid, isAgent(pid, name)
}

func isAgent(pid int, name string) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	if runtime.GOOS != "linux" {
		return true
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// A zombie is gone, only not yet reaped (by whoever adopted it).
		if i := bytes.LastIndexByte(st, ')'); i >= 0 && i+2 < len(st) && st[i+2] == 'Z' {
			return false
		}
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	hasAgent, hasName := false, false
	for i, a := range args {
		if a == "agent" {
			hasAgent = true
		}
		if (a == "--node-name" && i+1 < len(args) && args[i+1] == name) || a == "--node-name="+name {
			hasName = true
		}
	}
	return hasAgent && hasName
}

// stop sends SIGTERM, then SIGKILL after grace; it returns once the
// process is gone.
func stop(pid int, name string, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal agent %s (pid %d): %w", name, pid, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !isAgent(pid, name) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 50; i++ {
		if !isAgent(pid, name) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("agent %s (pid %d) still runs after SIGKILL", name, pid)
}

// AgentLog is the log file of the agent `nodes add` started as name under
// the data directory dataDir (kubectl skiff logs reads it).
func AgentLog(dataDir, name string) string { return localAgents{dir: dataDir}.logFile(name) }

// LocalAgents lists the agents `nodes add` started under dataDir (those
// with a pid file), running or not.
func LocalAgents(dataDir string) ([]string, error) { return localAgents{dir: dataDir}.names() }
