package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"golang.org/x/sys/unix"
)

// ExecStream runs a user's command. The engine runs it as the agent's
// own Exec does (exec create, attach and start, resize, inspect for the
// exit code); only the terminal size needs more care here. kubectl sends
// the window's size once, as the session opens, usually before the engine
// has started the process, and the engine refuses to resize an exec that
// has not started (API 1.41 has no size on exec create): Exec's short
// retries can miss it on a busy host, leaving a 0×0 terminal until the
// user resizes the window. So the latest size is asserted again a few
// times over the next seconds, as the docker CLI retries its first resize;
// setting the size a terminal already has does not signal the process.
func (d *Docker) ExecStream(ctx context.Context, id string, opts ExecOptions) (int, error) {
	if opts.Resize != nil {
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		opts.Resize = reassertSizes(rctx, opts.Resize, sizeReassertions)
	}
	return d.Exec(ctx, id, opts)
}

// sizeReassertions are the delays, after each new size, at which it is
// sent again.
var sizeReassertions = []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond,
	600 * time.Millisecond, 1200 * time.Millisecond, 2400 * time.Millisecond}

// reassertSizes forwards sizes from in and, after each, sends it again at
// the given delays unless a newer one came. It ends when in closes or ctx ends.
func reassertSizes(ctx context.Context, in <-chan TerminalSize, delays []time.Duration) <-chan TerminalSize {
	out := make(chan TerminalSize)
	go func() {
		defer close(out)
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
		var latest TerminalSize
		next := len(delays)
		send := func(s TerminalSize) bool {
			select {
			case out <- s:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-in:
				if !ok {
					return
				}
				latest, next = s, 0
				if !send(s) {
					return
				}
				if len(delays) > 0 {
					timer.Reset(delays[0])
				}
			case <-timer.C:
				if !send(latest) {
					return
				}
				if next++; next < len(delays) {
					timer.Reset(delays[next] - delays[next-1])
				}
			}
		}
	}()
	return out
}

// Attach connects the streams to the container's main process through the
// engine's attach endpoint. Without a TTY the engine frames stdout and
// stderr on one stream, which is split back here; whether the container has
// a TTY is read from the container itself, since a mismatch would garble
// the output. The call returns when the container's output ends (it
// exited) or ctx ends; ending stdin does not end it: an attached client
// may send no input and still watch the output.
func (d *Docker) Attach(ctx context.Context, id string, opts AttachOptions) error {
	ci, err := d.client.ContainerInspect(ctx, id)
	if err != nil {
		return fmt.Errorf("attach to %s: %w", id, engineErr(err))
	}
	if ci.State == nil || !ci.State.Running {
		return fmt.Errorf("attach to %s: %w", id, errAttachStopped)
	}
	tty := ci.Config != nil && ci.Config.Tty
	// The first attach to a container made for an interactive session
	// (stdin and stdinOnce: kubectl run -i) reads the output from the
	// container's log, from its start: see firstSessionAttach.
	fromLog := ci.Config != nil && ci.Config.OpenStdin && ci.Config.StdinOnce && d.firstSessionAttach(ci.ID)
	if fromLog && opts.Stdin == nil && opts.Resize == nil {
		return d.followSessionLog(ctx, id, tty, orDiscard(opts.Stdout), orDiscard(opts.Stderr))
	}
	hr, err := d.client.ContainerAttach(ctx, id, container.AttachOptions{
		Stream: true,
		Stdin:  opts.Stdin != nil,
		Stdout: opts.Stdout != nil && !fromLog,
		Stderr: opts.Stderr != nil && !tty && !fromLog,
	})
	if err != nil {
		return fmt.Errorf("attach to %s: %w", id, engineErr(err))
	}
	defer hr.Close()
	attached := time.Now()
	// The hijacked connection does not watch ctx once established.
	stop := context.AfterFunc(ctx, hr.Close)
	defer stop()

	if opts.Resize != nil && tty {
		go func() {
			for s := range opts.Resize {
				if err := d.client.ContainerResize(ctx, id, container.ResizeOptions{Width: uint(s.Width), Height: uint(s.Height)}); err != nil && ctx.Err() == nil {
					d.log.Debug("resize attached terminal", "container", id, "err", err)
				}
			}
		}()
	}
	if opts.Stdin != nil {
		go func() {
			_, _ = io.Copy(hr.Conn, opts.Stdin)
			// With StdinOnce the engine then closes the process's stdin.
			_ = hr.CloseWrite()
		}()
	}
	stdout, stderr := orDiscard(opts.Stdout), orDiscard(opts.Stderr)
	if fromLog {
		return d.followSessionLog(ctx, id, tty, stdout, stderr)
	}
	var n int64
	if tty {
		n, err = io.Copy(stdout, hr.Reader)
	} else {
		n, err = stdcopy.StdCopy(stdout, stderr, hr.Reader)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("attach to %s: %w", id, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("attach to %s: stream: %w", id, err)
	}
	if n == 0 && d.missedOutput(ctx, id, attached) {
		return fmt.Errorf("attach to %s: %w", id, errAttachStopped)
	}
	return nil
}

// firstSessionAttach reports whether this is the agent's first attach to
// container id, and records that it has been made.
//
// A container with stdin and stdinOnce exists for one attached session
// (kubectl run -i, -it): kubectl creates the pod, waits for it to run,
// then attaches. The engine's attach streams only what is written after
// it, so whatever the container wrote in between was lost: the shell's
// first prompt (kubectl's "If you don't see a command prompt, try
// pressing enter") or, for a quick command, all of its output, while
// kubectl reported success. docker run -i attaches before the start and
// loses nothing; that is what users expect of kubectl run -i too. So the
// first attach follows the container's log from its start, which holds
// every byte in order; later attaches (kubectl attach to the same pod)
// see only new output, as on any cluster. The record is in memory: after
// an agent restart the next attach replays the log again.
func (d *Docker) firstSessionAttach(id string) bool {
	_, attached := d.sessionsAttached.LoadOrStore(id, struct{}{})
	return !attached
}

// followSessionLog copies the container's log from its start to stdout
// and stderr, following it until the container stops or ctx ends. The
// engine's json-file log follows without gaps or repeats, unlike an
// attach with its logs option, which replays the log and only then starts
// streaming.
func (d *Docker) followSessionLog(ctx context.Context, id string, tty bool, stdout, stderr io.Writer) error {
	rc, err := d.client.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return fmt.Errorf("attach to %s: log: %w", id, engineErr(err))
	}
	defer rc.Close()
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	if tty {
		_, err = io.Copy(stdout, rc)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, rc)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("attach to %s: %w", id, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("attach to %s: log: %w", id, err)
	}
	return nil
}

// errAttachStopped is an attach to a container that has stopped; its
// output is in its log. kubectl run -i falls back to the log by itself.
var errAttachStopped = errors.New("container is not running: its output is in kubectl logs")

// missedOutput reports whether an attach that streamed nothing came too
// late: the container had stopped by the time the attach was made, and its
// log holds output.
//
// The engine attaches to a stopped container without complaint and
// streams nothing, so a container that stopped between the inspect in
// Attach and the attach looked like a session that succeeded without
// output: kubectl run -i --rm printed nothing and exited 0. Refused
// as the kubelet refuses an attach to a stopped container, kubectl falls
// back to the container's logs, which hold everything. A container that
// stops quietly after the attach was made still ends it with success.
func (d *Docker) missedOutput(ctx context.Context, id string, attached time.Time) bool {
	ci, err := d.client.ContainerInspect(ctx, id)
	if err != nil || ci.State == nil || !stoppedBy(ci.State.Running, ci.State.FinishedAt, attached) {
		return false
	}
	rc, err := d.client.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "1"})
	if err != nil {
		return false
	}
	defer rc.Close()
	n, _ := io.ReadFull(rc, make([]byte, 1))
	return n > 0
}

// stoppedBy reports whether a container whose state reads running and
// finishedAt (the engine's RFC 3339 time) had stopped by t. The engine
// runs on this host, so its clock is the agent's.
func stoppedBy(running bool, finishedAt string, t time.Time) bool {
	if running {
		return false
	}
	f, err := time.Parse(time.RFC3339Nano, finishedAt)
	if err != nil || f.IsZero() || f.Year() < 2000 {
		return false
	}
	return !f.After(t)
}

// PortForward dials 127.0.0.1:port (then [::1]:port) inside the sandbox's
// network namespace, as the kubelet's runtimes do, so that a server bound
// only to the pod's loopback is reached. Entering the namespace needs the
// engine on this host (its PIDs are ours) and root; with a remote engine
// the sandbox's pod IP is dialled instead, which reaches listeners on the
// pod's address but not those bound to its loopback.
func (d *Docker) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("port-forward to %s: invalid port %d", sandboxID, port)
	}
	ci, err := d.client.ContainerInspect(ctx, sandboxID)
	if err != nil {
		return fmt.Errorf("port-forward to %s: %w", sandboxID, engineErr(err))
	}
	if ci.State == nil || !ci.State.Running || ci.State.Pid == 0 {
		return fmt.Errorf("port-forward to %s: sandbox is not running", sandboxID)
	}
	var conn net.Conn
	if d.engineIsLocal() {
		conn, err = dialInNetNS(ctx, ci.State.Pid, port)
	} else {
		ip := ""
		if ci.NetworkSettings != nil {
			ip = firstIP(ci.NetworkSettings.Networks)
		}
		if ip == "" {
			return fmt.Errorf("port-forward to %s: the engine is remote and the sandbox has no address", sandboxID)
		}
		conn, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	}
	if err != nil {
		return fmt.Errorf("port-forward to %s: %w", sandboxID, err)
	}
	return splice(ctx, conn, stream)
}

// engineIsLocal tells whether the engine's PIDs are this host's: it is
// reached through a local socket.
func (d *Docker) engineIsLocal() bool {
	return strings.HasPrefix(d.client.DaemonHost(), "unix://")
}

// dialInNetNS dials the loopback inside the network namespace of pid. A
// socket belongs to the namespace of the thread that creates it, so the
// dial runs on a goroutine locked to its OS thread, which enters the pod's
// namespace for the dial and then returns to its own. If it cannot return,
// the thread stays locked and the Go runtime ends it with the goroutine,
// rather than letting other goroutines run in the pod's namespace.
func dialInNetNS(ctx context.Context, pid int, port int32) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		conn, restored, err := dialLoopbackInNetNS(ctx, pid, port)
		if restored {
			goruntime.UnlockOSThread()
		}
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}

func dialLoopbackInNetNS(ctx context.Context, pid int, port int32) (conn net.Conn, restored bool, err error) {
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, true, fmt.Errorf("open this thread's network namespace: %w", err)
	}
	defer own.Close()
	target, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, true, fmt.Errorf("open the pod's network namespace: %w", err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("enter the pod's network namespace: %w", err)
	}
	// One address at a time, on this goroutine: a dialer racing several
	// addresses would create sockets on other threads, in the host's namespace.
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	p := strconv.Itoa(int(port))
	conn, err = dialer.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", p))
	if err != nil && errors.Is(err, unix.ECONNREFUSED) {
		if c6, err6 := dialer.DialContext(ctx, "tcp6", net.JoinHostPort("::1", p)); err6 == nil {
			conn, err = c6, nil
		}
	}
	if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, false, fmt.Errorf("return to the agent's network namespace: %w", serr)
	}
	return conn, true, err
}

// splice copies between a connection in the pod and a client stream until
// the pod's side has sent everything (its read side ends), the client's
// stream fails, or ctx ends. The client ending its input is passed on as
// a half-close, so request/response protocols still get their answer.
func splice(ctx context.Context, conn net.Conn, stream io.ReadWriteCloser) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	toPod := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, stream)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok && err == nil {
			_ = cw.CloseWrite()
		}
		toPod <- err
	}()
	fromPod := make(chan error, 1)
	go func() {
		_, err := io.Copy(stream, conn)
		fromPod <- err
	}()
	select {
	case err := <-fromPod:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	case err := <-toPod:
		if err != nil {
			return fmt.Errorf("client stream: %w", err)
		}
		// The client is done sending; wait for the rest of the answer.
		err = <-fromPod
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
}
