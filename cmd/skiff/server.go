package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/apiserver"
	"github.com/skiff-dev/skiff/reconcile"
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
	controllers        reconcile.Options

	serviceCIDR, serviceNodePortRange, advertiseAddress string

	notReadyTolerationSeconds, unreachableTolerationSeconds int64

	gitPushWait        time.Duration
	gitMaxRequestBytes int64
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
	cmd.Flags().StringVar(&f.serviceCIDR, "service-cidr", apiserver.DefaultServiceCIDR, "the range Services' cluster IPs come from (IPv4); its first address is the kubernetes Service's")
	cmd.Flags().StringVar(&f.serviceNodePortRange, "service-node-port-range", apiserver.DefaultServiceNodePortRange, "the range of node ports NodePort and LoadBalancer Services get (low-high, inclusive)")
	cmd.Flags().StringVar(&f.advertiseAddress, "advertise-address", "", "the IPv4 address pods reach the API server at (the kubernetes Service's endpoint); default: --listen's address if it is a specific non-loopback one, else the host's first non-loopback IPv4. The server must listen on it")
	cmd.Flags().StringSliceVar(&f.controllers.Enabled, "controllers", []string{"*"}, "controllers to run, as kube-controller-manager's flag: '*' for all, 'name' to enable, '-name' to disable (known: "+strings.Join(reconcile.ControllerNames, ", ")+")")
	f.registerNodeLifecycle(cmd)
	cmd.Flags().DurationVar(&f.compactionInterval, "etcd-compaction-interval", 5*time.Minute, "how often etcd history older than one interval is compacted")
	cmd.Flags().DurationVar(&f.gitPushWait, "git-push-wait", apiserver.DefaultGitPushWait, "how long a git push to the built-in remote waits for its Kustomization to apply the pushed revision and report it; 0 never waits")
	cmd.Flags().Int64Var(&f.gitMaxRequestBytes, "git-max-request-bytes", apiserver.DefaultGitMaxRequestBytes, "largest request (a push's pack, as sent and decompressed) the built-in git remote accepts; a larger push is refused with an error git prints")
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

		ServiceCIDR:          f.serviceCIDR,
		ServiceNodePortRange: f.serviceNodePortRange,
		AdvertiseAddress:     f.advertiseAddress,

		NotReadyTolerationSeconds:    f.notReadyTolerationSeconds,
		UnreachableTolerationSeconds: f.unreachableTolerationSeconds,

		GitPushWait:        gitPushWait(f.gitPushWait),
		GitMaxRequestBytes: f.gitMaxRequestBytes,
	}
}

// gitPushWait maps the flag's "0: never wait" onto RunOptions, where 0
// means the default and a negative duration never waits.
func gitPushWait(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
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
			if err := f.validate(); err != nil {
				return err
			}
			o := f.options()
			logOut, closeLog := teeLog(cmd.ErrOrStderr(), f.dataDir)
			defer closeLog()
			o.Logger = newLogger(*logLevel, logOut)
			// client-go's own messages (leader election, watch errors) go
			// through klog: into the same log, not bare onto the terminal.
			klog.SetSlogLogger(o.Logger)
			cp, err := startControlPlane(cmd.Context(), o, f.controllers, o.Logger)
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

// registerNodeLifecycle adds kube-controller-manager's and
// kube-apiserver's node-failure flags under their upstream names, so a
// user tuning how fast pods leave a dead node finds the knobs they know.
func (f *serverFlags) registerNodeLifecycle(cmd *cobra.Command) {
	nl := &f.controllers.NodeLifecycle
	fl := cmd.Flags()
	fl.DurationVar(&nl.MonitorPeriod, "node-monitor-period", 5*time.Second, "how often the node lifecycle controller checks node health")
	fl.DurationVar(&nl.GracePeriod, "node-monitor-grace-period", 50*time.Second, "how long a node may go without a heartbeat before it is marked Unknown and tainted unreachable")
	fl.Float64Var(&nl.EvictionRate, "node-eviction-rate", 0.1, "nodes per second whose pods are evicted (given the NoExecute taint) when a zone is healthy")
	fl.Float64Var(&nl.SecondaryEvictionRate, "secondary-node-eviction-rate", 0.01, "nodes per second when a zone is partly down in a cluster larger than --large-cluster-size-threshold")
	fl.Float64Var(&nl.UnhealthyZoneThreshold, "unhealthy-zone-threshold", 0.55, "share of not-ready nodes (at least three) from which a zone counts as partly down")
	fl.IntVar(&nl.LargeClusterThreshold, "large-cluster-size-threshold", 50, "clusters with more nodes than this keep evicting, at the secondary rate, while a zone is partly down")
	fl.Int64Var(&f.notReadyTolerationSeconds, "default-not-ready-toleration-seconds", apiserver.DefaultTolerationSeconds, "tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration added to every pod that has none")
	fl.Int64Var(&f.unreachableTolerationSeconds, "default-unreachable-toleration-seconds", apiserver.DefaultTolerationSeconds, "tolerationSeconds of the node.kubernetes.io/unreachable:NoExecute toleration added to every pod that has none")
}

// validate rejects flag values the components would misread: their
// zero values mean "the default", so a zero on the command line would
// silently become something else.
func (f *serverFlags) validate() error {
	nl := f.controllers.NodeLifecycle
	switch {
	case nl.MonitorPeriod <= 0:
		return fmt.Errorf("--node-monitor-period must be positive, got %s", nl.MonitorPeriod)
	case nl.GracePeriod <= 0:
		return fmt.Errorf("--node-monitor-grace-period must be positive, got %s", nl.GracePeriod)
	case nl.EvictionRate <= 0:
		return fmt.Errorf("--node-eviction-rate must be positive, got %g", nl.EvictionRate)
	case nl.SecondaryEvictionRate <= 0:
		return fmt.Errorf("--secondary-node-eviction-rate must be positive, got %g", nl.SecondaryEvictionRate)
	case nl.UnhealthyZoneThreshold <= 0 || nl.UnhealthyZoneThreshold > 1:
		return fmt.Errorf("--unhealthy-zone-threshold must be in (0, 1], got %g", nl.UnhealthyZoneThreshold)
	case nl.LargeClusterThreshold <= 0:
		return fmt.Errorf("--large-cluster-size-threshold must be positive, got %d", nl.LargeClusterThreshold)
	case f.notReadyTolerationSeconds < 1:
		return fmt.Errorf("--default-not-ready-toleration-seconds must be at least 1, got %d", f.notReadyTolerationSeconds)
	case f.unreachableTolerationSeconds < 1:
		return fmt.Errorf("--default-unreachable-toleration-seconds must be at least 1, got %d", f.unreachableTolerationSeconds)
	case f.gitPushWait < 0:
		return fmt.Errorf("--git-push-wait must not be negative, got %s", f.gitPushWait)
	case f.gitMaxRequestBytes < 1:
		return fmt.Errorf("--git-max-request-bytes must be positive, got %d", f.gitMaxRequestBytes)
	}
	_, err := f.controllers.Selected()
	return err
}
