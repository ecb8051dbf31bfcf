package sync

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/output"
)

type options struct {
	streams    genericiooptions.IOStreams
	flags      *genericclioptions.ConfigFlags
	wait       bool
	timeout    time.Duration
	withSource bool
	// tick is how often the progress line is redrawn.
	tick time.Duration
	// terminal rewrites the progress line in place.
	terminal bool
}

// NewCommand returns the sync command.
func NewCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{streams: streams, flags: flags, tick: time.Second}
	cmd := &cobra.Command{
		Use:   "sync NAME",
		Short: "Reconcile a Kustomization and its GitRepository now, and optionally wait for the result",
		Long: `Ask for a reconcile of the Kustomization NAME and of the GitRepository it
reads from, now rather than at the next interval, by setting the
reconcile.fluxcd.io/requestedAt annotation on both.

With --wait, follow both until the Kustomization has handled this request:
exit 0 when it is Ready, exit 1 with the reason when it failed (a build
error names the file and line), or when --timeout passes.`,
		Example: `  # fetch and apply now
  kubectl skiff sync shop

  # and wait for the outcome (exit code 1 on failure)
  kubectl skiff sync shop --wait --timeout 2m

  # apply the revision already fetched, without fetching
  kubectl skiff sync shop --with-source=false --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := fluxapi.FromFlags(o.flags)
			if err != nil {
				return err
			}
			o.terminal = output.IsTerminal(o.streams.ErrOut)
			return o.run(cmd.Context(), c, ns, args[0])
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c, ns, err := fluxapi.FromFlags(flags)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			names, _ := c.Names(ctx, fluxapi.Kustomizations, ns)
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait until the Kustomization is Ready or failed")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "with --wait, how long to wait")
	cmd.Flags().BoolVar(&o.withSource, "with-source", true, "reconcile the GitRepository too (fetch before applying)")
	return cmd
}

// FailedError is returned when the reconcile ended without Ready: the
// object failed or was deleted.
type FailedError struct{ Msg string }

func (e *FailedError) Error() string { return e.Msg }

func failed(format string, args ...any) error { return &FailedError{Msg: fmt.Sprintf(format, args...)} }

func (o *options) run(ctx context.Context, c fluxapi.Client, ns, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ks, err := c.GetKustomization(ctx, ns, name)
	if err != nil {
		return err
	}
	if ks.Spec.Suspend {
		return fmt.Errorf("kustomization %s/%s is suspended: kubectl skiff resume %s", ns, name, name)
	}
	token := fluxapi.NewRequestToken(time.Now())
	ksRef := ref{kind: "kustomization", gvr: fluxapi.Kustomizations, ns: ns, name: name}
	var src *ref
	if o.withSource {
		sr := ks.Spec.SourceRef
		if sr.Kind != "GitRepository" {
			return fmt.Errorf("kustomization %s/%s reads from a %s; only GitRepository sources are supported (use --with-source=false)", ns, name, sr.Kind)
		}
		src = &ref{kind: "gitrepository", gvr: fluxapi.GitRepositories, ns: sr.Namespace, name: sr.Name}
		if src.ns == "" {
			src.ns = ns
		}
	}
	request := func(r ref) error {
		if err := c.RequestReconcile(ctx, r.gvr, r.ns, r.name, token); err != nil {
			return err
		}
		fmt.Fprintf(o.streams.ErrOut, "► reconcile requested for %s\n", r)
		return nil
	}
	if !o.wait {
		if src != nil {
			if err := request(*src); err != nil {
				return err
			}
		}
		return request(ksRef)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	w := &waiter{c: c, token: token, out: o.streams.Out, progress: o.streams.ErrOut,
		terminal: o.terminal, tick: o.tick, start: time.Now(), lastSeen: map[string]string{}}
	// As flux reconcile --with-source does: the source first, and the
	// Kustomization only once the source has fetched, so that it applies
	// the new revision rather than racing the fetch.
	if src != nil {
		if err := request(*src); err != nil {
			return err
		}
		if _, err := w.waitFor(ctx, *src); err != nil {
			return err
		}
	}
	if err := request(ksRef); err != nil {
		return err
	}
	st, err := w.waitFor(ctx, ksRef)
	if err != nil {
		return err
	}
	fmt.Fprintf(w.out, "✔ %s ready after %s: applied revision %s\n", ksRef, time.Since(w.start).Truncate(time.Second), st.revision)
	return nil
}

// ref names one object.
type ref struct {
	kind     string
	gvr      schema.GroupVersionResource
	ns, name string
}

func (r ref) String() string { return r.kind + "/" + r.name }

// progressLine is the line shown while waiting.
func progressLine(what ref, elapsed time.Duration) string {
	return fmt.Sprintf("◎ waiting for %s… (%s)", what, elapsed.Truncate(time.Second))
}
