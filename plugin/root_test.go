package plugin

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestEveryCommandHasExamples(t *testing.T) {
	root := NewRootCommand(genericiooptions.NewTestIOStreamsDiscard(), "test")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			if strings.TrimSpace(sub.Example) == "" {
				t.Errorf("%s has no examples in --help", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
}

func TestKubectlFlags(t *testing.T) {
	root := NewRootCommand(genericiooptions.NewTestIOStreamsDiscard(), "test")
	for _, f := range []string{"kubeconfig", "context", "namespace", "as", "as-group", "server", "token", "request-timeout"} {
		if root.PersistentFlags().Lookup(f) == nil {
			t.Errorf("no --%s", f)
		}
	}
	if root.PersistentFlags().ShorthandLookup("n") == nil {
		t.Error("no -n")
	}
}

func TestHelpShowsKubectlSpelling(t *testing.T) {
	var out bytes.Buffer
	root := NewRootCommand(genericiooptions.IOStreams{Out: &out, ErrOut: &out}, "test")
	root.SetOut(&out)
	root.SetArgs([]string{"status", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kubectl skiff status [flags]") {
		t.Errorf("help:\n%s", out.String())
	}
}

func TestCompleteSubcommands(t *testing.T) {
	var out bytes.Buffer
	root := NewRootCommand(genericiooptions.IOStreams{Out: &out, ErrOut: &out}, "test")
	root.SetOut(&out)
	root.SetArgs([]string{cobra.ShellCompRequestCmd, "no"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "nodes\t") {
		t.Errorf("completing %q: %q", "no", out.String())
	}
}
