package nodes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/plugin/datadir"
)

type removeOptions struct {
	streams genericiooptions.IOStreams
	flags   *genericclioptions.ConfigFlags
	dataDir datadir.Flag
	all     bool
	grace   time.Duration
	// drainTimeout bounds the wait for the node's pods to go.
	drainTimeout time.Duration
}

func newRemoveCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &removeOptions{streams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:     "remove NAME... | --all",
		Aliases: []string{"rm"},
		Short:   "Stop node agents started by nodes add and delete their nodes",
		Example: `  kubectl skiff nodes remove skiff-node-2
  # every agent nodes add started from this data directory
  kubectl skiff nodes remove --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.all == (len(args) > 0) {
				return errors.New("name the nodes to remove, or pass --all")
			}
			dir, err := o.dataDir.Resolve(*o.flags.KubeConfig)
			if err != nil {
				return err
			}
			cs, err := clientset(o.flags)
			if err != nil {
				return err
			}
			local := localAgents{dir: dir}
			if o.all {
				if args, err = local.names(); err != nil {
					return err
				}
				if len(args) == 0 {
					fmt.Fprintf(o.streams.Out, "no agents started by nodes add in %s\n", dir)
					return nil
				}
			}
			return o.run(cmd.Context(), cs, local, args)
		},
		ValidArgsFunction: func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			dir, err := o.dataDir.Resolve(*flags.KubeConfig)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			names, _ := localAgents{dir: dir}.names()
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.Flags().BoolVar(&o.all, "all", false, "remove every agent nodes add started")
	cmd.Flags().DurationVar(&o.grace, "grace-period", 10*time.Second, "how long an agent may take to stop after SIGTERM before SIGKILL")
	cmd.Flags().DurationVar(&o.drainTimeout, "drain-timeout", 2*time.Minute, "how long the node's pods may take to stop before the command gives up (nothing is removed then)")
	o.dataDir.AddFlag(cmd.Flags())
	return cmd
}

func (o *removeOptions) run(ctx context.Context, cs kubernetes.Interface, local localAgents, names []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// Check every name first, so a typo removes nothing.
	for _, name := range names {
		if _, err := local.pid(name); err != nil {
			return err
		}
	}
	for _, name := range names {
		pid, running := local.running(name)
		// Drain first, as kubectl drain would: the agent stops the pods'
		// containers while it still runs, and their controllers recreate
		// them on the remaining nodes. Stopping the agent first would
		// leave the containers running on the engine with nobody to
		// remove them.
		if err := o.drain(ctx, cs, name, running); err != nil {
			return err
		}
		if running {
			if err := stop(pid, name, o.grace); err != nil {
				return err
			}
		}
		err := cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete node %s: %w", name, err)
		}
		// The log stays for a post-mortem; the pid file and the agent's
		// data go.
		if err := os.RemoveAll(local.dataDir(name)); err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		if err := os.Remove(local.pidFile(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("node %s: %w", name, err)
		}
		fmt.Fprintf(o.streams.Out, "► node %s removed (log kept in %s)\n", name, local.logFile(name))
	}
	return nil
}

// drain cordons node name and deletes its pods, waiting until they are
// gone. A running agent stops each pod's containers and then confirms the
// deletion; without one (the agent died) nobody can, so the pods are
// deleted at once and the command says which containers may be left.
func (o *removeOptions) drain(ctx context.Context, cs kubernetes.Interface, name string, agentRunning bool) error {
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := cs.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("cordon node %s: %w", name, err)
	}
	onNode := func() ([]corev1.Pod, error) {
		l, err := cs.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", name).String()})
		if err != nil {
			return nil, fmt.Errorf("pods on node %s: %w", name, err)
		}
		var pods []corev1.Pod
		for _, p := range l.Items {
			if p.Spec.NodeName == name {
				pods = append(pods, p)
			}
		}
		return pods, nil
	}
	pods, err := onNode()
	if err != nil || len(pods) == 0 {
		return err
	}
	var opts metav1.DeleteOptions
	if !agentRunning {
		opts.GracePeriodSeconds = ptr.To[int64](0)
	}
	for _, p := range pods {
		if err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, opts); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	deadline := time.Now().Add(o.drainTimeout)
	for {
		left, err := onNode()
		if err != nil {
			return err
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s: %d pods still stopping after %s (first: %s/%s); nothing removed, the node stays cordoned", name, len(left), o.drainTimeout, left[0].Namespace, left[0].Name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	noun := "pods"
	if len(pods) == 1 {
		noun = "pod"
	}
	fmt.Fprintf(o.streams.Out, "► node %s drained: %d %s deleted\n", name, len(pods), noun)
	if !agentRunning {
		fmt.Fprintf(o.streams.ErrOut, "  agent %s was not running, so its pods' containers may still be on the engine: docker ps --filter label=skiff.dev/node=%s\n", name, name)
	}
	return nil
}
