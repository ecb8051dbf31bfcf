package main

import (
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-dev/skiff/apiserver"
)

// serverFlags are the flags of `skiff server` (and the server half of `skiff up`).
type serverFlags struct {
	dataDir            string
	listen             string
	etcdEndpoints      []string
	etcdCA             string
	etcdCert           string
	etcdKey            string
	etcdQuotaBytes     int64
	tlsSANs            []string
	compactionInterval time.Duration
	clusterCIDR        string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	home, _ := os.UserHomeDir()
	cmd.Flags().StringVar(&f.dataDir, "data-dir", filepath.Join(home, ".skiff"), "directory for etcd data, certificates, tokens and the kubeconfig")
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:6443", "HTTPS address of the API server")
	cmd.Flags().StringSliceVar(&f.etcdEndpoints, "etcd-endpoints", nil, "use this external etcd (comma-separated URLs) instead of the embedded one")
	cmd.Flags().StringVar(&f.etcdCA, "etcd-cafile", "", "CA bundle for --etcd-endpoints")
	cmd.Flags().StringVar(&f.etcdCert, "etcd-certfile", "", "client certificate for --etcd-endpoints")
	cmd.Flags().StringVar(&f.etcdKey, "etcd-keyfile", "", "client key for --etcd-endpoints")
	cmd.Flags().Int64Var(&f.etcdQuotaBytes, "etcd-quota-backend-bytes", 2<<30, "size limit of the embedded etcd database; writes fail with 'database space exceeded' beyond it")
	cmd.Flags().StringSliceVar(&f.tlsSANs, "tls-san", nil, "extra DNS name or IP for the serving certificate (repeatable)")
	cmd.Flags().StringVar(&f.clusterCIDR, "cluster-cidr", apiserver.DefaultClusterCIDR, "the pod network: node agents create a Docker network with this subnet and pods get addresses in it")
	cmd.Flags().DurationVar(&f.compactionInterval, "etcd-compaction-interval", 5*time.Minute, "how often etcd history older than one interval is compacted")
}

func (f *serverFlags) options() apiserver.RunOptions {
	return apiserver.RunOptions{
		DataDir:            f.dataDir,
		Listen:             f.listen,
		TLSSANs:            f.tlsSANs,
		EtcdEndpoints:      f.etcdEndpoints,
		EtcdCAFile:         f.etcdCA,
		EtcdCertFile:       f.etcdCert,
		EtcdKeyFile:        f.etcdKey,
		EtcdQuotaBytes:     f.etcdQuotaBytes,
		CompactionInterval: f.compactionInterval,
		ClusterCIDR:        f.clusterCIDR,
		Version:            versionInfo(),
	}
}

func newServerCommand(logLevel *string) *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: etcd, the API server, the scheduler and the controllers",
		Example: `  skiff server --data-dir ./data
  export KUBECONFIG=./data/kubeconfig
  kubectl get ns`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := f.options()
			o.Logger = newLogger(*logLevel, cmd.ErrOrStderr())
			cp, err := startControlPlane(cmd.Context(), o, o.Logger)
			if err != nil {
				return err
			}
			releaseStartupPages()
			return cp.Wait()
		},
	}
	f.register(cmd)
	return cmd
}
