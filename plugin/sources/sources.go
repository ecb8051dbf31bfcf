package sources

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/output"
)

type options struct {
	streams       genericiooptions.IOStreams
	flags         *genericclioptions.ConfigFlags
	output        string
	allNamespaces bool
}

// NewCommand returns the sources command.
func NewCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{streams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:   "sources",
		Short: "List GitRepositories and Kustomizations with revision, readiness and last message",
		Example: `  # sources in the current namespace
  kubectl skiff sources

  # in every namespace, with URLs, paths and suspension
  kubectl skiff sources -A -o wide

  # the objects themselves
  kubectl skiff sources -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(o.output)
			if err != nil {
				return err
			}
			c, ns, err := fluxapi.FromFlags(o.flags)
			if err != nil {
				return err
			}
			if o.allNamespaces {
				ns = ""
			}
			return list(cmd.Context(), o.streams.Out, c, ns, f, time.Now())
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: table, wide, json, yaml or name")
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list sources in every namespace")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(output.Formats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// row is one table line before it is laid out.
type row struct {
	kind, ns, name, revision, ready, message, from, suspended string
	created                                                   time.Time
	raw                                                       *unstructured.Unstructured
}

func list(ctx context.Context, w io.Writer, c fluxapi.Client, ns string, f output.Format, now time.Time) error {
	if ctx == nil {
		ctx = context.Background()
	}
	repos, rawRepos, err := c.ListGitRepositories(ctx, ns)
	if err != nil {
		return err
	}
	kss, rawKss, err := c.ListKustomizations(ctx, ns)
	if err != nil {
		return err
	}
	var rows []row
	for i, r := range repos {
		rows = append(rows, repoRow(&r, rawRepos[i]))
	}
	for i, k := range kss {
		rows = append(rows, ksRow(&k, rawKss[i]))
	}
	// Flux lists sources before what applies them; within a kind, by
	// namespace and name as kubectl does.
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.ns != b.ns {
			return a.ns < b.ns
		}
		return a.name < b.name
	})
	if f == output.JSON || f == output.YAML || f == output.Name {
		objs := make([]*unstructured.Unstructured, len(rows))
		for i := range rows {
			objs[i] = rows[i].raw
		}
		return output.PrintObjects(w, f, objs)
	}
	if len(rows) == 0 {
		if ns == "" {
			fmt.Fprintln(w, "No sources found.")
		} else {
			fmt.Fprintf(w, "No sources found in %s namespace.\n", ns)
		}
		return nil
	}
	t := output.TableData{}
	if ns == "" {
		t.Columns = append(t.Columns, output.Column{Header: "NAMESPACE"})
	}
	t.Columns = append(t.Columns, []output.Column{{Header: "KIND"}, {Header: "NAME"}, {Header: "REVISION"}, {Header: "READY"},
		{Header: "MESSAGE"}, {Header: "AGE"}, {Header: "SUSPENDED", Wide: true}, {Header: "FROM", Wide: true}}...)
	for _, r := range rows {
		var cells []string
		if ns == "" {
			cells = append(cells, r.ns)
		}
		cells = append(cells, r.kind, r.name, output.Dash(r.revision), r.ready, r.message,
			output.Age(metav1.NewTime(r.created), now), r.suspended, r.from)
		t.Rows = append(t.Rows, cells)
	}
	return t.Print(w, f == output.Wide)
}

func repoRow(r *flux.GitRepository, raw *unstructured.Unstructured) row {
	rev := ""
	if r.Status.Artifact != nil {
		rev = r.Status.Artifact.Revision
	}
	from := r.Spec.URL
	if ref := r.Spec.Reference; ref != nil {
		switch {
		case ref.Commit != "":
			from += "@" + ref.Commit
		case ref.Name != "":
			from += "@" + ref.Name
		case ref.Tag != "":
			from += "@tag:" + ref.Tag
		case ref.SemVer != "":
			from += "@semver:" + ref.SemVer
		case ref.Branch != "":
			from += "@" + ref.Branch
		}
	}
	return row{kind: "GitRepository", ns: r.Namespace, name: r.Name, revision: rev,
		ready: fluxapi.ReadyColumn(r.Status.Conditions), message: output.OneLine(fluxapi.ReadyMessage(r.Status.Conditions)),
		from: from, suspended: fmt.Sprint(r.Spec.Suspend), created: r.CreationTimestamp.Time, raw: raw}
}

func ksRow(k *flux.Kustomization, raw *unstructured.Unstructured) row {
	ref := k.Spec.SourceRef
	from := ref.Kind + "/"
	if ref.Namespace != "" && ref.Namespace != k.Namespace {
		from += ref.Namespace + "/"
	}
	from += ref.Name
	if k.Spec.Path != "" {
		from += ":" + k.Spec.Path
	}
	if ref.Name == "" {
		from = "-"
	}
	return row{kind: "Kustomization", ns: k.Namespace, name: k.Name, revision: k.Status.LastAppliedRevision,
		ready: fluxapi.ReadyColumn(k.Status.Conditions), message: output.OneLine(fluxapi.ReadyMessage(k.Status.Conditions)),
		from: from, suspended: fmt.Sprint(k.Spec.Suspend), created: k.CreationTimestamp.Time, raw: raw}
}
