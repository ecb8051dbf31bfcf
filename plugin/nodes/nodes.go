package nodes

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCommand returns `nodes` with its list, add and remove subcommands.
func NewCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List nodes, and add or remove node agents on this host",
		Example: `  kubectl skiff nodes list
  kubectl skiff nodes add --count 2
  kubectl skiff nodes remove skiff-node-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newListCommand(streams, flags), newAddCommand(streams, flags), newRemoveCommand(streams, flags))
	return cmd
}
