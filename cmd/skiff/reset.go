package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// resetMarkers are files only a Skiff data directory holds; reset refuses
// to remove a directory without one, so a typo cannot delete unrelated data.
var resetMarkers = []string{"tls/ca.crt", "node-token", "etcd"}

func newResetCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Remove everything Skiff created under a data directory",
		Long: `Remove everything Skiff created for the cluster whose data lives in --data-dir:
the etcd data, certificates, tokens and kubeconfig. Stop Skiff first.`,
		Example: `  skiff reset --data-dir ~/.skiff`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(cmd.OutOrStdout(), "nothing to remove: %s does not exist\n", abs)
				return nil
			}
			ours := false
			for _, m := range resetMarkers {
				if _, err := os.Stat(filepath.Join(abs, m)); err == nil {
					ours = true
				}
			}
			if !ours {
				return fmt.Errorf("%s does not look like a Skiff data directory (none of %v in it); not removing it", abs, resetMarkers)
			}
			if err := os.RemoveAll(abs); err != nil {
				return fmt.Errorf("remove %s: %w", abs, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", abs)
			return nil
		},
	}
	home, _ := os.UserHomeDir()
	cmd.Flags().StringVar(&dataDir, "data-dir", filepath.Join(home, ".skiff"), "the data directory of the cluster to remove")
	return cmd
}
