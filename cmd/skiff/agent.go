package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiff-dev/skiff/nodeagent"
	"github.com/skiff-dev/skiff/nodeagent/proxy"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// agentFlags are the flags of `skiff agent` (and the agent half of `skiff up`).
type agentFlags struct {
	server    string
	tokenFile string
	nodeName  string
	runtime   string
	dataDir   string
	nodeIP    string
	listen    string
	cpu       string
	memory    string
	pods      int
	labels    []string
	// resolvConf is kubelet's --resolv-conf.
	resolvConf string
	// proxyMode is the Service proxy's mode (kube-proxy's --proxy-mode).
	proxyMode string
	// statusFrequency is kubelet's --node-status-update-frequency; the
	// lease is renewed at the same pace.
	statusFrequency time.Duration
}

func (f *agentFlags) register(cmd *cobra.Command, standalone bool) {
	if standalone {
		home, _ := os.UserHomeDir()
		cmd.Flags().StringVar(&f.server, "server", "", "URL of the API server to join, e.g. https://127.0.0.1:6443")
		cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "file holding the node token (the server's <data-dir>/node-token)")
		cmd.Flags().StringVar(&f.dataDir, "data-dir", filepath.Join(home, ".skiff", "agent"), "directory for pod volumes")
	}
	cmd.Flags().StringVar(&f.nodeName, "node-name", "", "name of the node (default: the host name)")
	cmd.Flags().StringVar(&f.runtime, "runtime", "docker", "container runtime: docker, or fake (pods look Running without containers; for scale tests)")
	cmd.Flags().StringVar(&f.nodeIP, "node-ip", "", "address the node reports (default: the host's primary address)")
	cmd.Flags().StringVar(&f.listen, "agent-listen", ":0", "address the agent serves logs and streams on (the API server connects to it)")
	cmd.Flags().StringVar(&f.cpu, "cpu", "", "CPU capacity the node reports (default: the host's)")
	cmd.Flags().StringVar(&f.memory, "memory", "", "memory capacity the node reports (default: the host's)")
	cmd.Flags().IntVar(&f.pods, "pods", 110, "how many pods the node accepts")
	cmd.Flags().StringSliceVar(&f.labels, "node-label", nil, "extra node label key=value (repeatable)")
	cmd.Flags().StringVar(&f.proxyMode, "proxy-mode", "", "Service proxy: iptables, userspace (the agent relays connections; for hosts without iptables), or none; default iptables where it works, else userspace (none with --runtime fake)")
	cmd.Flags().StringVar(&f.resolvConf, "resolv-conf", "/etc/resolv.conf", "resolver configuration of the node: cluster DNS forwards names outside the cluster to its name servers, and pods with dnsPolicy Default get it")
	cmd.Flags().DurationVar(&f.statusFrequency, "node-status-update-frequency", 10*time.Second, "how often the node renews its lease and posts its status; keep it well under the server's --node-monitor-grace-period")
}

func (f *agentFlags) options(log *slog.Logger, version string) (nodeagent.Options, error) {
	o := nodeagent.Options{
		Server: f.server, NodeName: f.nodeName, DataDir: f.dataDir, NodeIP: f.nodeIP, Listen: f.listen,
		Pods: f.pods, Labels: map[string]string{}, Version: version, Logger: log, ResolvConf: f.resolvConf,
		LeaseInterval: f.statusFrequency, StatusInterval: f.statusFrequency,
	}
	if f.statusFrequency <= 0 {
		return o, fmt.Errorf("--node-status-update-frequency must be positive, got %s", f.statusFrequency)
	}
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return o, fmt.Errorf("--token-file: %w", err)
		}
		o.Token = strings.TrimSpace(string(b))
	}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return o, fmt.Errorf("--node-label %q: want key=value", l)
		}
		o.Labels[k] = v
	}
	if f.cpu != "" {
		q, err := resource.ParseQuantity(f.cpu)
		if err != nil {
			return o, fmt.Errorf("--cpu: %w", err)
		}
		o.CPU = &q
	}
	if f.memory != "" {
		q, err := resource.ParseQuantity(f.memory)
		if err != nil {
			return o, fmt.Errorf("--memory: %w", err)
		}
		o.Memory = &q
	}
	switch f.proxyMode {
	case "", proxy.ModeIPTables, proxy.ModeUserspace, nodeagent.ProxyNone:
		o.ProxyMode = f.proxyMode
	default:
		return o, fmt.Errorf("--proxy-mode must be iptables, userspace or none, not %q", f.proxyMode)
	}
	if f.runtime == "fake" && f.proxyMode == "" {
		// Simulated pods have no addresses to send traffic to, and
		// hundreds of simulated nodes must not each program the host.
		o.ProxyMode = nodeagent.ProxyNone
	}
	switch f.runtime {
	case "docker":
		rt, err := runtime.NewDocker(runtime.DockerOptions{Logger: log, NodeName: f.nodeName})
		if err != nil {
			return o, fmt.Errorf("docker: %w", err)
		}
		o.Runtime = rt
	case "fake":
		o.Runtime = runtime.NewFake(runtime.FakeOptions{NodeName: f.nodeName, CIDR: fakeCIDR(f.nodeName)})
	default:
		return o, fmt.Errorf("--runtime must be docker or fake, not %q", f.runtime)
	}
	return o, nil
}

func newAgentCommand(logLevel *string) *cobra.Command {
	f := &agentFlags{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent: join a Skiff server and run the pods scheduled to this node",
		Example: `  skiff agent --server https://127.0.0.1:6443 --token-file ~/.skiff/node-token --node-name n2
  skiff agent --server https://10.0.0.5:6443 --token-file ./node-token --runtime fake --node-name sim-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(*logLevel, cmd.ErrOrStderr())
			if f.server == "" || f.tokenFile == "" {
				return fmt.Errorf("--server and --token-file are required")
			}
			o, err := f.options(log, versionInfo().GitVersion)
			if err != nil {
				return err
			}
			return runAgent(cmd.Context(), o)
		},
	}
	f.register(cmd, true)
	return cmd
}

// fakeCIDR gives each simulated node its own /24 in 100.64.0.0/10, picked
// by a hash of its name, so fake pod IPs of different agent processes do
// not collide (16,384 subnets).
func fakeCIDR(node string) string {
	h := fnv.New32a()
	h.Write([]byte(node))
	n := h.Sum32() % (64 * 256)
	return fmt.Sprintf("100.%d.%d.0/24", 64+n/256, n%256)
}

func runAgent(ctx context.Context, o nodeagent.Options) error {
	a, err := nodeagent.New(ctx, o)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
		releaseStartupPages()
	case err := <-done:
		return err
	}
	return <-done
}
