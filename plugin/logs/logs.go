package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/plugin/datadir"
	"github.com/skiff-dev/skiff/plugin/nodes"
)

// Components whose logs the command knows.
const (
	Server = "server"
	Agent  = "agent"
	Etcd   = "etcd"
	Node   = "node"
)

// etcdLog is where the server keeps embedded etcd's own log (warnings and
// errors), under its data directory.
const etcdLog = "etcd.log"

// agentLines marks the lines of the agent inside skiff up in its log.
const agentLines = "component=agent"

// ErrNoLogFile is a component with no log file under the data directory.
var ErrNoLogFile = errors.New("no log file")

type options struct {
	streams   genericiooptions.IOStreams
	flags     *genericclioptions.ConfigFlags
	dataDir   datadir.Flag
	component string
	follow    bool
	tail      int
	// poll is how often --follow looks for new lines.
	poll time.Duration
}

// NewCommand returns the logs command.
func NewCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{streams: streams, flags: flags, poll: 250 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "logs [--component server|agent|etcd|node NAME]",
		Short: "Print the logs of the local control plane's processes",
		Long: `Print the log of a process of the local cluster, found under its data
directory:

  server      skiff up / skiff server: the API server, controllers,
              scheduler and, in skiff up, the agent (<data-dir>/skiff.log,
              also written to their terminal)
  agent       only the lines of the agent inside skiff up (from skiff.log)
  node NAME   an agent started by "kubectl skiff nodes add" (<data-dir>/nodes/NAME/agent.log)
  etcd        the embedded etcd's own warnings and errors (<data-dir>/etcd.log)

Logs of pods are kubectl logs'.`,
		Example: `  # the control plane's log, following it
  kubectl skiff logs -f

  # the last 50 lines of node sim-1, then follow
  kubectl skiff logs --component node sim-1 --tail 50 -f

  # embedded etcd's warnings
  kubectl skiff logs --component etcd`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			dir, err := o.dataDir.Resolve(*o.flags.KubeConfig)
			if err != nil {
				return err
			}
			return o.run(ctx, dir, args)
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 || o.component != Node {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			dir, err := o.dataDir.Resolve(*flags.KubeConfig)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			names, _ := nodes.LocalAgents(dir)
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
	o.dataDir.AddFlag(cmd.Flags())
	cmd.Flags().StringVar(&o.component, "component", Server, "server, agent, etcd or node (with the node's NAME)")
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing lines as they are written, until interrupted")
	cmd.Flags().IntVar(&o.tail, "tail", -1, "print only the last N lines (-1: all)")
	_ = cmd.RegisterFlagCompletionFunc("component", cobra.FixedCompletions([]string{Server, Agent, Etcd, Node}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *options) run(ctx context.Context, dir string, args []string) error {
	file, err := o.file(dir, args)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("%s log: %w", o.component, err)
	}
	defer f.Close()
	out, tailFrom := o.streams.Out, f
	if o.component == Agent {
		// skiff up's log holds the server's and the agent's lines; keep
		// the agent's, before --tail counts them. Reading them all leaves
		// f at its end, where --follow goes on.
		lf := &lineFilter{w: out, keep: agentLines}
		defer lf.flush()
		out = lf
		if tailFrom, err = onlyLines(f, agentLines); err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		defer tailFrom.Close()
	}
	if err := printTail(out, tailFrom, o.tail); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if !o.follow {
		return nil
	}
	return follow(ctx, out, file, f, o.poll)
}

// file is the log file of the component asked for.
func (o *options) file(dir string, args []string) (string, error) {
	switch o.component {
	case Node:
		if len(args) != 1 {
			return "", fmt.Errorf("--component node needs the node's NAME%s", o.available(dir))
		}
		p := nodes.AgentLog(dir, args[0])
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("node %s has no log at %s: only agents started by kubectl skiff nodes add keep one%s", args[0], p, o.available(dir))
		}
		return p, nil
	case Etcd:
		if len(args) > 0 {
			return "", fmt.Errorf("--component etcd takes no NAME")
		}
		p := filepath.Join(dir, etcdLog)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("no etcd log at %s (the server uses an external etcd, or %s is not its data directory: set --data-dir)", p, dir)
		}
		return p, nil
	case Server, Agent:
		if len(args) > 0 {
			return "", fmt.Errorf("--component %s takes no NAME (node agents are --component node NAME)", o.component)
		}
		p := filepath.Join(dir, datadir.ServerLogFile)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w for the %s at %s: skiff up and skiff server keep it in their --data-dir (is %s theirs? set --data-dir)%s",
				ErrNoLogFile, o.component, p, dir, o.available(dir))
		}
		return p, nil
	}
	return "", fmt.Errorf("unknown --component %q: server, agent, etcd or node", o.component)
}

// available lists the logs kept under dir, for error messages.
func (o *options) available(dir string) string {
	var have []string
	if _, err := os.Stat(filepath.Join(dir, datadir.ServerLogFile)); err == nil {
		have = append(have, "--component server")
	}
	if _, err := os.Stat(filepath.Join(dir, etcdLog)); err == nil {
		have = append(have, "--component etcd")
	}
	names, _ := nodes.LocalAgents(dir)
	for _, n := range names {
		if _, err := os.Stat(nodes.AgentLog(dir, n)); err == nil {
			have = append(have, "--component node "+n)
		}
	}
	if len(have) == 0 {
		return fmt.Sprintf(" (no log files under %s)", dir)
	}
	return fmt.Sprintf("; logs under %s: %s", dir, strings.Join(have, ", "))
}

// printTail copies the last n lines of f (all when n < 0) and leaves f at
// its end.
func printTail(w io.Writer, f *os.File, n int) error {
	if n < 0 {
		_, err := io.Copy(w, f)
		return err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if n > 0 {
		// Read backwards in blocks until the newline before the first
		// kept line is in the buffer (a last line without its newline
		// counts as a line).
		const block = 64 << 10
		var buf []byte
		pos := size
		for pos > 0 {
			step := min(int64(block), pos)
			pos -= step
			chunk := make([]byte, step)
			if _, err := f.ReadAt(chunk, pos); err != nil {
				return err
			}
			buf = append(chunk, buf...)
			if bytes.Count(bytes.TrimSuffix(buf, []byte("\n")), []byte("\n")) >= n {
				break
			}
		}
		start := len(bytes.TrimSuffix(buf, []byte("\n")))
		for i := 0; i < n && start >= 0; i++ {
			start = bytes.LastIndexByte(buf[:start], '\n')
		}
		if _, err := w.Write(buf[start+1:]); err != nil {
			return err
		}
	}
	_, err = f.Seek(size, io.SeekStart)
	return err
}

// follow copies what is appended to the file until ctx ends. A file that
// shrinks (truncated) is read again from its start; one replaced by a new
// file at the same path is reopened.
func follow(ctx context.Context, w io.Writer, path string, f *os.File, poll time.Duration) error {
	opened := f
	defer func() {
		if f != opened {
			f.Close() // the caller closes the file it gave
		}
	}()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := f.Stat()
		if err != nil {
			return err
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		if onDisk, err := os.Stat(path); err == nil && !os.SameFile(cur, onDisk) {
			nf, err := os.Open(path)
			if err != nil {
				return err
			}
			// What the old file still had is read before switching.
			if _, err := io.Copy(w, f); err != nil {
				nf.Close()
				return err
			}
			if f != opened {
				f.Close()
			}
			f = nf
			continue
		}
		if cur.Size() < off {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
		}
	}
}

// onlyLines copies the lines of f that contain keep into a temporary
// file (removed once opened) positioned at its start, so --tail counts
// only those; f itself stays open for --follow.
func onlyLines(f *os.File, keep string) (*os.File, error) {
	tmp, err := os.CreateTemp("", "skiff-logs-*")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(tmp.Name())
	lf := &lineFilter{w: tmp, keep: keep}
	if _, err := io.Copy(lf, f); err != nil {
		tmp.Close()
		return nil, err
	}
	lf.flush()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return nil, err
	}
	return tmp, nil
}

// lineFilter passes on the whole lines that contain keep; a partial line
// waits for its end.
type lineFilter struct {
	w       io.Writer
	keep    string
	partial []byte
}

func (l *lineFilter) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := l.partial[:i+1]
		if bytes.Contains(line, []byte(l.keep)) {
			if _, err := l.w.Write(line); err != nil {
				return 0, err
			}
		}
		l.partial = l.partial[i+1:]
	}
}

// flush passes on a last line without a newline.
func (l *lineFilter) flush() {
	if len(l.partial) > 0 && bytes.Contains(l.partial, []byte(l.keep)) {
		_, _ = l.w.Write(l.partial)
	}
	l.partial = nil
}
