package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// newPauseCommand is what a pod's sandbox container runs: it holds the
// pod's namespaces open and does nothing else until it is told to stop.
// The node agent builds the sandbox image from this very binary, so no
// registry is ever needed.
func newPauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "pause",
		Short:  "Hold a pod's namespaces (the sandbox container's process)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			stop := make(chan os.Signal, 1)
			signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
			// A pod holds one pause process for its whole life: give back
			// the start-up pages of this large binary.
			releaseStartupPages()
			// As PID 1 of its container (or of the pod, with a shared PID
			// namespace) it inherits orphans; reap them.
			child := make(chan os.Signal, 16)
			signal.Notify(child, syscall.SIGCHLD)
			for {
				select {
				case <-stop:
					return nil
				case <-child:
					for {
						var ws syscall.WaitStatus
						if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
							break
						}
					}
				}
			}
		},
	}
}
