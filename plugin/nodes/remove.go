package nodes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/plugin/datadir"
)

type removeOptions struct {
	streams genericiooptions.IOStreams
	flags   *genericclioptions.ConfigFlags
	dataDir datadir.Flag
	all     bool
	grace   time.Duration
}

func newRemoveCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &removeOptions{streams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:     "remove NAME... | --all",
		Aliases: []string{"rm"},
		Short:   "Stop node agents started by nodes add and delete their nodes",
		Example: `  kubectl skiff nodes remove skiff-node-2
  # every agent nodes add started from this data directory
  kubectl skiff nodes remove --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.all == (len(args) > 0) {
				return errors.New("name the nodes to remove, or pass --all")
			}
			dir, err := o.dataDir.Resolve(*o.flags.KubeConfig)
			if err != nil {
				return err
			}
			cs, err := clientset(o.flags)
			if err != nil {
				return err
			}
			local := localAgents{dir: dir}
			if o.all {
				if args, err = local.names(); err != nil {
					return err
				}
				if len(args) == 0 {
					fmt.Fprintf(o.streams.Out, "no agents started by nodes add in %s\n", dir)
					return nil
				}
			}
			return o.run(cmd.Context(), cs, local, args)
		},
		ValidArgsFunction: func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			dir, err := o.dataDir.Resolve(*flags.KubeConfig)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			names, _ := localAgents{dir: dir}.names()
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.Flags().BoolVar(&o.all, "all", false, "remove every agent nodes add started")
	cmd.Flags().DurationVar(&o.grace, "grace-period", 10*time.Second, "how long an agent may take to stop after SIGTERM before SIGKILL")
	o.dataDir.AddFlag(cmd.Flags())
	return cmd
}

func (o *removeOptions) run(ctx context.Context, cs kubernetes.Interface, local localAgents, names []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// Check every name first, so a typo removes nothing.
	for _, name := range names {
		if _, err := local.pid(name); err != nil {
			return err
		}
	}
	for _, name := range names {
		if pid, ok := local.running(name); ok {
			if err := stop(pid, name, o.grace); err != nil {
				return err
			}
		}
		err := cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete node %s: %w", name, err)
		}
		// The log stays for a post-mortem; the pid file and the agent's
		// data go.
		if err := os.RemoveAll(local.dataDir(name)); err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		if err := os.Remove(local.pidFile(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("node %s: %w", name, err)
		}
		fmt.Fprintf(o.streams.Out, "► node %s removed (log kept in %s)\n", name, local.logFile(name))
	}
	return nil
}
