package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newUpCommand(logLevel *string) *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a whole Skiff cluster in this process and print how to use it",
		Long: `Start a whole Skiff cluster in this process, with its data under --data-dir.

Today this starts the control plane (embedded etcd and the API server). The
node agent that runs pods on the local Docker engine joins it as soon as it
is built into skiff; until then pods are stored and scheduled but not run.`,
		Example: `  skiff up --data-dir ~/.skiff
  export KUBECONFIG=~/.skiff/kubeconfig
  kubectl get ns`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			errOut := cmd.ErrOrStderr()
			o := f.options()
			o.Logger = newLogger(*logLevel, errOut)
			fmt.Fprintf(errOut, "• starting the control plane in %s …\n", f.dataDir)
			cp, err := startControlPlane(cmd.Context(), o, o.Logger)
			if err != nil {
				return err
			}
			fmt.Fprintf(errOut, "✓ control plane ready at %s (%s)\n", cp.api.URL, time.Since(start).Round(time.Millisecond))
			fmt.Fprintf(errOut, "\nTry:\n  export KUBECONFIG=%s\n  kubectl get namespaces\n  kubectl create deployment web --image=busybox:local -- httpd -f -p 8080\n\nStop with Ctrl-C; the data stays in %s.\n", cp.api.KubeconfigPath, f.dataDir)
			return cp.Wait()
		},
	}
	f.register(cmd)
	return cmd
}
