package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/skiff-dev/skiff/plugin/kubeconfig"
)

// offerFixture writes a server-like kubeconfig in a data directory and
// points KUBECONFIG at a file that does not exist yet: the offer's
// target. (clientcmd reads HOME once, at init, so only KUBECONFIG keeps
// the test away from the real ~/.kube/config.)
func offerFixture(t *testing.T) (dataDir, source, target string) {
	t.Helper()
	target = filepath.Join(t.TempDir(), ".kube", "config")
	t.Setenv("KUBECONFIG", target)
	if got := kubeconfig.Target(); got != target {
		t.Fatalf("merge target is %s, not the test's %s", got, target)
	}
	dataDir = t.TempDir()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443", CertificateAuthorityData: []byte("CA")}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: "secret"}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	cfg.CurrentContext = "local"
	source = filepath.Join(dataDir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, source); err != nil {
		t.Fatal(err)
	}
	return dataDir, source, target
}

func TestMergeOffer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      mergeMode
		terminal  bool
		answer    string
		wantMerge bool
	}{
		{name: "yes merges without asking", mode: mergeYes, answer: "n\n", wantMerge: true},
		{name: "no never merges", mode: mergeNo, terminal: true, answer: "y\n"},
		{name: "ask without a terminal is no", mode: mergeAsk, answer: "y\n"},
		{name: "ask, Enter", mode: mergeAsk, terminal: true, answer: "\n", wantMerge: true},
		{name: "ask, y", mode: mergeAsk, terminal: true, answer: "Y\n", wantMerge: true},
		{name: "ask, n", mode: mergeAsk, terminal: true, answer: "n\n"},
		{name: "ask, end of input", mode: mergeAsk, terminal: true, answer: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir, source, target := offerFixture(t)
			var out bytes.Buffer
			merged, err := mergeOffer{mode: tc.mode, source: source, dataDir: dataDir,
				in: strings.NewReader(tc.answer), out: &out, terminal: tc.terminal}.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if merged != tc.wantMerge {
				t.Fatalf("merged = %v, want %v; printed:\n%s", merged, tc.wantMerge, out.String())
			}
			asked := strings.Contains(out.String(), "[Y/n]")
			if wantAsk := tc.mode == mergeAsk && tc.terminal; asked != wantAsk {
				t.Errorf("asked = %v, want %v; printed:\n%s", asked, wantAsk, out.String())
			}
			cfg, err := clientcmd.LoadFromFile(target)
			if !tc.wantMerge {
				if err == nil {
					t.Fatalf("%s was written though nothing was merged: %+v", target, cfg)
				}
				want := "kubectl skiff kubeconfig --data-dir " + dataDir + " --merge"
				if !strings.Contains(out.String(), want) {
					t.Errorf("does not print the command that would merge (%q):\n%s", want, out.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx, ok := cfg.Contexts["skiff"]
			if !ok || cfg.CurrentContext != "skiff" {
				t.Fatalf("context skiff missing or not current: %+v", cfg)
			}
			if c := cfg.Clusters[ctx.Cluster]; c == nil || c.Server != "https://127.0.0.1:6443" || string(c.CertificateAuthorityData) != "CA" {
				t.Errorf("cluster of context skiff: %+v", c)
			}
			if u := cfg.AuthInfos[ctx.AuthInfo]; u == nil || u.Token != "secret" {
				t.Errorf("user of context skiff: %+v", u)
			}
		})
	}
}

// A merge keeps the user's other contexts and their current one is
// replaced only by the merge itself.
func TestMergeOfferKeepsOtherContexts(t *testing.T) {
	dataDir, source, target := offerFixture(t)
	mine := clientcmdapi.NewConfig()
	mine.Clusters["work"] = &clientcmdapi.Cluster{Server: "https://work.example:6443"}
	mine.AuthInfos["me"] = &clientcmdapi.AuthInfo{Token: "mine"}
	mine.Contexts["work"] = &clientcmdapi.Context{Cluster: "work", AuthInfo: "me"}
	mine.CurrentContext = "work"
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := clientcmd.WriteToFile(*mine, target); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := (mergeOffer{mode: mergeYes, source: source, dataDir: dataDir, in: strings.NewReader(""), out: &out}).run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Contexts["work"]; !ok || cfg.Clusters["work"] == nil || cfg.AuthInfos["me"] == nil {
		t.Errorf("the user's own context was lost: %+v", cfg)
	}
	if cfg.CurrentContext != "skiff" {
		t.Errorf("current context %q, want skiff", cfg.CurrentContext)
	}
}

// When KUBECONFIG already names the server's own file, there is nothing
// to merge into: the file is left as it is.
func TestMergeOfferIntoItself(t *testing.T) {
	dataDir, source, _ := offerFixture(t)
	t.Setenv("KUBECONFIG", source)
	before, _ := os.ReadFile(source)
	var out bytes.Buffer
	merged, err := mergeOffer{mode: mergeYes, source: source, dataDir: dataDir, in: strings.NewReader(""), out: &out}.run(context.Background())
	if err != nil || merged {
		t.Fatalf("merged=%v err=%v, want neither", merged, err)
	}
	if after, _ := os.ReadFile(source); !bytes.Equal(before, after) {
		t.Errorf("the server's kubeconfig was rewritten:\n%s", after)
	}
}

func TestMergeModeFlag(t *testing.T) {
	var m mergeMode
	for _, ok := range []string{"ask", "yes", "no"} {
		if err := m.Set(ok); err != nil || string(m) != ok {
			t.Errorf("Set(%q): %v, %q", ok, err, m)
		}
	}
	if err := m.Set("maybe"); err == nil {
		t.Error("Set(maybe) accepted")
	}
}

// Ctrl-C while the question waits stops waiting: nothing is merged.
func TestMergeOfferInterrupted(t *testing.T) {
	dataDir, source, target := offerFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, w := io.Pipe() // nobody answers
	defer w.Close()
	var out bytes.Buffer
	merged, err := mergeOffer{mode: mergeAsk, terminal: true, source: source, dataDir: dataDir, in: r, out: &out}.run(ctx)
	if err != nil || merged {
		t.Fatalf("merged=%v err=%v after Ctrl-C", merged, err)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Errorf("%s written after Ctrl-C (%v)", target, err)
	}
}
