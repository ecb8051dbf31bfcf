package nodes

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/plugin/datadir"
	"github.com/skiff-dev/skiff/plugin/nodeinfo"
	"github.com/skiff-dev/skiff/plugin/output"
)

type listOptions struct {
	streams genericiooptions.IOStreams
	flags   *genericclioptions.ConfigFlags
	dataDir datadir.Flag
	output  string
}

func newListCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &listOptions{streams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List nodes with status, roles, pods against capacity and age",
		Example: `  kubectl skiff nodes list
  # with addresses and the pids of agents started by nodes add
  kubectl skiff nodes list -o wide
  kubectl skiff nodes list -o name`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(o.output)
			if err != nil {
				return err
			}
			cs, err := clientset(o.flags)
			if err != nil {
				return err
			}
			dir, err := o.dataDir.Resolve(*o.flags.KubeConfig)
			if err != nil {
				return err
			}
			return list(cmd.Context(), o.streams.Out, cs, localAgents{dir: dir}, f, time.Now())
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: table, wide, json, yaml or name")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(output.Formats, cobra.ShellCompDirectiveNoFileComp))
	o.dataDir.AddFlag(cmd.Flags())
	return cmd
}

func clientset(flags *genericclioptions.ConfigFlags) (kubernetes.Interface, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("client configuration: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("clientset: %w", err)
	}
	return cs, nil
}

func list(ctx context.Context, w io.Writer, cs kubernetes.Interface, local localAgents, f output.Format, now time.Time) error {
	if ctx == nil {
		ctx = context.Background()
	}
	nl, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	nodes := nl.Items
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	switch f {
	case output.JSON, output.YAML, output.Name:
		objs := make([]*unstructured.Unstructured, len(nodes))
		for i := range nodes {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&nodes[i])
			if err != nil {
				return fmt.Errorf("encode node %s: %w", nodes[i].Name, err)
			}
			objs[i] = &unstructured.Unstructured{Object: m}
			objs[i].SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Node"))
		}
		return output.PrintObjects(w, f, objs)
	}
	if len(nodes) == 0 {
		fmt.Fprintln(w, "No nodes found.")
		return nil
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	counts := nodeinfo.PodCounts(pods.Items)
	t := output.TableData{Columns: []output.Column{{Header: "NAME"}, {Header: "STATUS"}, {Header: "ROLES"}, {Header: "PODS"},
		{Header: "AGE"}, {Header: "VERSION"}, {Header: "INTERNAL-IP", Wide: true}, {Header: "LOCAL-PID", Wide: true}}}
	for i := range nodes {
		n := &nodes[i]
		st, _ := nodeinfo.Status(n)
		pid := "-"
		if p, ok := local.running(n.Name); ok {
			pid = strconv.Itoa(p)
		}
		t.Rows = append(t.Rows, []string{n.Name, st, nodeinfo.Roles(n),
			fmt.Sprintf("%d/%d", counts[n.Name], n.Status.Allocatable.Pods().Value()),
			output.Age(n.CreationTimestamp, now), output.Dash(n.Status.NodeInfo.KubeletVersion),
			output.Dash(nodeinfo.InternalIP(n)), pid})
	}
	return t.Print(w, f == output.Wide)
}
