// Package version is `kubectl skiff version`: the plugin's version and the
// server's, as the server reports it at /version.
package version

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
)

type options struct {
	streams    genericiooptions.IOStreams
	flags      *genericclioptions.ConfigFlags
	client     string
	output     string
	clientOnly bool
}

// NewCommand returns the version command.
func NewCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, clientVersion string) *cobra.Command {
	o := &options{streams: streams, flags: flags, client: clientVersion}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin and server versions",
		Example: `  kubectl skiff version
  kubectl skiff version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run() },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: json, or empty for text")
	cmd.Flags().BoolVar(&o.clientOnly, "client", false, "print only the plugin version (no server needed)")
	return cmd
}

func (o *options) run() error {
	out := struct {
		Client string `json:"clientVersion"`
		Server string `json:"serverVersion,omitempty"`
	}{Client: o.client}
	var serverErr error
	if !o.clientOnly {
		cfg, err := o.flags.ToRESTConfig()
		if err == nil {
			var dc *discovery.DiscoveryClient
			if dc, err = discovery.NewDiscoveryClientForConfig(cfg); err == nil {
				var v fmt.Stringer
				if info, verr := dc.ServerVersion(); verr == nil {
					v = info
				} else {
					err = verr
				}
				if v != nil {
					out.Server = v.String()
				}
			}
		}
		serverErr = err
	}
	switch o.output {
	case "json":
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(o.streams.Out, string(b))
	case "":
		fmt.Fprintf(o.streams.Out, "Client Version: %s\n", out.Client)
		if out.Server != "" {
			fmt.Fprintf(o.streams.Out, "Server Version: %s\n", out.Server)
		}
	default:
		return fmt.Errorf("--output must be json or empty, not %q", o.output)
	}
	if serverErr != nil {
		return fmt.Errorf("server version: %w", serverErr)
	}
	return nil
}
