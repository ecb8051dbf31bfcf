package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/nodeagent"
)

// The README's five-minute tour is the section under this heading.
const tourHeading = "## A five-minute tour"

// readmeCommand is one shell command of the README, with the strings it
// shows after it on `#> ` lines, which its output must contain, and the
// exit status a `#> exit N` line names (0 when none does: kubectl skiff
// diff, like kubectl diff, exits 1 when it shows differences).
type readmeCommand struct {
	line   string
	expect []string
	exit   int
}

var exitLine = regexp.MustCompile(`^exit (\d+)$`)

// shBlocks returns the ```sh blocks of text, each as its lines.
func shBlocks(text string) [][]string {
	var blocks [][]string
	var cur []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case !in && strings.TrimSpace(l) == "```sh":
			in, cur = true, nil
		case in && strings.TrimSpace(l) == "```":
			in = false
			blocks = append(blocks, cur)
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

// readmeSection returns the text from heading to the next "## " heading.
func readmeSection(readme, heading string) (string, bool) {
	i := strings.Index(readme, "\n"+heading+"\n")
	if i < 0 {
		return "", false
	}
	rest := readme[i+1+len(heading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest, true
}

// tourCommands parses the tour's blocks: a line is a command (a trailing
// backslash continues it), `#> text` is what the command before it
// prints, other comment lines are prose. A here-document would make one
// command span lines this parser does not join, so it is refused.
func tourCommands(blocks [][]string) ([]readmeCommand, error) {
	var cmds []readmeCommand
	for _, block := range blocks {
		for i := 0; i < len(block); i++ {
			l := strings.TrimSpace(block[i])
			switch {
			case l == "":
			case strings.HasPrefix(l, "#>"):
				if len(cmds) == 0 {
					return nil, fmt.Errorf("expected output %q before any command", l)
				}
				c := &cmds[len(cmds)-1]
				want := strings.TrimSpace(strings.TrimPrefix(l, "#>"))
				if m := exitLine.FindStringSubmatch(want); m != nil {
					c.exit, _ = strconv.Atoi(m[1])
					continue
				}
				c.expect = append(c.expect, want)
			case strings.HasPrefix(l, "#"):
			default:
				for strings.HasSuffix(l, `\`) && i+1 < len(block) {
					i++
					l = strings.TrimSpace(strings.TrimSuffix(l, `\`)) + " " + strings.TrimSpace(block[i])
				}
				if strings.Contains(l, "<<") {
					return nil, fmt.Errorf("the tour's command %q has a here-document; write it as a file in examples/", l)
				}
				cmds = append(cmds, readmeCommand{line: l})
			}
		}
	}
	return cmds, nil
}

var spaces = regexp.MustCompile(`\s+`)

func squeeze(s string) string { return spaces.ReplaceAllString(s, " ") }

// TestREADMETopCommands: the README's first commands are `make run` and
// `make test`, and the Makefile's targets do what the README says.
func TestREADMETopCommands(t *testing.T) {
	readme, makefile := readFile(t, readmePath), readFile(t, "../Makefile")
	blocks := shBlocks(readme)
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```sh block")
	}
	var first []string
	for _, l := range blocks[0] {
		if f := strings.Fields(strings.SplitN(l, "#", 2)[0]); len(f) > 0 {
			first = append(first, strings.Join(f, " "))
		}
	}
	if strings.Join(first, "; ") != "make run; make test" {
		t.Errorf("README.md's first commands are %q, want make run; make test", first)
	}
	for _, want := range []string{
		// make run is bin/skiff up with the data under ~/.skiff, which the
		// tour relies on (TestREADMETour starts it so).
		"DATA_DIR  ?= $(HOME)/.skiff\n",
		"\nrun: build ## ",
		"\n\t$(BIN)/skiff up --data-dir $(DATA_DIR)\n",
		"\ntest: build ## ",
		"\n\tSKIFF_BIN=$(CURDIR)/$(BIN)/skiff $(GO) test -count=1 -timeout 25m ./...\n",
		"\nimage: ## ",
	} {
		if !strings.Contains(makefile, want) {
			t.Errorf("the Makefile lacks %q, which the README's commands rely on", want)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMETour runs the README's five-minute tour as a user would: in
// a directory laid out as the checkout (the Makefile, bin/ with skiff and
// kubectl-skiff, examples/), with HOME in a temporary directory, and `skiff
// up --data-dir $HOME/.skiff` running as `make run` starts it (on a free
// port and with a unique node name, so it can share the engine with other
// tests). Every command runs as written, in one shell, in order; each must
// exit 0 and print what its `#>` lines show. Stock kubectl, real git, real
// Docker.
func TestREADMETour(t *testing.T) {
	readme := readFile(t, readmePath)
	tour, ok := readmeSection(readme, tourHeading)
	if !ok {
		t.Fatalf("README.md has no %q section", tourHeading)
	}
	cmds, err := tourCommands(shBlocks(tour))
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) < 10 {
		t.Fatalf("the tour has %d commands; the parser found too few:\n%+v", len(cmds), cmds)
	}

	work := t.TempDir()
	home := filepath.Join(work, "home")
	checkout := filepath.Join(work, "checkout")
	for _, d := range []string{home, checkout} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"Makefile": filepath.Join(root, "Makefile"),
		"bin":      pluginBin(t),
		"examples": filepath.Join(root, "examples"),
	} {
		if err := os.Symlink(target, filepath.Join(checkout, name)); err != nil {
			t.Fatal(err)
		}
	}
	// skiff up reads HOME for the kubeconfig it offers to merge into; a
	// test must never touch the real one.
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "")

	s, err := cluster.Start(cluster.Options{Bin: skiffBin, DataDir: filepath.Join(home, ".skiff"), Subcommand: "up",
		Args: []string{"--node-name", uniqueName("readme")}})
	if err != nil {
		t.Fatal(err)
	}
	id := clusterIDOf(t, s)
	t.Cleanup(func() {
		// Agents the tour's `kubectl skiff nodes add` started, should
		// the tour stop before its `nodes remove`.
		pids, _ := filepath.Glob(filepath.Join(s.DataDir(), "nodes", "*", "agent.pid"))
		for _, f := range pids {
			if b, err := os.ReadFile(f); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		s.Kill()
		removeClusterContainers(t, id)
		if t.Failed() {
			t.Logf("skiff up log:\n%s", tail(s.Log(), 6000))
		}
	})
	// make run's user starts typing once it says the node is Ready.
	eventually(t, 90*time.Second, func() error {
		if !strings.Contains(s.Log(), "Try:") {
			return fmt.Errorf("skiff up has not reported the node Ready")
		}
		return nil
	})
	if want := "kubectl skiff kubeconfig --data-dir " + s.DataDir() + " --merge"; !strings.Contains(s.Log(), want) {
		t.Errorf("skiff up without a terminal does not print the merge command %q", want)
	}

	steps := runTour(t, checkout, home, cmds)
	for i, c := range cmds {
		st, ran := steps[i]
		if !ran {
			t.Fatalf("tour step %d did not run: %s", i+1, c.line)
		}
		if st.code != c.exit {
			t.Fatalf("tour step %d exited %d, want %d: %s\n%s", i+1, st.code, c.exit, c.line, st.out)
		}
		got := squeeze(st.out)
		for _, want := range c.expect {
			if !strings.Contains(got, squeeze(want)) {
				t.Errorf("tour step %d: %s\nprinted no %q:\n%s", i+1, c.line, want, st.out)
			}
		}
		t.Logf("step %d: %s\n%s", i+1, c.line, strings.TrimSpace(st.out))
	}
}

type tourStep struct {
	out  string
	code int
}

// runTour runs the commands in one bash, so `export` and `cd` carry over
// as in a terminal, with a marker around each so its output and exit code
// can be told apart; it stops at the first failure. The script is a file:
// commands that read stdin (kubectl run -i) must not eat the script.
func runTour(t *testing.T, dir, home string, cmds []readmeCommand) map[int]tourStep {
	t.Helper()
	var script strings.Builder
	for i, c := range cmds {
		fmt.Fprintf(&script, "printf '\\n@@tour-begin %d@@\\n'\n%s\n__rc=$?\nprintf '\\n@@tour-end %d %%d@@\\n' \"$__rc\"\n[ \"$__rc\" -eq %d ] || exit 1\n", i, c.line, i, c.exit)
	}
	path := filepath.Join(t.TempDir(), "tour.sh")
	if err := os.WriteFile(path, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", path)
	cmd.Dir = dir
	// GIT_SSL_CAINFO outranks the http.sslCAInfo the tour sets; some
	// machines (this project's CI among them) set it for their own CAs.
	env := []string{}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "KUBECONFIG" && name != "HOME" && name != "GIT_SSL_CAINFO" {
			env = append(env, kv)
		}
	}
	// A fresh HOME has no git identity; a user's git has one.
	cmd.Env = append(env, "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Tour", "GIT_AUTHOR_EMAIL=tour@example.com", "GIT_COMMITTER_NAME=Tour", "GIT_COMMITTER_EMAIL=tour@example.com")
	// One writer for both, so stdout and stderr lines keep their order.
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the tour did not finish within 10 minutes:\n%s", tail(out.String(), 6000))
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return splitTour(out.String())
}

var tourMarker = regexp.MustCompile(`(?m)^@@tour-(begin|end) (\d+)(?: (\d+))?@@$`)

// splitTour cuts the shell's output at the markers runTour wrote.
func splitTour(out string) map[int]tourStep {
	steps := map[int]tourStep{}
	begin := map[int]int{}
	for _, m := range tourMarker.FindAllStringSubmatchIndex(out, -1) {
		n, _ := strconv.Atoi(out[m[4]:m[5]])
		if out[m[2]:m[3]] == "begin" {
			begin[n] = m[1]
			continue
		}
		code, _ := strconv.Atoi(out[m[6]:m[7]])
		steps[n] = tourStep{out: out[begin[n]:m[0]], code: code}
	}
	return steps
}

// TestREADMETourParser pins the parser the tour test relies on.
func TestREADMETourParser(t *testing.T) {
	text := "intro\n```sh\nmake run\n```\n## A five-minute tour\nprose\n```sh\n# a comment\necho a \\\n  b   # joined\n#> a b\n\nfalse\n#> exit 1\n```\n```go\nnot shell\n```\n## Next\n```sh\nnot in the tour\n```\n"
	tour, ok := readmeSection(text, tourHeading)
	if !ok {
		t.Fatal("section not found")
	}
	cmds, err := tourCommands(shBlocks(tour))
	if err != nil {
		t.Fatal(err)
	}
	want := []readmeCommand{{line: "echo a b   # joined", expect: []string{"a b"}}, {line: "false", exit: 1}}
	if fmt.Sprint(cmds) != fmt.Sprint(want) {
		t.Fatalf("parsed %+v, want %+v", cmds, want)
	}
	if _, err := tourCommands([][]string{{"cat <<EOF"}}); err == nil {
		t.Error("a here-document was accepted")
	}
	steps := splitTour("\n@@tour-begin 0@@\nhello\n\n@@tour-end 0 0@@\n\n@@tour-begin 1@@\n\n@@tour-end 1 3@@\n")
	if steps[0].code != 0 || !strings.Contains(steps[0].out, "hello") || steps[1].code != 3 {
		t.Fatalf("split %+v", steps)
	}
}

// TestREADMEMakeImage: `make image` (the tour's first command) imports
// a working image from the host's static busybox. It is built under
// another tag, so the shared busybox:local is left alone.
func TestREADMEMakeImage(t *testing.T) {
	tag := uniqueName("busybox:readme")
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", tag).Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, errOut, code := cluster.Run(ctx, nil, "", "make", "-C", "..", "--no-print-directory", "image", "IMAGE="+tag)
	if code != 0 || !strings.Contains(out, tag+" imported") {
		t.Fatalf("make image IMAGE=%s: exit %d\n%s%s", tag, code, out, errOut)
	}
	out, errOut, code = cluster.Run(ctx, nil, "", "docker", "run", "--rm", tag, "sh", "-c", "id -un; wget --help 2>&1 | head -1; test -d /tmp && echo tmp")
	if code != 0 || !strings.Contains(out, "root\n") || !strings.Contains(out, "BusyBox") || !strings.Contains(out, "tmp") {
		t.Fatalf("the image made by make image does not run busybox: exit %d\n%s%s", code, out, errOut)
	}
	out, _, _ = cluster.Run(ctx, nil, "", "make", "-C", "..", "--no-print-directory", "image", "IMAGE="+tag)
	if !strings.Contains(out, "already there") {
		t.Errorf("a second make image did not keep the image: %s", out)
	}
}

// TestUpMergeKubeconfig: once the node is Ready, `skiff up` offers the
// cluster as context "skiff" of ~/.kube/config. Without a terminal it
// only prints the command that would merge it, and that command works;
// with --merge-kubeconfig=yes it merges, and the stock kubectl reaches
// the cluster with no KUBECONFIG.
func TestUpMergeKubeconfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home) // skiff up and kubectl find ~/.kube/config here
	t.Setenv("KUBECONFIG", "")
	target := filepath.Join(home, ".kube", "config")
	kubectlBin, err := cluster.Kubectl("1.33")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + pluginBin(t) + string(os.PathListSeparator) + os.Getenv("PATH")}
	run := func(t *testing.T, name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, errOut, code := cluster.Run(ctx, env, "", name, args...)
		if code != 0 {
			t.Fatalf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	up := func(args ...string) (*cluster.Server, string) {
		t.Helper()
		s, _, node := startUp(t, args...)
		eventually(t, 90*time.Second, func() error {
			if !strings.Contains(s.Log(), "Try:") {
				return fmt.Errorf("skiff up has not reported the node Ready")
			}
			return nil
		})
		return s, node
	}

	s, node := up()
	want := "kubectl skiff kubeconfig --data-dir " + s.DataDir() + " --merge"
	if !strings.Contains(s.Log(), want) {
		t.Fatalf("skiff up without a terminal does not print %q", want)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("skiff up without a terminal touched %s (%v); ask must mean no there", target, err)
	}
	if !strings.Contains(s.Log(), "export KUBECONFIG="+s.Kubeconfig()) {
		t.Errorf("skiff up, not merged, does not tell to export KUBECONFIG")
	}
	run(t, kubectlBin, strings.Fields(strings.TrimPrefix(want, "kubectl "))...)
	if out := run(t, kubectlBin, "get", "nodes"); !strings.Contains(out, node) {
		t.Errorf("after the printed command, kubectl get nodes (no KUBECONFIG) shows no %s:\n%s", node, out)
	}
	s.Kill()

	s, node = up("--merge-kubeconfig=yes")
	if want := `context "skiff" merged into ` + target; !strings.Contains(s.Log(), want) {
		t.Fatalf("skiff up --merge-kubeconfig=yes does not say %q", want)
	}
	if strings.Contains(s.Log(), "export KUBECONFIG=") {
		t.Errorf("skiff up, merged, still tells to export KUBECONFIG")
	}
	if out := run(t, kubectlBin, "config", "current-context"); strings.TrimSpace(out) != "skiff" {
		t.Errorf("current context %q, want skiff", out)
	}
	// The second cluster replaced the first under the same name.
	if out := run(t, kubectlBin, "get", "nodes"); !strings.Contains(out, node) {
		t.Errorf("kubectl get nodes through context skiff shows no %s:\n%s", node, out)
	}

	s.Kill()

	t.Run("on a terminal it asks, and y merges", func(t *testing.T) {
		if _, err := exec.LookPath("script"); err != nil {
			t.Skip("no script(1) to give skiff up a terminal")
		}
		if err := os.Remove(target); err != nil {
			t.Fatal(err)
		}
		port, err := cluster.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		dataDir, node := filepath.Join(t.TempDir(), "data"), uniqueName("tty")
		// script(1) runs skiff up on a pseudo-terminal and relays our
		// pipe to it, as a person at a terminal types.
		line := fmt.Sprintf("exec %s up --data-dir %s --listen 127.0.0.1:%d --node-name %s", skiffBin, dataDir, port, node)
		cmd := exec.Command("script", "-qefc", line, "/dev/null")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			// Killing script closes the terminal: skiff up gets SIGHUP.
			_ = cmd.Process.Kill()
			<-exited
			eventually(t, 30*time.Second, func() error {
				if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
					c.Close()
					return fmt.Errorf("skiff up still listens after its terminal closed")
				}
				return nil
			})
			if tok, err := os.ReadFile(filepath.Join(dataDir, "node-token")); err == nil {
				if id, err := nodeagent.ClusterIDOfToken(strings.TrimSpace(string(tok))); err == nil {
					removeClusterContainers(t, id)
				}
			}
			if t.Failed() {
				t.Logf("skiff up on a terminal printed:\n%s", tail(out.String(), 4000))
			}
		})
		eventually(t, 90*time.Second, func() error {
			if !strings.Contains(out.String(), "[Y/n]") {
				return fmt.Errorf("skiff up has not asked")
			}
			return nil
		})
		if _, err := stdin.Write([]byte("y\n")); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			if !strings.Contains(out.String(), "Try:") {
				return fmt.Errorf("skiff up has not gone on after the answer")
			}
			return nil
		})
		if want := `context "skiff" merged into ` + target; !strings.Contains(out.String(), want) {
			t.Fatalf("skiff up answered y does not say %q", want)
		}
		if out := run(t, kubectlBin, "get", "nodes"); !strings.Contains(out, node) {
			t.Errorf("kubectl get nodes through context skiff shows no %s:\n%s", node, out)
		}
		t.Logf("skiff up on a terminal:\n%s", regexp.MustCompile(`(?m)^time=.*\n`).ReplaceAllString(out.String(), ""))
	})
}
