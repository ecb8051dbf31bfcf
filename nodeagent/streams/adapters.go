package streams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// execInContainer is the streaming library's Executor over the runtime,
// for one resolved container.
type execInContainer struct {
	rt  runtime.Runtime
	id  string
	log *slog.Logger
}

// ExecInContainer runs cmd and turns a non-zero exit code into the
// ExitError the library reports on the error stream as a NonZeroExitCode
// Status (what makes `kubectl exec … -- sh -c 'exit 7'` exit 7).
func (e *execInContainer) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser,
	tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	code, err := e.rt.ExecStream(ctx, e.id, runtime.ExecOptions{
		Cmd:    cmd,
		Stdin:  in,
		Stdout: out,
		Stderr: errOut,
		TTY:    tty,
		Resize: terminalSizes(ctx, resize),
	})
	if err != nil {
		return clientGone(ctx, err)
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command %q exited with %d", strings.Join(cmd, " "), code), Code: code}
	}
	return nil
}

// attachToContainer is the streaming library's Attacher over the runtime.
type attachToContainer struct {
	rt runtime.Runtime
	id string
}

func (a *attachToContainer) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, errOut io.WriteCloser,
	tty bool, resize <-chan remotecommand.TerminalSize) error {
	err := a.rt.Attach(ctx, a.id, runtime.AttachOptions{
		Stdin:  in,
		Stdout: out,
		Stderr: errOut,
		TTY:    tty,
		Resize: terminalSizes(ctx, resize),
	})
	// Detaching (the client leaving) is how an attach normally ends.
	return clientGone(ctx, err)
}

// forwardToPod is the streaming library's PortForwarder. It finds the
// pod's sandbox again for every forwarded connection, so a connection made
// after the pod's sandbox was replaced reaches the new one.
type forwardToPod struct {
	server *Server
	target target
	// ctx ends when the client's connection does; the library passes a
	// background context.
	ctx context.Context
}

func (f *forwardToPod) PortForward(_ context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	sb, err := f.server.runningSandbox(f.ctx, f.target)
	if err != nil {
		return err
	}
	return clientGone(f.ctx, f.server.rt.PortForward(f.ctx, sb.ID, port, stream))
}

// clientGone drops an error that only says the client's connection ended:
// there is no one left to report it to, and the streaming library would
// log it as a failure. Any other error is returned.
func clientGone(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// terminalSizes converts the library's resize events to the runtime's,
// until either side is done.
func terminalSizes(ctx context.Context, in <-chan remotecommand.TerminalSize) <-chan runtime.TerminalSize {
	if in == nil {
		return nil
	}
	out := make(chan runtime.TerminalSize)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- runtime.TerminalSize{Width: s.Width, Height: s.Height}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
