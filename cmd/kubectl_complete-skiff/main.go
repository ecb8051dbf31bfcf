// Command kubectl_complete-skiff completes `kubectl skiff` command lines
// for kubectl 1.26 and later, which run kubectl_complete-<plugin> with
// the words typed after the plugin's name; it answers with the plugin's
// own command tree (cobra's hidden __complete command).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/plugin"
)

// Set at build time with -ldflags "-X main.skiffVersion=…".
var skiffVersion = "0.1.0"

func main() {
	root := plugin.NewRootCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, skiffVersion)
	root.SetArgs(append([]string{cobra.ShellCompRequestCmd}, os.Args[1:]...))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
