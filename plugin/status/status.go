package status

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/output"
)

type options struct {
	streams genericiooptions.IOStreams
	flags   *genericclioptions.ConfigFlags
	output  string
	timeout time.Duration
}

// NewCommand returns the status command.
func NewCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{streams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the health of the control plane, etcd, nodes and GitOps sources",
		Long: `Show the health of the cluster in one screen: the API server's readiness,
etcd (members, leader, database size), the controller manager's and
scheduler's leader leases, every node with its pods against its capacity,
and every GitRepository and Kustomization with its revision and Ready
condition.

Exits 1 when anything is unhealthy: the API server not ready, etcd without
a leader, a stale or missing leader lease, a node not Ready, or a source
(not suspended) whose Ready condition is not True. Colours appear only on
a terminal, and never when NO_COLOR is set.`,
		Example: `  # the whole cluster
  kubectl skiff status

  # in a script: wait until everything is healthy
  until kubectl skiff status >/dev/null; do sleep 1; done

  # machine-readable
  kubectl skiff status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: empty for text, json or yaml")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the API server's answers")
	return cmd
}

func (o *options) run(ctx context.Context) error {
	switch o.output {
	case "", "json", "yaml":
	default:
		return fmt.Errorf("--output must be json, yaml or empty, not %q", o.output)
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("client configuration: %w", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	g, err := newGatherer(cfg)
	if err != nil {
		return err
	}
	r := g.gather(ctx, cfg.Host)
	switch o.output {
	case "json":
		b, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintln(o.streams.Out, string(b))
	case "yaml":
		b, _ := yaml.Marshal(r)
		fmt.Fprint(o.streams.Out, string(b))
	default:
		if err := render(o.streams.Out, r, output.NewPalette(o.streams.Out)); err != nil {
			return err
		}
	}
	if !r.Healthy() {
		return &ErrUnhealthy{Problems: r.Problems}
	}
	return nil
}

func newGatherer(cfg *rest.Config) (*gatherer, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	kube, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("clientset: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return &gatherer{get: httpGetter(hc, cfg.Host), kube: kube, flux: fluxapi.Client{Dynamic: dyn}, now: time.Now()}, nil
}
