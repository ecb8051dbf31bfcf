package kubeconfig

import (
	"errors"
	"fmt"

	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/skiff-dev/skiff/plugin/datadir"
)

type options struct {
	streams     genericiooptions.IOStreams
	flags       *genericclioptions.ConfigFlags
	dataDir     datadir.Flag
	dataDirSet  bool
	merge       bool
	contextName string
	setCurrent  bool
}

// NewCommand returns the kubeconfig command.
func NewCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{streams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the cluster's kubeconfig, or merge it into ~/.kube/config as a context",
		Example: `  # print it (from the current context, or ~/.skiff/kubeconfig)
  kubectl skiff kubeconfig > skiff.yaml

  # make it a context of your usual kubeconfig, and switch to it
  kubectl skiff --kubeconfig ~/.skiff/kubeconfig kubeconfig --merge

  # from a server's data directory, under another name, without switching
  kubectl skiff kubeconfig --data-dir /srv/skiff --merge --context-name lab --set-current=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.dataDirSet = cmd.Flags().Changed("data-dir") || os.Getenv(datadir.Env) != ""
			return o.run()
		},
	}
	cmd.Flags().BoolVar(&o.merge, "merge", false, "merge into the kubeconfig kubectl writes to ($KUBECONFIG's first file, else ~/.kube/config) instead of printing")
	cmd.Flags().StringVar(&o.contextName, "context-name", "skiff", "name of the context, cluster and user")
	cmd.Flags().BoolVar(&o.setCurrent, "set-current", true, "with --merge, make it the current context")
	o.dataDir.AddFlag(cmd.Flags())
	return cmd
}

func (o *options) run() error {
	if o.contextName == "" {
		return errors.New("--context-name must not be empty")
	}
	src, err := o.source()
	if err != nil {
		return err
	}
	cfg, err := extract(src, o.contextName)
	if err != nil {
		return err
	}
	if !o.merge {
		b, err := clientcmd.Write(*cfg)
		if err != nil {
			return fmt.Errorf("encode kubeconfig: %w", err)
		}
		_, err = o.streams.Out.Write(b)
		return err
	}
	target := clientcmd.NewDefaultPathOptions().GetDefaultFilename()
	if err := mergeInto(target, cfg, o.contextName, o.setCurrent); err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "► context %q merged into %s", o.contextName, target)
	if o.setCurrent {
		fmt.Fprint(o.streams.Out, " and made current")
	}
	fmt.Fprintln(o.streams.Out)
	return nil
}

// source loads the kubeconfig to export, with the current context set.
func (o *options) source() (*clientcmdapi.Config, error) {
	if !o.dataDirSet {
		raw, err := o.flags.ToRawKubeConfigLoader().RawConfig()
		if err == nil {
			ctx := raw.CurrentContext
			if o.flags.Context != nil && *o.flags.Context != "" {
				ctx = *o.flags.Context
			}
			if _, ok := raw.Contexts[ctx]; ok {
				raw.CurrentContext = ctx
				return &raw, nil
			}
		}
	}
	dir, err := o.dataDir.Resolve(*o.flags.KubeConfig)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "kubeconfig")
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return cfg, nil
}

// extract keeps only the current context's cluster and user, with file
// references inlined, under one name.
func extract(src *clientcmdapi.Config, name string) (*clientcmdapi.Config, error) {
	ctx, ok := src.Contexts[src.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("kubeconfig has no context %q", src.CurrentContext)
	}
	cluster, ok := src.Clusters[ctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("context %q names cluster %q, which the kubeconfig lacks", src.CurrentContext, ctx.Cluster)
	}
	user, ok := src.AuthInfos[ctx.AuthInfo]
	if !ok {
		return nil, fmt.Errorf("context %q names user %q, which the kubeconfig lacks", src.CurrentContext, ctx.AuthInfo)
	}
	out := clientcmdapi.NewConfig()
	out.Clusters[name] = cluster.DeepCopy()
	out.AuthInfos[name] = user.DeepCopy()
	c := ctx.DeepCopy()
	c.Cluster, c.AuthInfo = name, name
	out.Contexts[name] = c
	out.CurrentContext = name
	if err := clientcmdapi.FlattenConfig(out); err != nil {
		return nil, fmt.Errorf("inline certificates: %w", err)
	}
	return out, nil
}

// mergeInto adds (or replaces) name's cluster, user and context in the
// file at path, keeping everything else, and replaces the file at once.
func mergeInto(path string, add *clientcmdapi.Config, name string, setCurrent bool) error {
	cfg, err := clientcmd.LoadFromFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		cfg = clientcmdapi.NewConfig()
	case err != nil:
		return fmt.Errorf("load %s: %w", path, err)
	}
	cfg.Clusters[name] = add.Clusters[name]
	cfg.AuthInfos[name] = add.AuthInfos[name]
	cfg.Contexts[name] = add.Contexts[name]
	if setCurrent || cfg.CurrentContext == "" {
		cfg.CurrentContext = name
	}
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	return writeAtomic(path, b)
}

// writeAtomic replaces path with b so that a reader sees the old file or
// the new one, never a part: kubectl in another terminal may be reading.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if err := writeSync(tmp, b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

func writeSync(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
