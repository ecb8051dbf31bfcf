package runtime

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// fakeCommands are the commands ExecStream simulates. A fake container has
// no filesystem and no processes, so only commands whose result follows
// from their arguments and input can be answered truthfully; anything else
// is refused rather than pretended.
var fakeCommands = []string{"cat", "echo", "false", "true"}

// ExecStream simulates a user's command in a running fake container:
// `echo ARGS…` writes its arguments, `cat` copies stdin to stdout, `true`
// exits 0 and `false` 1. Other commands fail with ErrNotSupported, so that
// `kubectl exec` on a simulated node never reports a success that did not
// happen. (Exec, which probes use, stays scripted by SetExecExitCode.)
func (f *Fake) ExecStream(ctx context.Context, id string, opts ExecOptions) (int, error) {
	if err := f.checkRunning("exec in", id); err != nil {
		return -1, err
	}
	if len(opts.Cmd) == 0 {
		return -1, fmt.Errorf("exec in %s: no command", id)
	}
	stdout := orDiscard(opts.Stdout)
	switch opts.Cmd[0] {
	case "true":
		return 0, nil
	case "false":
		return 1, nil
	case "echo":
		if _, err := io.WriteString(stdout, strings.Join(opts.Cmd[1:], " ")+"\n"); err != nil {
			return -1, fmt.Errorf("exec in %s: %w", id, err)
		}
		return 0, nil
	case "cat":
		if len(opts.Cmd) > 1 {
			return -1, fmt.Errorf("exec in %s: the fake runtime's cat reads only stdin, not files: %w", id, ErrNotSupported)
		}
		if opts.Stdin == nil {
			return 0, nil
		}
		if _, err := copyUntilDone(ctx, stdout, opts.Stdin); err != nil {
			return -1, fmt.Errorf("exec in %s: %w", id, err)
		}
		return 0, nil
	}
	return -1, fmt.Errorf("exec in %s: command %q is not supported by the fake runtime (it simulates only %s): %w",
		id, opts.Cmd[0], strings.Join(fakeCommands, ", "), ErrNotSupported)
}

// Attach fails: a fake container runs no process whose streams could be
// attached to.
func (f *Fake) Attach(_ context.Context, id string, _ AttachOptions) error {
	if err := f.checkRunning("attach to", id); err != nil {
		return err
	}
	return fmt.Errorf("attach to %s: a container of the fake runtime runs no process: %w", id, ErrNotSupported)
}

// PortForward fails: a fake sandbox has an address but no network behind
// it, so nothing could answer on the port.
func (f *Fake) PortForward(_ context.Context, sandboxID string, port int32, _ io.ReadWriteCloser) error {
	if err := f.checkRunning("port-forward to", sandboxID); err != nil {
		return err
	}
	return fmt.Errorf("port-forward to %s port %d: a sandbox of the fake runtime has no network: %w", sandboxID, port, ErrNotSupported)
}

// checkRunning fails unless the container exists and runs, as the engine
// would for exec, attach and port-forward.
func (f *Fake) checkRunning(op, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, err := f.lookup(op, id)
	if err != nil {
		return err
	}
	if fc.c.State != StateRunning {
		return fmt.Errorf("%s %s: container is not running", op, id)
	}
	return nil
}

// copyUntilDone copies until src ends or ctx ends; a reader blocked past
// ctx's end is left to the caller, who owns it.
func copyUntilDone(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := io.Copy(dst, src)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
