package remote

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
)

type removeOptions struct {
	common
	keepObjects bool
	timeout     time.Duration
	poll        time.Duration
}

func newRemoveCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &removeOptions{common: common{streams: streams, flags: flags}, poll: 250 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove the built-in git remote from this repository and delete its Kustomization and GitRepository",
		Long: `Undo remote add: remove the git remote (--remote, "skiff") and the
credential helper and CA settings of its URL from the work tree of --dir,
then — unless --keep-objects — delete the Kustomization NAME and wait until
it is gone (the controller prunes what it applied first when spec.prune
is set), then the GitRepository NAME. Objects not made for the git remote
(without the skiff.dev/git-remote label) are left alone.

The repository's history stays on the server; a later push recreates the
objects.`,
		Example: `  # remove the remote and what it deployed
  kubectl skiff remote remove shop

  # keep the cluster as it is, forget the remote only
  kubectl skiff remote remove shop --keep-objects`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c, err := o.clients()
			if err != nil {
				return err
			}
			return o.run(ctx, c, args[0])
		},
	}
	o.register(cmd)
	cmd.Flags().BoolVar(&o.keepObjects, "keep-objects", false, "keep the Kustomization, the GitRepository and what they applied")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for the Kustomization to be pruned and deleted")
	return cmd
}

func (o *removeOptions) run(ctx context.Context, c *clients, name string) error {
	if err := o.removeGit(ctx, c, name); err != nil {
		return err
	}
	if o.keepObjects {
		return nil
	}
	// The Kustomization first: its finalizer prunes while the source
	// still exists, and nothing re-applies after it is gone.
	if err := o.delete(ctx, c, fluxapi.Kustomizations, "kustomization", name); err != nil {
		return err
	}
	return o.delete(ctx, c, fluxapi.GitRepositories, "gitrepository", name)
}

// removeGit removes the remote and its settings from the work tree. A
// directory that is not a git repository, or has no such remote, is
// reported and skipped: the objects may still be removed.
func (o *removeOptions) removeGit(ctx context.Context, c *clients, name string) error {
	git := gitCLI{dir: o.dir, bin: o.gitBin}
	gitDir, err := git.gitDir(ctx)
	if err != nil {
		fmt.Fprintf(o.streams.ErrOut, "warning: %v: no git remote removed\n", err)
		return nil
	}
	url := URL(c.cfg, c.ns, name)
	existing, err := git.remoteURL(ctx, o.remote)
	if err != nil {
		return err
	}
	switch {
	case existing == "":
		fmt.Fprintf(o.streams.ErrOut, "warning: no git remote %q in %s\n", o.remote, o.dir)
	case existing != url:
		return fmt.Errorf("git remote %q points at %s, not %s: pass --remote to name the remote of %s", o.remote, existing, url, name)
	default:
		if _, err := git.run(ctx, "remote", "remove", o.remote); err != nil {
			return err
		}
		fmt.Fprintf(o.streams.Out, "git remote %s removed\n", o.remote)
	}
	for _, section := range []string{"credential." + url, "http." + url} {
		// Status 128 is "no such section": nothing to remove.
		if _, err := git.run(ctx, "config", "--local", "--remove-section", section); err != nil && status(err) != 128 && status(err) != 1 {
			return err
		}
	}
	if err := removeIfExists(caFile(gitDir, o.remote)); err != nil {
		return err
	}
	// The directory goes when no other remote's CA is left in it.
	_ = os.Remove(filepath.Dir(caFile(gitDir, o.remote)))
	return nil
}

// delete deletes one object made for the remote and waits until it is
// gone.
func (o *removeOptions) delete(ctx context.Context, c *clients, gvr schema.GroupVersionResource, kind, name string) error {
	ri := c.dyn.Resource(gvr).Namespace(c.ns)
	cur, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s %s/%s: %w", kind, c.ns, name, err)
	}
	if cur.GetLabels()[flux.GitRemoteLabel] != "true" {
		fmt.Fprintf(o.streams.ErrOut, "warning: %s/%s was not made for the git remote (no %s label): left as it is\n", kind, name, flux.GitRemoteLabel)
		return nil
	}
	uid := cur.GetUID()
	if err := ri.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s/%s: %w", kind, c.ns, name, err)
	}
	err = wait.PollUntilContextTimeout(ctx, o.poll, o.timeout, true, func(ctx context.Context) (bool, error) {
		u, err := ri.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && u.GetUID() != uid) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("%s/%s is not gone after %s (is the GitOps controller running? it prunes and then lets it go): %w", kind, name, o.timeout, err)
	}
	fmt.Fprintf(o.streams.Out, "%s/%s deleted\n", kind, name)
	return nil
}
