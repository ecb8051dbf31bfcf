package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The GitOps half of the plugin's user story, with the real GitOps
// controllers, the stock kubectl and the real git CLI: remote add → git
// push (authenticated by the plugin's credential helper) → sources →
// diff (identical, then one field changed) → sync --wait → diff → remote
// remove.

const gitopsConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  color: blue
  size: large
`

// gitopsService has many fields the server fills in (clusterIP,
// ipFamilies, sessionAffinity…): none may show up in a diff.
const gitopsService = `apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector:
    app: shop
  ports:
  - port: 80
    targetPort: 8080
`

// userGit runs the git CLI as a user would: its own HOME, no system
// config, no prompt and no CA from the environment — the remote's
// settings must do it all.
type userGit struct {
	t   *testing.T
	dir string
	env []string
}

func newUserGit(t *testing.T, dir string) *userGit {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git client on this machine")
	}
	home := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=", "LC_ALL=C",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}
	return &userGit{t: t, dir: dir, env: env}
}

func (g *userGit) run(args ...string) (string, int) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = g.dir, g.env
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		return string(out) + err.Error(), -1
	}
	return string(out), 0
}

func (g *userGit) must(args ...string) string {
	g.t.Helper()
	out, code := g.run(args...)
	if code != 0 {
		g.t.Fatalf("git %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (g *userGit) write(name, data string) {
	g.t.Helper()
	if err := os.WriteFile(filepath.Join(g.dir, name), []byte(data), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

func TestPluginGitOps(t *testing.T) {
	out, err := exec.Command(skiffBin, "server", "--help").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`known: [^)]*\bkustomization\b`).Match(out) {
		t.Skip("this skiff has no GitOps controllers")
	}
	s := startServer(t)
	p := newPluginRunner(t, s, "1.33")
	k := newKubectl(t, s, "1.33")
	repo := t.TempDir()
	p.strip = append(p.strip, repo)
	g := newUserGit(t, repo)
	g.must("init", "-q", "-b", "main")
	g.write("config.yaml", gitopsConfigMap)
	g.write("service.yaml", gitopsService)
	g.must("add", ".")
	g.must("commit", "-qm", "shop")

	// remote add: the objects, the git remote, the credential helper and
	// the CA (the cluster's CA is not one the system trusts).
	stdout, errOut, code := p.run("remote", "add", "shop", "--dir", repo)
	if code != 0 {
		t.Fatalf("remote add: exit %d\n%s%s", code, stdout, errOut)
	}
	for _, want := range []string{"gitrepository/shop created", "kustomization/shop created", "git remote skiff added: " + s.URL + "/git/default/shop.git",
		"git push skiff main"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("remote add output lacks %q:\n%s", want, stdout)
		}
	}
	url := strings.TrimSpace(g.must("remote", "get-url", "skiff"))
	if url != s.URL+"/git/default/shop.git" {
		t.Errorf("remote url %q: no token may be in it", url)
	}
	if out := p.must("sources", "-o", "name"); out != "gitrepository.source.toolkit.fluxcd.io/shop\nkustomization.kustomize.toolkit.fluxcd.io/shop\n" {
		t.Errorf("sources after remote add:\n%s", out)
	}
	if got := k.must("get", "kustomization", "shop", "-o", `jsonpath={.metadata.labels.skiff\.dev/git-remote} {.spec.targetNamespace} {.spec.prune}`); got != "true default true" {
		t.Errorf("kustomization made by remote add: %q", got)
	}

	// git push with nothing but the remote's settings: no prompt, no
	// token in the URL, no CA in the environment.
	if out, code := g.run("push", "skiff", "main"); code != 0 {
		t.Fatalf("git push: exit %d\n%s", code, out)
	}
	head := strings.TrimSpace(g.must("rev-parse", "HEAD"))
	waitApplied(t, k, "main@sha1:"+head)
	if got := k.must("get", "configmap", "shop-config", "-o", "jsonpath={.data.color}"); got != "blue" {
		t.Fatalf("configmap color = %q after the push", got)
	}
	if out := p.must("sources"); !strings.Contains(out, "main@sha1:"+head[:7]) && !strings.Contains(out, head) {
		t.Errorf("sources does not show the pushed revision %s:\n%s", head, out)
	}

	// The live state is the revision: no output, exit 0.
	p.golden("diff-identical", "diff", "shop")

	// One field changed in the working tree: --path shows only it.
	g.write("config.yaml", strings.Replace(gitopsConfigMap, "blue", "green", 1))
	g.must("commit", "-qam", "green")
	pathOut, code := p.golden("diff-path", "diff", "shop", "--path", repo)
	if code != 1 {
		t.Errorf("diff --path after a change: exit %d, want 1", code)
	}

	// Pushed while the Kustomization is suspended: the source fetches it,
	// nothing is applied, and diff of the source shows the same change.
	p.must("suspend", "shop")
	if out, code := g.run("push", "skiff", "main"); code != 0 {
		t.Fatalf("git push: exit %d\n%s", code, out)
	}
	head = strings.TrimSpace(g.must("rev-parse", "HEAD"))
	eventually(t, 60*time.Second, func() error {
		if got := k.must("get", "gitrepository", "shop", "-o", "jsonpath={.status.artifact.revision}"); got != "main@sha1:"+head {
			return fmt.Errorf("gitrepository at %q", got)
		}
		return nil
	})
	srcOut, errOut, code := p.run("diff", "shop")
	if code != 1 || srcOut != pathOut {
		t.Errorf("diff of the fetched revision: exit %d, want 1 and the --path output\n%s\n--- stderr\n%s", code, srcOut, errOut)
	}
	// The same revision fetched again from the repository, as from a
	// machine that cannot read the stored artifact.
	if fetched, errOut, code := p.run("diff", "shop", "--fetch"); code != 1 || fetched != pathOut {
		t.Errorf("diff --fetch: exit %d, want 1 and the --path output\n%s\n--- stderr\n%s", code, fetched, errOut)
	}
	if got := k.must("get", "configmap", "shop-config", "-o", "jsonpath={.data.color}"); got != "blue" {
		t.Errorf("a suspended kustomization applied: color %q", got)
	}

	// Resume and sync: applied, nothing left to show.
	p.must("resume", "shop")
	if stdout, errOut, code := p.run("sync", "shop", "--wait", "--timeout", "90s"); code != 0 {
		t.Fatalf("sync --wait: exit %d\n%s%s", code, stdout, errOut)
	}
	if got := k.must("get", "configmap", "shop-config", "-o", "jsonpath={.data.color}"); got != "green" {
		t.Errorf("configmap color = %q after sync", got)
	}
	if stdout, errOut, code := p.run("diff", "shop"); code != 0 || stdout != "" {
		t.Errorf("diff after sync: exit %d, want 0 and no output\n%s%s", code, stdout, errOut)
	}

	// A file that left the tree would be pruned; a broken one fails the
	// diff with its file and line and exit status 2.
	if err := os.Remove(filepath.Join(repo, "service.yaml")); err != nil {
		t.Fatal(err)
	}
	stdout, _, code = p.run("diff", "shop", "--path", repo)
	if code != 1 || !strings.Contains(stdout, "# Service/default/shop would be pruned\n--- live/v1.Service.default.shop\n+++ /dev/null\n") ||
		strings.Contains(stdout, "ConfigMap") {
		t.Errorf("diff with a file removed: exit %d\n%s", code, stdout)
	}
	g.write("config.yaml", gitopsConfigMap+"  broken: [unclosed\n")
	_, errOut, code = p.run("diff", "shop", "--path", repo)
	if code != 2 || !strings.Contains(errOut, "config.yaml:8") {
		t.Errorf("diff of a broken tree: exit %d, want 2 naming config.yaml:8\n%s", code, errOut)
	}

	// remote remove: the Kustomization goes first and prunes what it
	// applied, then the source; git forgets the remote and its settings.
	stdout, errOut, code = p.run("remote", "remove", "shop", "--dir", repo)
	if code != 0 {
		t.Fatalf("remote remove: exit %d\n%s%s", code, stdout, errOut)
	}
	for _, want := range []string{"git remote skiff removed", "kustomization/shop deleted", "gitrepository/shop deleted"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("remote remove output lacks %q:\n%s", want, stdout)
		}
	}
	if _, _, code := k.run("get", "configmap", "shop-config"); code == 0 {
		t.Error("the configmap survived remote remove (prune)")
	}
	if out := g.must("config", "--local", "--list"); strings.Contains(out, "/git/default/shop.git") || strings.Contains(out, "remote.skiff") {
		t.Errorf("git config after remote remove:\n%s", out)
	}
	if out := p.must("sources", "-o", "name"); out != "" {
		t.Errorf("sources after remote remove:\n%s", out)
	}
}

// waitApplied waits until the Kustomization shop has applied revision.
func waitApplied(t *testing.T, k *kubectl, revision string) {
	t.Helper()
	eventually(t, 90*time.Second, func() error {
		got := k.must("get", "kustomization", "shop", "-o", `jsonpath={.status.lastAppliedRevision} {.status.conditions[?(@.type=="Ready")].status}`)
		if got != revision+" True" {
			return fmt.Errorf("kustomization: %q, want %q", got, revision+" True")
		}
		return nil
	})
}

// TestPluginLogs reads the logs the control plane keeps on disk.
func TestPluginLogs(t *testing.T) {
	s := startServer(t)
	p := newPluginRunner(t, s, "1.33")
	t.Cleanup(func() { p.run("nodes", "remove", "--all", "--grace-period", "2s") })
	p.must("nodes", "add", "--name-prefix", "lg", "--", "--runtime", "fake", "--node-ip", "127.0.0.1")
	eventually(t, 30*time.Second, func() error {
		// The agent's log ends with its ready line.
		if out := p.must("logs", "--component", "node", "lg-1", "--tail", "1"); strings.Count(out, "\n") != 1 || !strings.Contains(out, "node agent ready") {
			return fmt.Errorf("logs --tail 1 printed:\n%s", out)
		}
		return nil
	})
	// The server's own log, kept in its data directory besides stderr.
	if out := p.must("logs", "--tail", "-1"); !strings.Contains(out, `msg="API server ready"`) {
		t.Errorf("logs of the server:\n%s", out)
	}
	// A data directory with no skiff.log: the error names what there is.
	_, errOut, code := p.run("logs", "--data-dir", filepath.Join(s.DataDir(), "nodes"))
	if code == 0 || !strings.Contains(errOut, "no log file") {
		t.Errorf("logs of a directory without a server log: exit %d\n%s", code, errOut)
	}
	if out := p.must("logs", "--component", "etcd"); !strings.Contains(out, `"level":`) {
		t.Errorf("logs of etcd:\n%s", out)
	}
	// --follow keeps printing until interrupted.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	out, _, _ := p.runCtx(ctx, "logs", "--component", "node", "lg-1", "-f")
	if time.Since(start) < 2*time.Second || out == "" {
		t.Errorf("logs -f ended after %s with %q", time.Since(start), out)
	}
}
