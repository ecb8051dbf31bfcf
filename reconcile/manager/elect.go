package manager

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// ElectOptions tune Elect; the zero value is kube-controller-manager's
// defaults (15 s lease, 10 s renew deadline, 2 s retry) and an identity
// of hostname_pid.
type ElectOptions struct {
	Identity                                  string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Logger                                    *slog.Logger
}

func (o *ElectOptions) defaults() {
	if o.Identity == "" {
		hn, _ := os.Hostname()
		o.Identity = fmt.Sprintf("%s_%d", hn, os.Getpid())
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 15*time.Second, 10*time.Second, 2*time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Elect campaigns for the Lease kube-system/<name> and runs lead while
// this process holds it, so two servers sharing one etcd never both act.
// Losing the lease cancels lead's context; once lead has returned, Elect
// campaigns again. kube-controller-manager exits the process instead and
// relies on a supervisor; Skiff's server hosts the API too, so it keeps
// running and takes the lease back when it can, rather than living on
// with its controllers silently stopped. Elect returns when ctx ends.
func Elect(ctx context.Context, client kubernetes.Interface, name string, o ElectOptions, lead func(ctx context.Context)) {
	o.defaults()
	log := o.Logger.With("lease", name, "identity", o.Identity)
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: name},
				Client:     client.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: o.Identity},
			},
			LeaseDuration:   o.LeaseDuration,
			RenewDeadline:   o.RenewDeadline,
			RetryPeriod:     o.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					log.Info("leading")
					lead(ctx)
				},
				OnStoppedLeading: func() {
					if ctx.Err() == nil {
						log.Error("lost the lease; campaigning again")
					}
				},
			},
		})
		if err != nil {
			// Only a configuration error gets here; retrying cannot fix it.
			log.Error("leader election", "err", err)
			return
		}
		le.Run(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(o.RetryPeriod):
		}
	}
}
