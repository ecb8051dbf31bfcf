package completion

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_kubectl-skiff",
		"zsh":  "#compdef kubectl-skiff",
		"fish": "complete -c kubectl-skiff",
	} {
		var out bytes.Buffer
		root := &cobra.Command{Use: "kubectl-skiff"}
		root.AddCommand(NewCommand(genericiooptions.IOStreams{Out: &out}))
		root.SetArgs([]string{"completion", shell})
		if err := root.Execute(); err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("%s script lacks %q:\n%.200s", shell, want, out.String())
		}
	}
	root := &cobra.Command{Use: "kubectl-skiff", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(NewCommand(genericiooptions.NewTestIOStreamsDiscard()))
	root.SetArgs([]string{"completion", "powershell"})
	if err := root.Execute(); err == nil {
		t.Error("completion powershell succeeded")
	}
}
