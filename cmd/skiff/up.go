package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/nodeagent"
)

func newUpCommand(logLevel *string) *cobra.Command {
	f := &serverFlags{}
	af := &agentFlags{}
	merge := mergeAsk
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a whole Skiff cluster (control plane and a node on the local Docker engine) in this process",
		Example: `  skiff up --data-dir ~/.skiff
  export KUBECONFIG=~/.skiff/kubeconfig
  kubectl run hello --image=busybox:local --restart=Never -- sh -c 'echo hi; sleep 3600'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			errOut := cmd.ErrOrStderr()
			step := func(format string, args ...any) {
				fmt.Fprintf(errOut, "✓ %-40s %6s\n", fmt.Sprintf(format, args...), time.Since(start).Round(time.Millisecond))
			}
			if err := f.validate(); err != nil {
				return err
			}
			o := f.options()
			logOut, closeLog := teeLog(errOut, f.dataDir)
			defer closeLog()
			o.Logger = newLogger(*logLevel, logOut)
			// client-go's own messages (leader election, watch errors) go
			// through klog: into the same log, not bare onto the terminal.
			klog.SetSlogLogger(o.Logger)
			ctx := cmd.Context()
			cp, err := startControlPlane(ctx, o, f.controllers, o.Logger)
			if err != nil {
				return err
			}
			step("control plane ready at %s", cp.api.URL)

			af.server = cp.api.URL
			af.dataDir = filepath.Join(f.dataDir, "agent")
			ao, err := af.options(o.Logger.With("component", "agent"), versionInfo().GitVersion)
			if err != nil {
				return err
			}
			ao.Token = cp.api.NodeToken
			agent, err := nodeagent.New(ctx, ao)
			if err != nil {
				return fmt.Errorf("node agent: %w", err)
			}
			agentDone := make(chan error, 1)
			go func() { agentDone <- agent.Run(ctx) }()
			select {
			case <-agent.Ready():
			case err := <-agentDone:
				return fmt.Errorf("node agent: %w", err)
			}
			cs, err := kubernetes.NewForConfig(cp.api.RESTConfig())
			if err != nil {
				return err
			}
			if err := waitNodeReady(ctx, cs, agent.NodeName()); err != nil {
				return err
			}
			step("node %s Ready", agent.NodeName())
			releaseStartupPages()
			dataDir, err := filepath.Abs(f.dataDir)
			if err != nil {
				return err
			}
			offer := mergeOffer{mode: merge, source: cp.api.KubeconfigPath, dataDir: dataDir,
				in: cmd.InOrStdin(), out: errOut, terminal: isTerminal(os.Stdin) && isTerminal(os.Stderr)}
			merged, err := offer.run(ctx)
			if err != nil {
				// The cluster is up; the export below still works.
				fmt.Fprintln(errOut, "skiff:", err)
			}
			fmt.Fprint(errOut, "\nTry:\n")
			if !merged {
				fmt.Fprintf(errOut, "  export KUBECONFIG=%s\n", cp.api.KubeconfigPath)
			}
			fmt.Fprint(errOut, "  kubectl get nodes\n  kubectl run hello --image=busybox:local --restart=Never -- sh -c 'echo hi; sleep 3600'\n  kubectl logs hello\n\nStop with Ctrl-C: pods keep running and are adopted when `skiff up` comes back. `skiff reset` removes everything.\n")
			err = cp.Wait()
			if aerr := <-agentDone; aerr != nil && err == nil && !errors.Is(aerr, context.Canceled) {
				err = aerr
			}
			return err
		},
	}
	f.register(cmd)
	af.register(cmd, false)
	cmd.Flags().Var(&merge, "merge-kubeconfig", "once the node is Ready, merge the kubeconfig into the one kubectl uses by default (~/.kube/config) as context \"skiff\": ask (on a terminal; elsewhere it only prints the command), yes or no")
	return cmd
}

// waitNodeReady waits until the node reports Ready=True.
func waitNodeReady(ctx context.Context, cs kubernetes.Interface, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s did not become Ready: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
