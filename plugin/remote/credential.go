package remote

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
)

// HelperUser is the user name the credential helper gives git; the
// built-in remote ignores it and authenticates the password (the token).
const HelperUser = "skiff"

// NewCredentialHelperCommand returns `kubectl skiff credential-helper`,
// which git runs as the credential helper `remote add` configures.
func NewCredentialHelperCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "credential-helper get|store|erase",
		Short: "Git credential helper giving the kubeconfig's token to Skiff's built-in git remote",
		Long: `A git credential helper (see gitcredentials(7)): git runs it with "get" and
a request on standard input, and it answers with the kubeconfig's bearer
token as the password when the request is for this kubeconfig's API
server. "store" and "erase" succeed without doing anything: the token lives
in the kubeconfig, not in git.

kubectl skiff remote add configures it for the remote's URL only.`,
		Example: `  # what remote add writes into .git/config
  git config credential.https://127.0.0.1:6443/git/default/shop.git.helper \
    "!/usr/local/bin/kubectl-skiff credential-helper --kubeconfig ~/.skiff/kubeconfig --context skiff"

  # try it by hand
  printf 'protocol=https\nhost=127.0.0.1:6443\n\n' | kubectl skiff credential-helper get`,
		ValidArgs: []string{"get", "store", "erase"},
		Args:      cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "get":
				cfg, err := flags.ToRESTConfig()
				if err != nil {
					return err
				}
				return credentialGet(streams.In, streams.Out, cfg)
			case "store", "erase":
				// git sends the credentials it used; read them so it
				// never writes into a closed pipe.
				_, _ = io.Copy(io.Discard, streams.In)
				return nil
			}
			return fmt.Errorf("unknown credential operation %q: git asks get, store or erase", args[0])
		},
	}
}

// credentialGet answers git's "get": the request's key=value lines end
// with a blank line or end of input. A request for another server gets
// no answer, so git asks its next helper.
func credentialGet(in io.Reader, out io.Writer, cfg *rest.Config) error {
	req := map[string]string{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			req[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read git's request: %w", err)
	}
	server, err := url.Parse(cfg.Host)
	if err != nil {
		return fmt.Errorf("kubeconfig server %q: %w", cfg.Host, err)
	}
	if req["protocol"] != server.Scheme || req["host"] != server.Host {
		return nil
	}
	token, err := Token(cfg)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "username=%s\npassword=%s\n", HelperUser, token)
	return err
}
