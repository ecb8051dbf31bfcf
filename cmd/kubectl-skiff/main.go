// Command kubectl-skiff is the `kubectl skiff` plugin.
package main

import (
	"errors"
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
		// A command may choose its exit status (diff: 1 means "there are
		// differences", as kubectl diff) and has then printed what it
		// had to say when the message is empty.
		var coded interface{ ExitStatus() int }
		code := 1
		if errors.As(err, &coded) {
			code = coded.ExitStatus()
		}
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "error:", msg)
		}
		os.Exit(code)
	}
}
