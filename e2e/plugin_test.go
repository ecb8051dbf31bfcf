package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

// The kubectl plugin, driven through the stock kubectl as a user would:
// kubectl finds kubectl-skiff (and kubectl_complete-skiff) on PATH.

// pluginBin returns a directory holding kubectl-skiff,
// kubectl_complete-skiff and skiff: make build's bin/ when SKIFF_BIN points
// there, else binaries built from this checkout.
func pluginBin(t *testing.T) string {
	t.Helper()
	dir := filepath.Dir(skiffBin)
	ok := true
	for _, b := range []string{"kubectl-skiff", "kubectl_complete-skiff"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			ok = false
		}
	}
	if ok {
		return dir
	}
	dir = t.TempDir()
	for _, b := range []string{"kubectl-skiff", "kubectl_complete-skiff"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b), "./cmd/"+b)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b, err, out)
		}
	}
	if err := os.Symlink(skiffBin, filepath.Join(dir, "skiff")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pluginRunner runs `kubectl skiff …` with the plugin first on PATH.
type pluginRunner struct {
	t          *testing.T
	kubectl    string
	kubeconfig string
	env        []string
	n          int
	strip      []string
}

func newPluginRunner(t *testing.T, s *cluster.Server, minor string) *pluginRunner {
	t.Helper()
	bin, err := cluster.Kubectl(minor)
	if err != nil {
		t.Fatal(err)
	}
	dir := pluginBin(t)
	return &pluginRunner{t: t, kubectl: bin, kubeconfig: s.Kubeconfig(),
		env:   []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"), "NO_COLOR=", "KUBECONFIG="},
		strip: []string{s.DataDir()}}
}

// run runs kubectl skiff with args; kubectl refuses flags before a
// plugin's name, so --kubeconfig goes right after it.
func (p *pluginRunner) run(args ...string) (string, string, int) {
	p.t.Helper()
	return p.runCtx(context.Background(), args...)
}

func (p *pluginRunner) runCtx(ctx context.Context, args ...string) (string, string, int) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	full := append([]string{"skiff", "--kubeconfig", p.kubeconfig}, args...)
	return cluster.Run(ctx, p.env, "", p.kubectl, full...)
}

func (p *pluginRunner) must(args ...string) string {
	p.t.Helper()
	out, errOut, code := p.run(args...)
	if code != 0 {
		p.t.Fatalf("kubectl skiff %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// Values of the plugin's output that vary from run to run, beyond those
// the kubectl golden files mask.
var pluginMasks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`db [\d.]+ [KMG]?i?B \([\d.]+ [KMG]?i?B in use\)`), "db <size>"},
	{regexp.MustCompile(`leader [0-9a-f]{16} \(this server\)`), "leader <member> (this server)"},
	{regexp.MustCompile(`leader \S+, renewed`), "leader <holder>, renewed"},
	{regexp.MustCompile(`v1\.\d+\.\d+-skiff\.[0-9A-Za-z.+-]*[0-9A-Za-z]`), "<version>"},
	{regexp.MustCompile(`v3\.\d+\.\d+`), "<etcd-version>"},
	{regexp.MustCompile(`pid \d+`), "pid <pid>"},
	{regexp.MustCompile(`\(\d+ checks passed\)`), "(<n> checks passed)"},
}

// golden runs kubectl skiff and compares its masked output and exit code
// with testdata/plugin/<test>/NN-name.txt (-update rewrites it).
func (p *pluginRunner) golden(name string, args ...string) (string, int) {
	p.t.Helper()
	out, errOut, code := p.run(args...)
	p.n++
	got := fmt.Sprintf("$ kubectl skiff %s\n%s", strings.Join(args, " "), out)
	if errOut != "" {
		got += "--- stderr\n" + errOut
	}
	for _, s := range p.strip {
		got = strings.ReplaceAll(got, s, "<data-dir>")
	}
	for _, m := range pluginMasks {
		got = m.re.ReplaceAllString(got, m.with)
	}
	got = normalize(got) + fmt.Sprintf("\n--- exit %d\n", code)
	dir := filepath.Join("testdata", "plugin", p.t.Name())
	file := filepath.Join(dir, fmt.Sprintf("%02d-%s.txt", p.n, name))
	if *updateGolden {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			p.t.Fatal(err)
		}
		return out, code
	}
	want, err := os.ReadFile(file)
	if err != nil {
		p.t.Fatalf("%s: %v (run with -update to record it)\ngot:\n%s", file, err, got)
	}
	if string(want) != got {
		p.t.Errorf("kubectl skiff %s: output differs from %s\n--- want\n%s\n--- got\n%s", strings.Join(args, " "), file, want, got)
	}
	return out, code
}

// gitopsControllersOff returns the server flag that turns off the GitOps
// controllers this skiff binary has, so the test can play them.
func gitopsControllersOff(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(skiffBin, "server", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("skiff server --help: %v\n%s", err, out)
	}
	flag := "*"
	for _, name := range []string{"gitrepository", "kustomization", "receiver"} {
		if regexp.MustCompile(`known: [^)]*\b` + name + `\b`).Match(out) {
			flag += ",-" + name
		}
	}
	return []string{"--controllers", flag}
}

func TestPluginFoundByKubectl(t *testing.T) {
	s := startServer(t)
	for _, minor := range []string{"1.27", "1.33"} {
		p := newPluginRunner(t, s, minor)
		out := p.must("version")
		if !strings.Contains(out, "Client Version: ") || !strings.Contains(out, "Server Version: v1.") {
			t.Errorf("kubectl %s skiff version:\n%s", minor, out)
		}
	}
	// kubectl 1.26+ completes a plugin through kubectl_complete-<plugin>.
	p := newPluginRunner(t, s, "1.33")
	out, errOut, code := cluster.Run(context.Background(), p.env, "", p.kubectl, "__complete", "skiff", "")
	if code != 0 {
		t.Fatalf("kubectl __complete skiff: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"status\t", "nodes\t", "sync\t", "sources\t", "kubeconfig\t", "completion\t"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl __complete skiff offers no %q:\n%s", strings.TrimSpace(want), out)
		}
	}
	out = p.must("completion", "bash")
	if !strings.Contains(out, "__start_kubectl-skiff") {
		t.Errorf("completion bash is not a script for kubectl-skiff:\n%.300s", out)
	}
	if _, _, code := p.run("completion", "tcsh"); code == 0 {
		t.Error("completion tcsh succeeded")
	}
}

func TestPluginNodesAndStatus(t *testing.T) {
	// A short grace period so a dead agent's node turns NotReady quickly.
	s := startServer(t, "--node-monitor-grace-period", "4s", "--node-monitor-period", "1s")
	p := newPluginRunner(t, s, "1.33")
	t.Cleanup(func() { p.run("nodes", "remove", "--all", "--grace-period", "2s") })
	waitLeaders(t, s)

	if _, code := p.golden("status-no-nodes", "status"); code != 0 {
		t.Errorf("status with no nodes: exit %d, want 0 (a warning)", code)
	}
	p.golden("nodes-add", "nodes", "add", "--count", "2", "--name-prefix", "sim", "--",
		"--runtime", "fake", "--node-ip", "127.0.0.1", "--node-status-update-frequency", "1s")
	for _, n := range []string{"sim-1", "sim-2"} {
		if _, err := os.Stat(filepath.Join(s.DataDir(), "nodes", n, "agent.log")); err != nil {
			t.Errorf("agent log of %s: %v", n, err)
		}
	}
	p.golden("nodes-list", "nodes", "list")
	if out := p.must("nodes", "list", "-o", "name"); out != "node/sim-1\nnode/sim-2\n" {
		t.Errorf("nodes list -o name:\n%s", out)
	}
	if out := p.must("nodes", "list", "-o", "wide"); !regexp.MustCompile(`sim-1 .*127\.0\.0\.1\s+\d+`).MatchString(out) {
		t.Errorf("nodes list -o wide shows no address and pid:\n%s", out)
	}
	if _, code := p.golden("status-healthy", "status"); code != 0 {
		t.Errorf("status on a healthy cluster: exit %d", code)
	}

	// An agent dies: its node goes NotReady and status fails.
	pidb, err := os.ReadFile(filepath.Join(s.DataDir(), "nodes", "sim-2", "agent.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidb)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if out, _, code := p.run("status"); code == 0 {
			return fmt.Errorf("status still exits 0:\n%s", out)
		}
		return nil
	})
	out, errOut, code := p.run("status")
	if code == 0 || !strings.Contains(out, "node sim-2 is NotReady") && !strings.Contains(out, "node sim-2 is Unknown") {
		t.Errorf("status after sim-2 died: exit %d\n%s%s", code, out, errOut)
	}

	p.golden("nodes-remove", "nodes", "remove", "sim-1", "sim-2")
	p.golden("nodes-list-empty", "nodes", "list")
	if _, _, code := p.run("nodes", "remove", "sim-1"); code == 0 {
		t.Error("removing a removed node succeeded")
	}
}

// waitLeaders waits until the controller manager and the scheduler hold
// their leases: until then status rightly reports them as missing.
func waitLeaders(t *testing.T, s *cluster.Server) {
	t.Helper()
	cs := clientset(t, s)
	eventually(t, 30*time.Second, func() error {
		for _, name := range []string{"skiff-controller-manager", "kube-scheduler"} {
			if _, err := cs.CoordinationV1().Leases("kube-system").Get(context.Background(), name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
}

// pluginFluxObjects are a GitRepository and a Kustomization reading from it.
const pluginFluxObjects = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: shop
  namespace: default
spec:
  url: https://git.example.com/shop.git
  interval: 1m
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: shop
  namespace: default
spec:
  interval: 5m
  path: ./deploy
  prune: true
  sourceRef:
    kind: GitRepository
    name: shop
`

func TestPluginSources(t *testing.T) {
	s := startServer(t, gitopsControllersOff(t)...)
	p := newPluginRunner(t, s, "1.33")
	k := newKubectl(t, s, "1.33")

	p.golden("sources-none", "sources")
	applyFlux(t, k)
	p.golden("sources-new", "sources")

	// Play the controllers: both objects reconciled.
	rev := "main@sha1:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c"
	writeStatus(t, k, "gitrepository", "shop", "", "True", "Succeeded", "stored artifact for revision '"+rev+"'",
		`"artifact":{"path":"x","url":"http://x","revision":"`+rev+`","lastUpdateTime":"2026-01-01T00:00:00Z"}`)
	writeStatus(t, k, "kustomization", "shop", "", "True", "ReconciliationSucceeded", "Applied revision: "+rev,
		`"lastAppliedRevision":"`+rev+`"`)
	p.golden("sources-ready", "sources")
	p.golden("sources-wide", "sources", "-A", "-o", "wide")
	p.golden("sources-name", "sources", "-o", "name")
	if out := p.must("sources", "-o", "json"); !strings.Contains(out, `"kind": "List"`) || strings.Count(out, `"name": "shop"`) < 2 {
		t.Errorf("sources -o json:\n%s", out)
	}

	p.golden("suspend", "suspend", "shop", "--source")
	for _, kind := range []string{"kustomization", "gitrepository"} {
		if got := k.must("get", kind, "shop", "-o", "jsonpath={.spec.suspend}"); got != "true" {
			t.Errorf("%s spec.suspend after suspend = %q", kind, got)
		}
	}
	if _, errOut, code := p.run("sync", "shop"); code == 0 || !strings.Contains(errOut, "suspended") {
		t.Errorf("sync of a suspended kustomization: exit %d: %s", code, errOut)
	}
	p.golden("resume", "resume", "kustomization", "shop", "--source")
	for _, kind := range []string{"kustomization", "gitrepository"} {
		if got := k.must("get", kind, "shop", "-o", "jsonpath={.spec.suspend}"); got != "" && got != "false" {
			t.Errorf("%s spec.suspend after resume = %q", kind, got)
		}
		if got := k.must("get", kind, "shop", "-o", `jsonpath={.metadata.annotations.reconcile\.fluxcd\.io/requestedAt}`); got == "" {
			t.Errorf("%s: resume requested no reconcile", kind)
		}
	}
	if _, _, code := p.run("suspend", "helmrelease", "shop"); code == 0 {
		t.Error("suspend of an unsupported kind succeeded")
	}
	if _, _, code := p.run("suspend", "nope"); code == 0 {
		t.Error("suspend of a missing kustomization succeeded")
	}
	waitLeaders(t, s)
	if _, code := p.golden("status-sources-ready", "status"); code != 0 {
		t.Errorf("status with Ready sources: exit %d", code)
	}
}

func applyFlux(t *testing.T, k *kubectl) {
	t.Helper()
	if out, errOut, code := k.runIn(pluginFluxObjects, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
}

// writeStatus writes status as a controller would, through the status
// subresource; token, when set, is the handled reconcile request.
func writeStatus(t *testing.T, k *kubectl, kind, name, token, ready, reason, message, extra string) {
	t.Helper()
	gen := k.must("get", kind, name, "-o", "jsonpath={.metadata.generation}")
	st := `"observedGeneration":` + gen + `,"conditions":[{"type":"Ready","status":"` + ready + `","reason":"` + reason +
		`","message":` + strconv.Quote(message) + `,"lastTransitionTime":"2026-01-01T00:00:00Z"}]`
	if token != "" {
		st += `,"lastHandledReconcileAt":"` + token + `"`
	}
	if extra != "" {
		st += "," + extra
	}
	k.must("patch", kind, name, "--subresource=status", "--type=merge", "-p", `{"status":{`+st+`}}`)
}

func TestPluginSyncWait(t *testing.T) {
	s := startServer(t, gitopsControllersOff(t)...)
	p := newPluginRunner(t, s, "1.33")
	k := newKubectl(t, s, "1.33")
	applyFlux(t, k)

	// sync starts, then the test (as the controllers) handles its request.
	type result struct {
		out, errOut string
		code        int
	}
	syncAndHandle := func(ready, reason, message string) result {
		t.Helper()
		before := k.must("get", "ks", "shop", "-o", `jsonpath={.metadata.annotations.reconcile\.fluxcd\.io/requestedAt}`)
		done := make(chan result, 1)
		go func() {
			out, errOut, code := p.run("sync", "shop", "--wait", "--timeout", "60s")
			done <- result{out, errOut, code}
		}()
		// The source is asked first; the Kustomization only once the
		// source has handled the request.
		token := waitRequest(t, k, "gitrepository", before)
		if got := k.must("get", "ks", "shop", "-o", `jsonpath={.metadata.annotations.reconcile\.fluxcd\.io/requestedAt}`); got != before {
			t.Errorf("kustomization asked (%q) before its source fetched", got)
		}
		writeStatus(t, k, "gitrepository", "shop", token, "True", "Succeeded", "stored artifact", "")
		if got := waitRequest(t, k, "kustomization", before); got != token {
			t.Errorf("kustomization request %q, gitrepository's %q", got, token)
		}
		// A status of this request still in progress must not end the wait.
		writeStatus(t, k, "kustomization", "shop", token, "Unknown", "Progressing", "reconciliation in progress", "")
		time.Sleep(500 * time.Millisecond)
		select {
		case r := <-done:
			t.Fatalf("sync ended while the kustomization was in progress: exit %d\n%s%s", r.code, r.out, r.errOut)
		default:
		}
		writeStatus(t, k, "kustomization", "shop", token, ready, reason, message, `"lastAppliedRevision":"main@sha1:abc"`)
		select {
		case r := <-done:
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("sync --wait did not end after the kustomization was handled")
		}
		return result{}
	}

	r := syncAndHandle("True", "ReconciliationSucceeded", "Applied revision: main@sha1:abc")
	if r.code != 0 || !strings.Contains(r.out, "✔ kustomization/shop ready") || !strings.Contains(r.errOut, "◎ waiting for kustomization/shop…") {
		t.Errorf("sync --wait to Ready: exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
	}
	if strings.Contains(r.errOut, "\r") {
		t.Errorf("progress rewritten in place on a pipe:\n%q", r.errOut)
	}
	buildErr := "kustomize build failed: deploy/deployment.yaml:14: spec.replicas: Invalid value: \"three\": must be an integer"
	r = syncAndHandle("False", "BuildFailed", buildErr)
	if r.code == 0 || !strings.Contains(r.errOut, "deploy/deployment.yaml:14") {
		t.Errorf("sync --wait to a build failure: exit %d, want non-zero with the file:line\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
	}

	// Nobody handles the request: the timeout ends the wait.
	_, errOut, code := p.run("sync", "shop", "--wait", "--timeout", "2s")
	if code == 0 || !strings.Contains(errOut, "timed out") {
		t.Errorf("sync --wait with no controller: exit %d: %s", code, errOut)
	}
	if _, errOut, code := p.run("sync", "nope"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("sync of a missing kustomization: exit %d: %s", code, errOut)
	}
}

// waitRequest waits for a reconcile request on kind/shop newer than
// before, and returns it.
func waitRequest(t *testing.T, k *kubectl, kind, before string) string {
	t.Helper()
	var token string
	eventually(t, 20*time.Second, func() error {
		token = k.must("get", kind, "shop", "-o", `jsonpath={.metadata.annotations.reconcile\.fluxcd\.io/requestedAt}`)
		if token == "" || token == before {
			return fmt.Errorf("no new reconcile request on the %s (%q)", kind, token)
		}
		return nil
	})
	return token
}

func TestPluginKubeconfigMerge(t *testing.T) {
	s := startServer(t)
	p := newPluginRunner(t, s, "1.33")
	dir := t.TempDir()
	target := filepath.Join(dir, "config")
	other := `apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: https://10.0.0.1:6443
users:
- name: other
  user:
    token: abc
contexts:
- name: other
  context:
    cluster: other
    user: other
current-context: other
`
	if err := os.WriteFile(target, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	p.env = append(p.env, "KUBECONFIG="+target)
	printed := p.must("kubeconfig", "--context-name", "lab")
	if !strings.Contains(printed, "name: lab") || !strings.Contains(printed, "current-context: lab") || !strings.Contains(printed, s.URL) {
		t.Errorf("kubeconfig printed:\n%s", printed)
	}
	p.must("kubeconfig", "--merge")
	kubectlBin, _ := cluster.Kubectl("1.33")
	env := []string{"KUBECONFIG=" + target}
	out, errOut, code := cluster.Run(context.Background(), env, "", kubectlBin, "config", "get-contexts", "-o", "name")
	if code != 0 || out != "other\nskiff\n" {
		t.Errorf("contexts after merge: exit %d %q %s", code, out, errOut)
	}
	out, _, _ = cluster.Run(context.Background(), env, "", kubectlBin, "config", "current-context")
	if strings.TrimSpace(out) != "skiff" {
		t.Errorf("current context after merge: %q", out)
	}
	// The merged context reaches the server (the old one is untouched).
	if out, errOut, code := cluster.Run(context.Background(), env, "", kubectlBin, "get", "ns", "kube-system", "-o", "name"); code != 0 || out != "namespace/kube-system\n" {
		t.Errorf("kubectl through the merged context: exit %d %q %s", code, out, errOut)
	}
	out, _, _ = cluster.Run(context.Background(), env, "", kubectlBin, "config", "view", "-o", "jsonpath={.clusters[?(@.name==\"other\")].cluster.server}")
	if out != "https://10.0.0.1:6443" {
		t.Errorf("other cluster after merge: %q", out)
	}
	// Merging again replaces, it does not duplicate.
	p.must("kubeconfig", "--merge", "--set-current=false")
	out, _, _ = cluster.Run(context.Background(), env, "", kubectlBin, "config", "get-contexts", "-o", "name")
	if out != "other\nskiff\n" {
		t.Errorf("contexts after a second merge: %q", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("merge left files behind: %v", entries)
	}
}

// TestPluginSyncGitOps drives sync --wait against the real GitOps
// controllers and a real git repository: a good revision is applied
// (exit 0), a broken one fails with the file and line (exit 1).
func TestPluginSyncGitOps(t *testing.T) {
	out, err := exec.Command(skiffBin, "server", "--help").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`known: [^)]*\bkustomization\b`).Match(out) {
		t.Skip("this skiff has no GitOps controllers")
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.email=e2e@skiff.dev", "-c", "user.name=e2e"}, args...)...)
		cmd.Dir = repo
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	write := func(data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(repo, "deploy"), 0o755); err != nil {
			t.Fatal(err)
		}
		cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop-config\n  namespace: default\ndata:\n" + data
		if err := os.WriteFile(filepath.Join(repo, "deploy", "cm.yaml"), []byte(cm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	write("  color: blue\n")
	git("add", ".")
	git("commit", "-qm", "blue")

	s := startServer(t)
	p := newPluginRunner(t, s, "1.33")
	k := newKubectl(t, s, "1.33")
	objs := strings.Replace(pluginFluxObjects, "https://git.example.com/shop.git", "file://"+repo, 1)
	if out, errOut, code := k.runIn(objs, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	stdout, errOut, code := p.run("sync", "shop", "--wait", "--timeout", "90s")
	if code != 0 || !strings.Contains(stdout, "✔ kustomization/shop ready") {
		t.Fatalf("sync --wait of a good revision: exit %d\nstdout: %s\nstderr: %s", code, stdout, errOut)
	}
	if got := k.must("get", "configmap", "shop-config", "-o", "jsonpath={.data.color}"); got != "blue" {
		t.Errorf("configmap color = %q after sync", got)
	}

	write("  color: [unclosed\n")
	git("commit", "-qam", "broken")
	stdout, errOut, code = p.run("sync", "shop", "--wait", "--timeout", "90s")
	if code == 0 || !strings.Contains(errOut, "deploy/cm.yaml:7") {
		t.Errorf("sync --wait of a broken revision: exit %d, want non-zero naming deploy/cm.yaml:7\nstdout: %s\nstderr: %s", code, stdout, errOut)
	}
	if out, _, code := p.run("status"); code == 0 || !strings.Contains(out, "Kustomization default/shop is not Ready") {
		t.Errorf("status with a failed kustomization: exit %d\n%s", code, out)
	}
}
