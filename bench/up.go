package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

// upProcess is one `skiff up` started by a benchmark.
type upProcess struct {
	cmd     *exec.Cmd
	dataDir string
	// ready is closed when up prints that its node is Ready.
	ready chan struct{}
	log   strings.Builder
}

// startUpProcess runs `skiff up` on a fresh data directory with a unique node
// name and its own port; it prints its steps on stderr, the last being
// "✓ node <name> Ready", which is what a user waits for.
func startUpProcess(e *env, name string) (*upProcess, error) {
	port, err := cluster.FreePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.tmp, name)
	node := fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1e6)
	p := &upProcess{dataDir: dir, ready: make(chan struct{})}
	p.cmd = exec.Command(e.skiffBin, "up", "--data-dir", dir, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--node-name", node)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		closed := false
		for sc.Scan() {
			line := sc.Text()
			if p.log.Len() < 64*1024 {
				p.log.WriteString(line + "\n")
			}
			if !closed && strings.HasPrefix(line, "✓ node "+node+" Ready") {
				close(p.ready)
				closed = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	return p, nil
}

// waitReady waits for the node-Ready line.
func (p *upProcess) waitReady(timeout time.Duration) error {
	select {
	case <-p.ready:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("skiff up: node not Ready within %s; its log:\n%s", timeout, p.log.String())
	}
}

// stop ends up with SIGTERM and removes everything it made (`skiff
// reset`: containers, proxy rules, files).
func (p *upProcess) stop(e *env) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = exec.CommandContext(ctx, e.skiffBin, "reset", "--data-dir", p.dataDir).Run()
}

// benchUpColdStart is the first five minutes' first step: `skiff up` from
// an empty data directory until its node is Ready (control plane, node
// agent, cluster DNS, Service proxy), p50 over 10 runs.
func benchUpColdStart(e *env) ([]Result, error) {
	runs := 10
	if e.quick {
		runs = 3
	}
	var ds []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		p, err := startUpProcess(e, fmt.Sprintf("up-cold-%d", i))
		if err != nil {
			return nil, err
		}
		err = p.waitReady(60 * time.Second)
		d := time.Since(t0)
		p.stop(e)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	p50 := percentile(ds, 50)
	return []Result{{
		Scenario: "up/cold-start", Metric: "skiff up, empty data dir → node Ready, p50", Unit: "ms",
		Ours: ms(p50), Target: "≤ 3000 ms (k3d ~20 s, kind ~33 s, minikube ~51 s to a usable cluster)", Met: p50 <= 3*time.Second,
		Note: fmt.Sprintf("max %.0f ms over %d runs, each on a fresh data dir (the pause image, built once per engine, exists after the first run)", ms(percentile(ds, 100)), runs),
	}}, nil
}

// benchUpIdleRSS is the resident memory of `skiff up` (control plane and
// node agent in one process) with no pods, a minute after its node is
// Ready.
func benchUpIdleRSS(e *env) ([]Result, error) {
	wait := time.Minute
	if e.quick {
		wait = 10 * time.Second
	}
	p, err := startUpProcess(e, "up-idle")
	if err != nil {
		return nil, err
	}
	defer p.stop(e)
	if err := p.waitReady(60 * time.Second); err != nil {
		return nil, err
	}
	time.Sleep(wait)
	rss, err := rssMiB(p.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	anon, _ := statusMiB(p.cmd.Process.Pid, "RssAnon:")
	return []Result{{
		Scenario: "up/idle-rss", Metric: fmt.Sprintf("skiff up RSS, no pods, %s after node Ready", wait), Unit: "MiB",
		Ours: rss, Target: "≤ 150 MiB (k3s server ~1.4–1.6 GiB, k0s ~510 MB)", Met: rss <= 150,
		Note: fmt.Sprintf("of which %.1f MiB private (RssAnon)", anon),
	}}, nil
}
