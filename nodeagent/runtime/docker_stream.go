package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/stdcopy"
)

// Exec runs a command in a running container and returns its exit code.
// Without a TTY the engine frames stdout and stderr on one stream, which
// is split back onto opts.Stdout and opts.Stderr. Cancelling ctx stops
// the streams, not the process: the engine has no way to kill an exec.
// Exec returns when the output ends; a Stdin that has not ended by then
// keeps one goroutine reading it until it does (or fails).
func (d *Docker) Exec(ctx context.Context, id string, opts ExecOptions) (int, error) {
	if len(opts.Cmd) == 0 {
		return -1, fmt.Errorf("exec in %s: no command", id)
	}
	cr, err := d.client.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd:          opts.Cmd,
		Tty:          opts.TTY,
		AttachStdin:  opts.Stdin != nil,
		AttachStdout: true,
		AttachStderr: !opts.TTY,
	})
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, engineErr(err))
	}
	hr, err := d.client.ContainerExecAttach(ctx, cr.ID, container.ExecAttachOptions{Tty: opts.TTY})
	if err != nil {
		return -1, fmt.Errorf("exec in %s: attach: %w", id, engineErr(err))
	}
	defer hr.Close()
	// The hijacked connection does not watch ctx once established.
	stop := context.AfterFunc(ctx, hr.Close)
	defer stop()

	done := make(chan struct{})
	defer close(done)
	if opts.Resize != nil {
		go d.resizeExec(ctx, cr.ID, opts.Resize, done)
	}
	if opts.Stdin != nil {
		go func() {
			_, _ = io.Copy(hr.Conn, opts.Stdin)
			// EOF on stdin reaches the process; output may still follow.
			_ = hr.CloseWrite()
		}()
	}
	stdout, stderr := orDiscard(opts.Stdout), orDiscard(opts.Stderr)
	if opts.TTY {
		_, err = io.Copy(stdout, hr.Reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, hr.Reader)
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, ctx.Err())
	}
	if err != nil {
		return -1, fmt.Errorf("exec in %s: stream: %w", id, err)
	}
	// The output ends when the process closes it, which can be a moment
	// before the engine records the exit.
	for {
		ei, err := d.client.ContainerExecInspect(ctx, cr.ID)
		if err != nil {
			return -1, fmt.Errorf("exec in %s: %w", id, engineErr(err))
		}
		if !ei.Running {
			return ei.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("exec in %s: %w", id, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// resizeExec forwards terminal sizes. The first may arrive before the
// engine has started the process, which it refuses; a few retries cover
// that window.
func (d *Docker) resizeExec(ctx context.Context, execID string, sizes <-chan TerminalSize, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case s, ok := <-sizes:
			if !ok {
				return
			}
			for try := 0; try < 5; try++ {
				err := d.client.ContainerExecResize(ctx, execID, container.ResizeOptions{Width: uint(s.Width), Height: uint(s.Height)})
				if err == nil || ctx.Err() != nil {
					break
				}
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Logs copies a container's output to w. Without a TTY the engine frames
// each write with its stream; the frames are written to w in the order
// they come, which merges stdout and stderr as the container wrote them.
// Following ends when the container stops or ctx ends (then with ctx's error).
func (d *Docker) Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error {
	ci, err := d.client.ContainerInspect(ctx, id)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", id, engineErr(err))
	}
	tty := ci.Config != nil && ci.Config.Tty
	lo := container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Timestamps: opts.Timestamps,
		Tail:       "all",
	}
	if opts.Tail >= 0 {
		lo.Tail = strconv.FormatInt(opts.Tail, 10)
	}
	if !opts.Since.IsZero() {
		lo.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	rc, err := d.client.ContainerLogs(ctx, id, lo)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", id, engineErr(err))
	}
	defer rc.Close()
	out := limitLogWriter(w, opts.LimitBytes)
	if tty {
		_, err = io.Copy(out, rc)
	} else {
		_, err = stdcopy.StdCopy(out, out, rc)
	}
	switch {
	case errors.Is(err, errLimitReached):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("logs of %s: %w", id, ctx.Err())
	case err != nil:
		return fmt.Errorf("logs of %s: %w", id, err)
	}
	return nil
}

// eventActions are the container events that change what the agent sees;
// the rest (exec_*, attach, resize, top…) would only wake it for nothing,
// and probes exec often.
func eventActions() []events.Action {
	return []events.Action{
		events.ActionCreate, events.ActionStart, events.ActionRestart, events.ActionDie,
		events.ActionOOM, events.ActionDestroy, events.ActionPause, events.ActionUnPause,
	}
}

// isEngineAttribute tells the keys the engine adds to a container event's
// attributes from the container's labels, which it sends alongside.
func isEngineAttribute(k string) bool {
	switch k {
	case "image", "name", "exitCode", "signal":
		return true
	}
	return false
}

// Events streams container events for containers whose labels include
// match, until ctx ends. Both channels are closed when the stream ends;
// if it ended because the engine's stream failed (not because ctx ended),
// the error channel carries that error first, and the caller should
// resync and subscribe again.
func (d *Docker) Events(ctx context.Context, match map[string]string) (<-chan Event, <-chan error) {
	f := labelFilter(match)
	f.Add("type", string(events.ContainerEventType))
	for _, a := range eventActions() {
		f.Add("event", string(a))
	}
	msgs, errs := d.client.Events(ctx, events.ListOptions{Filters: f})
	out := make(chan Event, 64)
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if ctx.Err() == nil && err != nil {
					errc <- fmt.Errorf("docker events: %w", engineErr(err))
				}
				return
			case m := <-msgs:
				ev := Event{ContainerID: m.Actor.ID, Action: string(m.Action), Labels: map[string]string{}}
				for k, v := range m.Actor.Attributes {
					if !isEngineAttribute(k) {
						ev.Labels[k] = v
					}
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, errc
}
