package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// NewCommand returns `kubectl skiff remote` with add and remove.
func NewCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remote",
		Short: "Deploy a git repository by pushing it to Skiff's built-in git remote",
		Long: `Skiff's API server is also a git remote: a push to
https://<server>/git/<namespace>/<name>.git is applied by a GitRepository
and a Kustomization named <name>. "remote add" makes those objects, adds
the git remote to this repository and configures git to authenticate
with the kubeconfig's token; "remote remove" undoes it.`,
		Example: `  kubectl skiff remote add shop
  git push skiff main
  kubectl skiff remote remove shop`,
	}
	cmd.AddCommand(newAddCommand(streams, flags), newRemoveCommand(streams, flags))
	return cmd
}

// common are the flags and clients both subcommands use.
type common struct {
	streams genericiooptions.IOStreams
	flags   *genericclioptions.ConfigFlags
	remote  string
	dir     string
	gitBin  string
}

func (c *common) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.remote, "remote", "skiff", "name of the git remote")
	cmd.Flags().StringVar(&c.dir, "dir", ".", "the git work tree")
}

// clients holds what one run talks to.
type clients struct {
	cfg  *rest.Config
	core kubernetes.Interface
	dyn  dynamic.Interface
	ns   string
}

func (c *common) clients() (*clients, error) {
	cfg, err := c.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("client configuration: %w", err)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ns, _, err := c.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	return &clients{cfg: cfg, core: core, dyn: dyn, ns: ns}, nil
}

// caFile is where remote add keeps the server's CA for git.
func caFile(gitDir, remote string) string {
	return filepath.Join(gitDir, "skiff", remote+"-ca.crt")
}

// systemTrusts reports whether the system's roots verify the server's
// certificate, so git needs no CA of its own. Unreachable: false.
func systemTrusts(ctx context.Context, host string) bool {
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "https" {
		return true // plain http needs no CA
	}
	hostname, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{ServerName: hostname, MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(hostname, port))
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// removeIfExists deletes a file, ignoring that it is gone.
func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
