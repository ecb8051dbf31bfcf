package nodes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/plugin/datadir"
)

type addOptions struct {
	streams  genericiooptions.IOStreams
	flags    *genericclioptions.ConfigFlags
	dataDir  datadir.Flag
	count    int
	prefix   string
	skiffBin string
	server   string
	wait     bool
	timeout  time.Duration
}

// reservedAgentFlags are set by add itself; passing them after -- would
// make the agent disagree with the pid file and the node name.
var reservedAgentFlags = []string{"--server", "--token-file", "--node-name", "--data-dir"}

func newAddCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &addOptions{streams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:   "add [--count N] [-- AGENT-FLAGS...]",
		Short: "Start node agents on this host that join the cluster",
		Long: `Start node agents on this host, as background processes of ` + "`skiff agent`" + `,
joining the server of the current kubeconfig with the node token from the
data directory (<data-dir>/node-token). Each agent logs to
<data-dir>/nodes/<name>/agent.log and keeps its pid in agent.pid, so that
` + "`kubectl skiff nodes remove`" + ` can stop it. Flags after -- are passed to
` + "`skiff agent`" + ` (see skiff agent --help).`,
		Example: `  # two more nodes running pods on the local Docker engine
  kubectl skiff nodes add --count 2

  # simulated nodes (no containers), with more capacity
  kubectl skiff nodes add --count 3 --name-prefix sim -- --runtime fake --pods 200

  # a server whose data directory is elsewhere
  kubectl skiff nodes add --data-dir /srv/skiff`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if (dash < 0 && len(args) > 0) || dash > 0 {
				return fmt.Errorf("unexpected arguments %q: agent flags go after --", args)
			}
			var agentArgs []string
			if dash >= 0 {
				agentArgs = args[dash:]
			}
			return o.run(cmd.Context(), agentArgs)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.count, "count", 1, "how many agents to start")
	fl.StringVar(&o.prefix, "name-prefix", "skiff-node", "node names are <prefix>-<n>, with n the lowest numbers free")
	fl.StringVar(&o.skiffBin, "skiff-bin", "", "the skiff binary (default: next to kubectl-skiff, else skiff on PATH)")
	fl.StringVar(&o.server, "server-url", "", "URL the agents join (default: the kubeconfig's server)")
	fl.BoolVar(&o.wait, "wait", true, "wait until the new nodes are Ready")
	fl.DurationVar(&o.timeout, "timeout", 2*time.Minute, "with --wait, how long to wait")
	o.dataDir.AddFlag(fl)
	return cmd
}

func (o *addOptions) run(ctx context.Context, agentArgs []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.count < 1 {
		return fmt.Errorf("--count must be at least 1, got %d", o.count)
	}
	for _, a := range agentArgs {
		for _, r := range reservedAgentFlags {
			if a == r || strings.HasPrefix(a, r+"=") {
				return fmt.Errorf("agent flag %s is set by nodes add; use --server-url, --data-dir or --name-prefix", r)
			}
		}
	}
	bin, err := findSkiff(o.skiffBin)
	if err != nil {
		return err
	}
	dir, err := o.dataDir.Resolve(*o.flags.KubeConfig)
	if err != nil {
		return err
	}
	token := filepath.Join(dir, "node-token")
	if _, err := os.Stat(token); err != nil {
		return fmt.Errorf("node token: %w (is %s the server's data directory? set --data-dir or $%s)", err, dir, datadir.Env)
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("client configuration: %w", err)
	}
	server := o.server
	if server == "" {
		server = cfg.Host
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("clientset: %w", err)
	}
	local := localAgents{dir: dir}
	names, err := freeNames(ctx, cs, local, o.prefix, o.count)
	if err != nil {
		return err
	}
	for _, name := range names {
		pid, err := startAgent(bin, local, name, server, token, agentArgs)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.streams.Out, "► node %s started (pid %d, log %s)\n", name, pid, local.logFile(name))
	}
	if !o.wait {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	for _, name := range names {
		if err := waitReady(ctx, cs, local, name); err != nil {
			return err
		}
		fmt.Fprintf(o.streams.Out, "✔ node %s Ready\n", name)
	}
	return nil
}

// findSkiff picks the skiff binary: the flag, the one beside this
// executable (make build puts both in bin/), or PATH's.
func findSkiff(flag string) (string, error) {
	if flag != "" {
		if _, err := os.Stat(flag); err != nil {
			return "", fmt.Errorf("--skiff-bin: %w", err)
		}
		return flag, nil
	}
	if self, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		p := filepath.Join(filepath.Dir(self), "skiff")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath("skiff")
	if err != nil {
		return "", errors.New("skiff binary not found next to kubectl-skiff nor on PATH; pass --skiff-bin")
	}
	return p, nil
}

// freeNames picks count names <prefix>-<n> that are neither a Node nor a
// local agent directory, lowest n first.
func freeNames(ctx context.Context, cs kubernetes.Interface, local localAgents, prefix string, count int) ([]string, error) {
	nl, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	taken := map[string]bool{}
	for _, n := range nl.Items {
		taken[n.Name] = true
	}
	var out []string
	for i := 1; len(out) < count; i++ {
		name := prefix + "-" + strconv.Itoa(i)
		if taken[name] {
			continue
		}
		if _, err := os.Stat(local.pidFile(name)); err == nil {
			continue
		}
		out = append(out, name)
	}
	return out, nil
}

// startAgent starts one agent in its own session, so it outlives this
// command and a Ctrl-C in its terminal, and records its pid.
func startAgent(bin string, local localAgents, name, server, token string, extra []string) (int, error) {
	if err := os.MkdirAll(local.dataDir(name), 0o700); err != nil {
		return 0, fmt.Errorf("node %s: %w", name, err)
	}
	logf, err := os.OpenFile(local.logFile(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("node %s: %w", name, err)
	}
	defer logf.Close()
	args := append([]string{"agent", "--server", server, "--token-file", token, "--node-name", name,
		"--data-dir", local.dataDir(name)}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start agent %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(local.pidFile(name), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return 0, fmt.Errorf("node %s: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		_ = os.Remove(local.pidFile(name))
		return 0, fmt.Errorf("agent %s exited at once (%v):\n%s", name, err, tailFile(local.logFile(name), 2000))
	case <-time.After(300 * time.Millisecond):
	}
	return pid, nil
}

// waitReady polls the Node until it is Ready, failing early if its agent
// exits.
func waitReady(ctx context.Context, cs kubernetes.Interface, local localAgents, name string) error {
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		} else if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			return fmt.Errorf("get node %s: %w", name, err)
		}
		if _, ok := local.running(name); !ok {
			return fmt.Errorf("agent %s exited before its node was Ready:\n%s", name, tailFile(local.logFile(name), 2000))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready in time (log %s): %w", name, local.logFile(name), ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
