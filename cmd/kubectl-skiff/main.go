// Command kubectl-skiff is the `kubectl skiff` plugin.
package main

import (
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/plugin"
)

// Set at build time with -ldflags "-X main.skiffVersion=…".
var skiffVersion = "0.1.0"

func main() {
	root := plugin.NewRootCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, skiffVersion)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
