package kubeconfig

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func skiffConfig(t *testing.T) *clientcmdapi.Config {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("CA PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443", CertificateAuthority: ca}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "secret"}
	cfg.Contexts["ctx"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: "default"}
	cfg.Contexts["unrelated"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "ctx"
	return cfg
}

func TestExtractRenamesAndInlines(t *testing.T) {
	out, err := extract(skiffConfig(t), "skiff")
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contexts) != 1 || len(out.Clusters) != 1 || len(out.AuthInfos) != 1 || out.CurrentContext != "skiff" {
		t.Fatalf("extract kept more than one context: %+v", out)
	}
	c := out.Contexts["skiff"]
	if c.Cluster != "skiff" || c.AuthInfo != "skiff" || c.Namespace != "default" {
		t.Errorf("context = %+v", c)
	}
	if cl := out.Clusters["skiff"]; string(cl.CertificateAuthorityData) != "CA PEM" || cl.CertificateAuthority != "" {
		t.Errorf("CA not inlined: %+v", cl)
	}
	bad := skiffConfig(t)
	bad.CurrentContext = "missing"
	if _, err := extract(bad, "skiff"); err == nil {
		t.Error("extract of a missing context succeeded")
	}
}

func TestMergeKeepsOthersAndReplaces(t *testing.T) {
	add, err := extract(skiffConfig(t), "skiff")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	existing := clientcmdapi.NewConfig()
	existing.Clusters["other"] = &clientcmdapi.Cluster{Server: "https://10.0.0.1"}
	existing.AuthInfos["other"] = &clientcmdapi.AuthInfo{Token: "o"}
	existing.Contexts["other"] = &clientcmdapi.Context{Cluster: "other", AuthInfo: "other"}
	existing.Clusters["skiff"] = &clientcmdapi.Cluster{Server: "https://stale:1"}
	existing.CurrentContext = "other"
	if err := clientcmd.WriteToFile(*existing, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := mergeInto(path, add, "skiff", false); err != nil {
		t.Fatal(err)
	}
	got, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentContext != "other" {
		t.Errorf("current context = %q, want other kept (--set-current=false)", got.CurrentContext)
	}
	if got.Clusters["other"] == nil || got.Contexts["other"] == nil || got.Clusters["skiff"].Server != "https://127.0.0.1:6443" {
		t.Errorf("merged config: %+v", got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want the file's 0640 kept", st.Mode().Perm())
	}
	if err := mergeInto(path, add, "skiff", true); err != nil {
		t.Fatal(err)
	}
	if got, _ = clientcmd.LoadFromFile(path); got.CurrentContext != "skiff" {
		t.Errorf("current context = %q, want skiff", got.CurrentContext)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	// A file that does not exist yet is created, with its directory.
	fresh := filepath.Join(t.TempDir(), "kube", "config")
	if err := mergeInto(fresh, add, "skiff", false); err != nil {
		t.Fatal(err)
	}
	if got, err := clientcmd.LoadFromFile(fresh); err != nil || got.CurrentContext != "skiff" {
		t.Errorf("new file: %v, current %q", err, got.CurrentContext)
	}
	if st, _ := os.Stat(fresh); st.Mode().Perm() != 0o600 {
		t.Errorf("new file mode = %v, want 0600 (it holds a token)", st.Mode().Perm())
	}
}
