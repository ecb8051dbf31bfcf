package remote

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
)

type addOptions struct {
	common
	branch string
	// executable is this plugin's path, for the credential helper.
	executable func() (string, error)
	// trusted says whether the system trusts the server's certificate.
	trusted func(ctx context.Context, host string) bool
}

func newAddCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &addOptions{common: common{streams: streams, flags: flags}, executable: os.Executable, trusted: systemTrusts}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Create the GitRepository and Kustomization NAME and add the built-in git remote to this repository",
		Long: `Create, in the namespace of -n (or the context's), the GitRepository and
Kustomization NAME that a first push to the built-in remote would create
(the branch of --branch, the whole repository applied into that
namespace, pruned), so that kubectl skiff sources shows them at once.
Objects of that name that exist already are left as they are.

Then, in the git work tree of --dir:
  - add the remote (--remote, "skiff") https://<server>/git/<namespace>/NAME.git;
  - make "kubectl skiff credential-helper" git's only credential helper for
    that URL, with this kubeconfig and context, so a push sends the
    kubeconfig's token and never prompts;
  - when the system does not trust the server's certificate, write the
    kubeconfig's CA under the git directory and point http.<url>.sslCAInfo
    at it.`,
		Example: `  # in the repository to deploy
  kubectl skiff remote add shop
  git push skiff main

  # another namespace, branch and remote name
  kubectl skiff remote add shop -n staging --branch release --remote staging`,
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
	cmd.Flags().StringVar(&o.branch, "branch", "main", "the branch the GitRepository follows")
	return cmd
}

func (o *addOptions) run(ctx context.Context, c *clients, name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("invalid name %q (it names the GitRepository, the Kustomization and the repository): %s", name, strings.Join(errs, "; "))
	}
	// Check the work tree before anything is created.
	git := gitCLI{dir: o.dir, bin: o.gitBin}
	gitDir, err := git.gitDir(ctx)
	if err != nil {
		return err
	}
	url := URL(c.cfg, c.ns, name)
	existing, err := git.remoteURL(ctx, o.remote)
	if err != nil {
		return err
	}
	if existing != "" && existing != url {
		return fmt.Errorf("git remote %q exists and points at %s: remove it or choose another name with --remote", o.remote, existing)
	}
	helper, err := o.helperCommand()
	if err != nil {
		return err
	}

	dir, err := RepoDir(ctx, c.core)
	if err != nil {
		return err
	}
	gr, ks := flux.NewGitRemoteObjects(dir, c.ns, name, o.branch)
	for _, obj := range []struct {
		gvr  schema.GroupVersionResource
		kind string
		obj  runtime.Object
	}{{fluxapi.GitRepositories, "gitrepository", gr}, {fluxapi.Kustomizations, "kustomization", ks}} {
		if err := o.create(ctx, c, obj.gvr, obj.kind, name, obj.obj); err != nil {
			return err
		}
	}

	if existing == "" {
		if _, err := git.run(ctx, "remote", "add", o.remote, url); err != nil {
			return err
		}
		fmt.Fprintf(o.streams.Out, "git remote %s added: %s\n", o.remote, url)
	} else {
		fmt.Fprintf(o.streams.Out, "git remote %s unchanged: %s\n", o.remote, url)
	}
	// An empty helper first resets the list, so that no helper of the
	// user's global config answers for this URL with other credentials.
	key := "credential." + url + ".helper"
	if _, err := git.run(ctx, "config", "--local", "--unset-all", key); err != nil && status(err) != 5 {
		return err
	}
	for _, v := range []string{"", helper} {
		if _, err := git.run(ctx, "config", "--local", "--add", key, v); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.streams.Out, "git credential helper set for %s\n", url)
	if err := o.configureTLS(ctx, git, c, gitDir, url); err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "\nDeploy with:\n  git push %s %s\n", o.remote, o.branch)
	return nil
}

// create makes one object unless it exists.
func (o *addOptions) create(ctx context.Context, c *clients, gvr schema.GroupVersionResource, kind, name string, obj runtime.Object) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	ri := c.dyn.Resource(gvr).Namespace(c.ns)
	_, err = ri.Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{})
	switch {
	case err == nil:
		fmt.Fprintf(o.streams.Out, "%s/%s created\n", kind, name)
		return nil
	case !apierrors.IsAlreadyExists(err):
		return fmt.Errorf("create %s %s/%s: %w", kind, c.ns, name, err)
	}
	cur, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get %s %s/%s: %w", kind, c.ns, name, err)
	}
	if cur.GetLabels()[flux.GitRemoteLabel] == "true" {
		fmt.Fprintf(o.streams.Out, "%s/%s unchanged\n", kind, name)
	} else {
		fmt.Fprintf(o.streams.ErrOut, "warning: %s/%s exists and was not made for the git remote: left as it is\n", kind, name)
	}
	return nil
}

// helperCommand is the credential helper line for git: this plugin with
// the kubeconfig and context in use now, so that a later change of the
// current context does not change what git sends.
func (o *addOptions) helperCommand() (string, error) {
	exe, err := o.executable()
	if err != nil {
		return "", fmt.Errorf("locate kubectl-skiff for the credential helper: %w", err)
	}
	raw, err := o.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	ctxName := raw.CurrentContext
	if o.flags.Context != nil && *o.flags.Context != "" {
		ctxName = *o.flags.Context
	}
	var env, args []string
	if o.flags.KubeConfig != nil && *o.flags.KubeConfig != "" {
		kc, err := filepath.Abs(*o.flags.KubeConfig)
		if err != nil {
			return "", err
		}
		args = append(args, "--kubeconfig", shellQuote(kc))
	} else if kc := os.Getenv("KUBECONFIG"); kc != "" {
		// git runs the helper with its own environment, which need
		// not have this KUBECONFIG.
		env = append(env, "KUBECONFIG="+shellQuote(kc))
	}
	if ctxName != "" {
		args = append(args, "--context", shellQuote(ctxName))
	}
	parts := append(env, shellQuote(exe), "credential-helper")
	return "!" + strings.Join(append(parts, args...), " "), nil
}

// configureTLS makes git trust the server's certificate as the
// kubeconfig does.
func (o *addOptions) configureTLS(ctx context.Context, git gitCLI, c *clients, gitDir, url string) error {
	if c.cfg.Insecure {
		fmt.Fprintf(o.streams.ErrOut, "warning: the kubeconfig skips TLS verification; so will git for %s\n", url)
		_, err := git.run(ctx, "config", "--local", "http."+url+".sslVerify", "false")
		return err
	}
	if o.trusted(ctx, c.cfg.Host) {
		return nil
	}
	ca, err := CAData(c.cfg)
	if err != nil {
		return err
	}
	if len(ca) == 0 {
		fmt.Fprintf(o.streams.ErrOut, "warning: the system does not trust %s and the kubeconfig names no CA: git will refuse the certificate\n", c.cfg.Host)
		return nil
	}
	file := caFile(gitDir, o.remote)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, ca, 0o644); err != nil {
		return fmt.Errorf("write the server's CA: %w", err)
	}
	if _, err := git.run(ctx, "config", "--local", "http."+url+".sslCAInfo", file); err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "git trusts the server's CA for %s (%s)\n", url, file)
	if v := os.Getenv("GIT_SSL_CAINFO"); v != "" {
		fmt.Fprintf(o.streams.ErrOut, "warning: GIT_SSL_CAINFO=%s is set here and overrides http.<url>.sslCAInfo: unset it for git push, or add %s to it\n", v, file)
	}
	return nil
}
