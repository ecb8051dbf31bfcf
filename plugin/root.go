package plugin

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/plugin/version"
)

// NewRootCommand returns `kubectl skiff` with every subcommand.
func NewRootCommand(streams genericiooptions.IOStreams, clientVersion string) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:           "kubectl skiff",
		Short:         "Manage a Skiff cluster and its GitOps sources",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	flags.AddFlags(root.PersistentFlags())
	root.AddCommand(version.NewCommand(streams, flags, clientVersion))
	return root
}
