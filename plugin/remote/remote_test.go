package remote

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/fluxapi/fluxtest"
)

func TestCredentialGet(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443", BearerToken: "s3cret"}
	var out bytes.Buffer
	in := "protocol=https\nhost=127.0.0.1:6443\npath=git/default/shop.git\n\n"
	if err := credentialGet(strings.NewReader(in), &out, cfg); err != nil {
		t.Fatal(err)
	}
	if out.String() != "username=skiff\npassword=s3cret\n" {
		t.Errorf("answer %q", out.String())
	}
	// Another server, or plain http to this one: no answer.
	for _, other := range []string{"protocol=https\nhost=example.com\n", "protocol=http\nhost=127.0.0.1:6443\n"} {
		out.Reset()
		if err := credentialGet(strings.NewReader(other), &out, cfg); err != nil || out.Len() != 0 {
			t.Errorf("request %q: answer %q, err %v", other, out.String(), err)
		}
	}
	// A kubeconfig without a token is an error, not an empty password.
	if err := credentialGet(strings.NewReader(in), &out, &rest.Config{Host: cfg.Host}); err == nil {
		t.Error("no token: no error")
	}
}

func TestCredentialStoreEraseSucceed(t *testing.T) {
	for _, op := range []string{"store", "erase"} {
		var out bytes.Buffer
		streams := genericiooptions.IOStreams{In: strings.NewReader("protocol=https\nhost=x\nusername=a\npassword=b\n"), Out: &out, ErrOut: &out}
		cmd := NewCredentialHelperCommand(streams, genericclioptions.NewConfigFlags(false))
		cmd.SetArgs([]string{op})
		if err := cmd.Execute(); err != nil || out.Len() != 0 {
			t.Errorf("%s: err %v, output %q", op, err, out.String())
		}
	}
}

func TestShellQuote(t *testing.T) {
	if got := shellQuote("/a b/it's"); got != `'/a b/it'\''s'` {
		t.Errorf("got %s", got)
	}
}

// setup is a git work tree, a kubeconfig file, and fake clients.
type setup struct {
	dir, kubeconfig string
	flags           *genericclioptions.ConfigFlags
	c               *clients
	out, errOut     bytes.Buffer
}

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: skiff
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Q0EgREFUQQ==
users:
- name: admin
  user:
    token: tok
contexts:
- name: skiff
  context: {cluster: skiff, user: admin, namespace: default}
current-context: skiff
`

func newSetup(t *testing.T, objs ...runtime.Object) *setup {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	s := &setup{dir: t.TempDir()}
	s.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(s.kubeconfig, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	s.flags = genericclioptions.NewConfigFlags(false)
	s.flags.KubeConfig = &s.kubeconfig
	cfg, err := s.flags.ToRESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	core := fake.NewSimpleClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "skiff-cluster", Namespace: "kube-system"},
		Data: map[string]string{flux.GitRemoteDirKey: "/srv/skiff/git"}})
	s.c = &clients{cfg: cfg, core: core, dyn: fluxtest.NewClient(t, objs...), ns: "default"}
	s.git(t, "init", "-q", "-b", "main")
	return s
}

func (s *setup) git(t *testing.T, args ...string) string {
	t.Helper()
	out, err := gitCLI{dir: s.dir}.run(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *setup) common() common {
	return common{streams: genericiooptions.IOStreams{Out: &s.out, ErrOut: &s.errOut}, flags: s.flags, remote: "skiff", dir: s.dir}
}

func (s *setup) add(t *testing.T, trusted bool) error {
	t.Helper()
	o := &addOptions{common: s.common(), branch: "main",
		executable: func() (string, error) { return "/opt/kubectl skiff/kubectl-skiff", nil },
		trusted:    func(context.Context, string) bool { return trusted }}
	return o.run(context.Background(), s.c, "shop")
}

func TestAddAndRemove(t *testing.T) {
	s := newSetup(t)
	if err := s.add(t, false); err != nil {
		t.Fatalf("%v\n%s", err, s.errOut.String())
	}
	ctx := context.Background()
	// The objects are those a first push would create.
	wantGR, wantKS := flux.NewGitRemoteObjects("/srv/skiff/git", "default", "shop", "main")
	fc := fluxapi.Client{Dynamic: s.c.dyn}
	gr, err := fc.GetGitRepository(ctx, "default", "shop")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := fc.GetKustomization(ctx, "default", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if gr.Spec.URL != wantGR.Spec.URL || gr.Spec.Reference.Branch != "main" || gr.Labels[flux.GitRemoteLabel] != "true" {
		t.Errorf("gitrepository %+v", gr)
	}
	if ks.Spec.Path != wantKS.Spec.Path || !ks.Spec.Prune || ks.Spec.TargetNamespace != "default" || ks.Spec.SourceRef.Name != "shop" {
		t.Errorf("kustomization %+v", ks.Spec)
	}

	url := "https://127.0.0.1:6443/git/default/shop.git"
	if got := s.git(t, "remote", "get-url", "skiff"); got != url {
		t.Errorf("remote url %q", got)
	}
	helpers := s.git(t, "config", "--get-all", "credential."+url+".helper")
	wantHelper := "\n!'/opt/kubectl skiff/kubectl-skiff' credential-helper --kubeconfig '" + s.kubeconfig + "' --context 'skiff'"
	if helpers != strings.TrimSpace(wantHelper) && helpers != wantHelper {
		t.Errorf("helpers %q, want %q", helpers, wantHelper)
	}
	// The empty value first resets helpers of the user's global config.
	if list := s.git(t, "config", "--local", "--list"); !strings.Contains(list, "credential."+url+".helper=\ncredential."+url+".helper=!") {
		t.Errorf("no reset before the helper:\n%s", list)
	}
	gitDir := s.git(t, "rev-parse", "--absolute-git-dir")
	caPath := s.git(t, "config", "--get", "http."+url+".sslCAInfo")
	if ca, err := os.ReadFile(caPath); err != nil || string(ca) != "CA DATA" || !strings.HasPrefix(caPath, gitDir) {
		t.Errorf("CA file %s: %q %v", caPath, ca, err)
	}

	// Adding again changes nothing and keeps one helper line.
	if err := s.add(t, false); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(s.git(t, "config", "--get-all", "credential."+url+".helper"), "credential-helper"); n != 1 {
		t.Errorf("%d helpers after a second add", n)
	}

	rm := &removeOptions{common: s.common(), timeout: 5e9, poll: 1e7}
	if err := rm.run(ctx, s.c, "shop"); err != nil {
		t.Fatal(err)
	}
	if out, _ := (gitCLI{dir: s.dir}).run(ctx, "config", "--list", "--local"); strings.Contains(out, "6443") {
		t.Errorf("git config after remove:\n%s", out)
	}
	if _, err := os.Stat(filepath.Dir(caPath)); !os.IsNotExist(err) {
		t.Errorf("CA directory after remove: %v", err)
	}
	if _, err := fc.GetKustomization(ctx, "default", "shop"); err == nil {
		t.Error("kustomization still there")
	}
	if _, err := fc.GetGitRepository(ctx, "default", "shop"); err == nil {
		t.Error("gitrepository still there")
	}
}

func TestAddTrustedServerNeedsNoCA(t *testing.T) {
	s := newSetup(t)
	if err := s.add(t, true); err != nil {
		t.Fatal(err)
	}
	if out, _ := (gitCLI{dir: s.dir}).run(context.Background(), "config", "--list", "--local"); strings.Contains(out, "sslcainfo") {
		t.Errorf("CA configured for a trusted server:\n%s", out)
	}
}

func TestAddRefusesAnotherRemoteOfThatName(t *testing.T) {
	s := newSetup(t)
	s.git(t, "remote", "add", "skiff", "https://example.com/x.git")
	if err := s.add(t, true); err == nil || !strings.Contains(err.Error(), "example.com") {
		t.Errorf("err = %v", err)
	}
	if _, err := (fluxapi.Client{Dynamic: s.c.dyn}).GetKustomization(context.Background(), "default", "shop"); err == nil {
		t.Error("objects created although the remote could not be added")
	}
}

func TestRemoveLeavesForeignObjects(t *testing.T) {
	mine := &flux.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "default"}}
	s := newSetup(t, mine)
	rm := &removeOptions{common: s.common(), timeout: 5e9, poll: 1e7}
	if err := rm.run(context.Background(), s.c, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := (fluxapi.Client{Dynamic: s.c.dyn}).GetKustomization(context.Background(), "default", "shop"); err != nil {
		t.Errorf("a kustomization not made for the remote was deleted: %v", err)
	}
	if !strings.Contains(s.errOut.String(), "was not made for the git remote") {
		t.Errorf("stderr: %s", s.errOut.String())
	}
	// --keep-objects keeps the remote's own objects too.
	s2 := newSetup(t)
	if err := s2.add(t, true); err != nil {
		t.Fatal(err)
	}
	rm = &removeOptions{common: s2.common(), keepObjects: true}
	if err := rm.run(context.Background(), s2.c, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := (fluxapi.Client{Dynamic: s2.c.dyn}).GetGitRepository(context.Background(), "default", "shop"); err != nil {
		t.Errorf("--keep-objects deleted: %v", err)
	}
}
