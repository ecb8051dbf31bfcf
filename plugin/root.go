package plugin

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/plugin/completion"
	"github.com/skiff-dev/skiff/plugin/diff"
	"github.com/skiff-dev/skiff/plugin/kubeconfig"
	"github.com/skiff-dev/skiff/plugin/logs"
	"github.com/skiff-dev/skiff/plugin/nodes"
	"github.com/skiff-dev/skiff/plugin/remote"
	"github.com/skiff-dev/skiff/plugin/sources"
	"github.com/skiff-dev/skiff/plugin/status"
	"github.com/skiff-dev/skiff/plugin/suspend"
	"github.com/skiff-dev/skiff/plugin/sync"
	"github.com/skiff-dev/skiff/plugin/version"
)

// NewRootCommand returns `kubectl skiff` with every subcommand.
func NewRootCommand(streams genericiooptions.IOStreams, clientVersion string) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		// The binary's name, so that generated completion scripts and
		// kubectl_complete-skiff agree on it; help shows how it is typed.
		Use:   "kubectl-skiff",
		Short: "Manage a Skiff cluster and its GitOps sources",
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl skiff",
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Our completion command has examples and kubectl's naming; cobra's
	// default one would be a second, different one.
	root.CompletionOptions.DisableDefaultCmd = true
	flags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		version.NewCommand(streams, flags, clientVersion),
		status.NewCommand(streams, flags),
		nodes.NewCommand(streams, flags),
		sources.NewCommand(streams, flags),
		suspend.NewSuspendCommand(streams, flags),
		suspend.NewResumeCommand(streams, flags),
		sync.NewCommand(streams, flags),
		diff.NewCommand(streams, flags),
		remote.NewCommand(streams, flags),
		remote.NewCredentialHelperCommand(streams, flags),
		logs.NewCommand(streams, flags),
		kubeconfig.NewCommand(streams, flags),
		completion.NewCommand(streams),
	)
	return root
}
