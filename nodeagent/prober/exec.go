package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// maxExecOutput caps what an exec probe keeps of the command's output
// (kubelet pkg/probe/exec: 10 KiB); it becomes the failure message.
const maxExecOutput = 10 << 10

// exec runs cmd in the container; exit code 0 is success. The probe's
// timeout cancels the exec; that is a failure, as in the kubelet since
// ExecProbeTimeout went GA.
func (p *prober) exec(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (outcome, string, error) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &cappedBuffer{max: maxExecOutput}
	code, err := p.rt.Exec(tctx, containerID, runtime.ExecOptions{Cmd: cmd, Stdout: out, Stderr: out})
	if ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		// Also when the runtime returned an exit code late: the command
		// did not answer within timeoutSeconds.
		return outcomeFailure, fmt.Sprintf("command %q timed out", strings.Join(cmd, " ")), nil
	}
	if err != nil {
		return outcomeFailure, "", fmt.Errorf("exec %q in container %s: %w", strings.Join(cmd, " "), containerID, err)
	}
	if code != 0 {
		return outcomeFailure, out.String(), nil
	}
	return outcomeSuccess, out.String(), nil
}

// cappedBuffer keeps the first max bytes written to it and accepts (drops)
// the rest, so the runtime keeps draining the command's output. Stdout and
// stderr share it, hence the lock.
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.b)
}
