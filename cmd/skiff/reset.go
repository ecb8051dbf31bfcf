package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-dev/skiff/nodeagent"
	"github.com/skiff-dev/skiff/nodeagent/proxy"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
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
			out := cmd.OutOrStdout()
			if err := removeContainers(cmd.Context(), abs, out); err != nil {
				// Keep the directory: it names the cluster whose
				// containers are still to be removed.
				return err
			}
			if err := os.RemoveAll(abs); err != nil {
				return fmt.Errorf("remove %s: %w", abs, err)
			}
			fmt.Fprintf(out, "removed %s\n", abs)
			return nil
		},
	}
	home, _ := os.UserHomeDir()
	cmd.Flags().StringVar(&dataDir, "data-dir", filepath.Join(home, ".skiff"), "the data directory of the cluster to remove")
	return cmd
}

// removeContainers removes every container of the cluster whose data is
// in dir (the node token names it), then the pod network if no other
// cluster still uses it.
func removeContainers(ctx context.Context, dir string, out io.Writer) error {
	tok, err := os.ReadFile(filepath.Join(dir, "node-token"))
	if errors.Is(err, os.ErrNotExist) {
		return nil // never got as far as running pods
	}
	if err != nil {
		return err
	}
	id, err := nodeagent.ClusterIDOfToken(strings.TrimSpace(string(tok)))
	if err != nil {
		return fmt.Errorf("%s/node-token: %w", dir, err)
	}
	rt, err := runtime.NewDocker(runtime.DockerOptions{})
	if err != nil {
		return fmt.Errorf("docker (to remove the cluster's containers): %w", err)
	}
	defer rt.Close()
	cs, err := rt.ListContainers(ctx, map[string]string{runtime.LabelManaged: "true", runtime.LabelCluster: id})
	if err != nil {
		return fmt.Errorf("docker (to remove the cluster's containers): %w", err)
	}
	for _, c := range cs {
		if err := rt.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
		}
	}
	fmt.Fprintf(out, "removed %d containers of cluster %s\n", len(cs), id)
	if err := removeProxyRules(ctx, rt, id, out); err != nil {
		return err
	}
	switch err := rt.RemoveNetwork(ctx, nodeagent.NetworkName); {
	case err == nil:
		fmt.Fprintf(out, "removed network %s\n", nodeagent.NetworkName)
	case errors.Is(err, runtime.ErrNotFound):
	default:
		fmt.Fprintf(out, "kept network %s: %v\n", nodeagent.NetworkName, err)
	}
	return nil
}

// removeProxyRules removes the Service proxy's iptables rules of every
// node of the cluster (their chain names carry the cluster's identity, so
// nodes without pods are found too, and other clusters' rules stay). The
// ClusterIPs the userspace mode put on the loopback device carry no
// owner: they go only when no other Skiff cluster has containers left.
func removeProxyRules(ctx context.Context, rt *runtime.Docker, clusterID string, out io.Writer) error {
	if err := proxy.CleanupCluster(clusterID); err != nil {
		return err
	}
	others, err := rt.ListContainers(ctx, map[string]string{runtime.LabelManaged: "true"})
	if err != nil {
		return fmt.Errorf("docker (to find other clusters): %w", err)
	}
	if len(others) == 0 {
		if err := proxy.CleanupAll(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "removed the Service proxy rules")
	return nil
}
