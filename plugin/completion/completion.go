package completion

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCommand returns the completion command.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for kubectl-skiff",
		Long: `Print the shell completion script for the kubectl-skiff binary.

With kubectl 1.26 or later, ` + "`kubectl skiff <TAB>`" + ` completes without it, as long as
kubectl_complete-skiff (built beside kubectl-skiff) is on PATH.`,
		Example: `  # bash, this shell only
  source <(kubectl skiff completion bash)

  # zsh, for every new shell
  kubectl skiff completion zsh > "${fpath[1]}/_kubectl-skiff"

  # fish
  kubectl skiff completion fish > ~/.config/fish/completions/kubectl-skiff.fish`,
		ValidArgs: []cobra.Completion{"bash", "zsh", "fish"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(streams.Out, true)
			case "zsh":
				return root.GenZshCompletion(streams.Out)
			case "fish":
				return root.GenFishCompletion(streams.Out, true)
			}
			return fmt.Errorf("unsupported shell %q: want bash, zsh or fish", args[0])
		},
	}
	return cmd
}
