package diff

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/plugin/fluxapi"
)

type options struct {
	streams genericiooptions.IOStreams
	flags   *genericclioptions.ConfigFlags
	path    string
	fetch   bool
	context int
}

// NewCommand returns the diff command.
func NewCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{streams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:   "diff NAME",
		Short: "Show what a Kustomization would change in the cluster, field by field",
		Long: `Render the Kustomization NAME as the controller would — from the revision
its GitRepository last fetched, or with --path from a local directory — and
compare every object with the live one through a server-side apply dry run,
so that defaults the server fills in and fields other managers own show no
difference. Objects of the last applied revision that would be pruned are
shown as removed.

The output is a unified diff per object, like kubectl diff. Exit status:
0 when nothing would change, 1 when something would, 2 or more on error
(a build error names the file and line).`,
		Example: `  # what would the last fetched revision change?
  kubectl skiff diff shop

  # what would my working tree change? (--path stands for spec.path)
  kubectl skiff diff shop --path ./deploy

  # fetch the revision from the repository instead of reading the stored artifact
  kubectl skiff diff shop --fetch`,
		Args: func(cmd *cobra.Command, args []string) error {
			return failed(cobra.ExactArgs(1)(cmd, args))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return failed(o.run(cmd.Context(), args[0]))
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			c, ns, err := fluxapi.FromFlags(flags)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			names, _ := c.Names(context.Background(), fluxapi.Kustomizations, ns)
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return failed(err) })
	cmd.Flags().StringVar(&o.path, "path", "", "render this local directory in place of spec.path of the source")
	cmd.Flags().BoolVar(&o.fetch, "fetch", false, "fetch the revision from the repository even when the stored artifact is readable here")
	cmd.Flags().IntVar(&o.context, "context-lines", 3, "lines of context around each change")
	return cmd
}

func (o *options) run(ctx context.Context, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.path != "" && o.fetch {
		return fmt.Errorf("--path and --fetch exclude each other")
	}
	fc, ns, err := fluxapi.FromFlags(o.flags)
	if err != nil {
		return err
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return err
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	mapper, err := o.flags.ToRESTMapper()
	if err != nil {
		return err
	}
	ks, err := fc.GetKustomization(ctx, ns, name)
	if err != nil {
		return err
	}
	var t *tree
	if o.path != "" {
		t, err = localTree(o.path)
	} else {
		t, err = o.sourceTree(ctx, fc, &sourceFetcher{cfg: cfg, core: core, fetch: o.fetch, warn: o.streams.ErrOut}, ks)
	}
	if err != nil {
		return err
	}
	defer t.cleanup()
	c := &comparison{out: o.streams.Out, cluster: apiCluster{dyn: dyn, mapper: mapper}, context: o.context}
	return c.compare(ctx, ks, t)
}
