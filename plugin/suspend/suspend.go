package suspend

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/plugin/fluxapi"
)

type options struct {
	streams genericiooptions.IOStreams
	flags   *genericclioptions.ConfigFlags
	source  bool
	suspend bool
}

// NewSuspendCommand returns the suspend command.
func NewSuspendCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	return newCommand(streams, flags, true)
}

// NewResumeCommand returns the resume command.
func NewResumeCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	return newCommand(streams, flags, false)
}

func newCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, suspend bool) *cobra.Command {
	o := &options{streams: streams, flags: flags, suspend: suspend}
	verb, short, example := "suspend", "Stop reconciling a Kustomization (and, with --source, its GitRepository)",
		`  # stop applying git to the cluster for kustomization shop
  kubectl skiff suspend shop

  # the same, spelled as flux does, and its GitRepository too
  kubectl skiff suspend kustomization shop --source

  # only the GitRepository: no more fetches
  kubectl skiff suspend gitrepository shop -n team-a`
	if !suspend {
		verb, short, example = "resume", "Resume reconciling a Kustomization (and, with --source, its GitRepository) now",
			`  kubectl skiff resume shop
  kubectl skiff resume kustomization shop --source
  kubectl skiff resume gitrepository shop -n team-a`
	}
	cmd := &cobra.Command{
		Use:     verb + " [kustomization|gitrepository] NAME",
		Short:   short,
		Example: example,
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			gvr, name, err := parseArgs(args)
			if err != nil {
				return err
			}
			c, ns, err := fluxapi.FromFlags(o.flags)
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), c, ns, gvr, name, time.Now())
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return completeNames(cmd.Context(), flags, args)
		},
	}
	cmd.Flags().BoolVar(&o.source, "source", false, verb+" the GitRepository the Kustomization reads from too")
	return cmd
}

// parseArgs reads [KIND] NAME; KIND takes the names and short names
// kubectl and flux accept.
func parseArgs(args []string) (schema.GroupVersionResource, string, error) {
	if len(args) == 1 {
		return fluxapi.Kustomizations, args[0], nil
	}
	gvr, err := kindOf(args[0])
	return gvr, args[1], err
}

func kindOf(s string) (schema.GroupVersionResource, error) {
	switch strings.ToLower(s) {
	case "kustomization", "kustomizations", "ks":
		return fluxapi.Kustomizations, nil
	case "gitrepository", "gitrepositories", "gitrepo", "gitrepos", "source", "git":
		return fluxapi.GitRepositories, nil
	}
	return schema.GroupVersionResource{}, fmt.Errorf("unsupported kind %q: want kustomization (ks) or gitrepository (gitrepo)", s)
}

func kindName(gvr schema.GroupVersionResource) string {
	if gvr == fluxapi.GitRepositories {
		return "gitrepository"
	}
	return "kustomization"
}

func (o *options) run(ctx context.Context, c fluxapi.Client, ns string, gvr schema.GroupVersionResource, name string, now time.Time) error {
	if ctx == nil {
		ctx = context.Background()
	}
	targets := []target{{gvr, ns, name}}
	if o.source {
		if gvr != fluxapi.Kustomizations {
			return fmt.Errorf("--source applies to a kustomization, not a %s", kindName(gvr))
		}
		ks, err := c.GetKustomization(ctx, ns, name)
		if err != nil {
			return err
		}
		ref := ks.Spec.SourceRef
		if ref.Kind != "GitRepository" {
			return fmt.Errorf("kustomization %s/%s reads from a %s; only GitRepository sources are supported", ns, name, ref.Kind)
		}
		srcNS := ref.Namespace
		if srcNS == "" {
			srcNS = ns
		}
		// The source first on suspend (nothing new is fetched for the
		// Kustomization to apply), last on resume (the Kustomization is
		// ready to apply what the source fetches).
		src := target{fluxapi.GitRepositories, srcNS, ref.Name}
		if o.suspend {
			targets = []target{src, targets[0]}
		} else {
			targets = append(targets, src)
		}
	}
	for _, t := range targets {
		if err := o.apply(ctx, c, t, now); err != nil {
			return err
		}
	}
	return nil
}

type target struct {
	gvr      schema.GroupVersionResource
	ns, name string
}

func (o *options) apply(ctx context.Context, c fluxapi.Client, t target, now time.Time) error {
	if err := c.SetSuspend(ctx, t.gvr, t.ns, t.name, o.suspend); err != nil {
		return err
	}
	if o.suspend {
		report(o.streams.Out, "suspended", t)
		return nil
	}
	if err := c.RequestReconcile(ctx, t.gvr, t.ns, t.name, fluxapi.NewRequestToken(now)); err != nil {
		return err
	}
	report(o.streams.Out, "resumed", t)
	return nil
}

func report(w io.Writer, what string, t target) {
	fmt.Fprintf(w, "► %s/%s %s (namespace %s)\n", kindName(t.gvr), t.name, what, t.ns)
}

// completeNames offers Kustomization names, or kinds then names.
func completeNames(ctx context.Context, flags *genericclioptions.ConfigFlags, args []string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if ctx == nil {
		ctx = context.Background()
	}
	gvr := fluxapi.Kustomizations
	switch len(args) {
	case 0:
	case 1:
		g, err := kindOf(args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		gvr = g
	default:
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, ns, err := fluxapi.FromFlags(flags)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names, err := c.Names(ctx, gvr, ns)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if len(args) == 0 {
		names = append(names, "kustomization", "gitrepository")
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
