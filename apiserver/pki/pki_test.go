package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

func TestEnsureCreatesThenReuses(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	c1, err := Ensure(dir, []string{"127.0.0.1", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CAFile, CAKeyFile, ServingFile, ServingKeyFile, AdminTokenFile, NodeTokenFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	c2, err := Ensure(dir, []string{"127.0.0.1", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if c1.AdminToken != c2.AdminToken || c1.NodeToken != c2.NodeToken || !c1.CA.Equal(c2.CA) {
		t.Fatal("credentials changed on reload")
	}
	if string(c1.Serving.Certificate[0]) != string(c2.Serving.Certificate[0]) {
		t.Fatal("serving certificate re-issued although its SANs still cover the hosts")
	}
	if c1.AdminToken == c1.NodeToken {
		t.Fatal("admin and node tokens are equal")
	}
	// A new SAN re-issues the serving certificate under the same CA.
	c3, err := Ensure(dir, []string{"127.0.0.1", "localhost", "skiff.example"}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(c3.Serving.Certificate[0])
	if err := leaf.VerifyHostname("skiff.example"); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c1.CA)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Fatalf("re-issued certificate does not chain to the CA: %v", err)
	}
}

func TestKubeconfigLoads(t *testing.T) {
	c, err := Ensure(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Kubeconfig("skiff", "https://127.0.0.1:6443", c.CAPEM, c.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://127.0.0.1:6443" || rc.BearerToken != c.AdminToken {
		t.Fatalf("rest config %s %q", rc.Host, rc.BearerToken)
	}
}

func TestNodeTokenCarriesTheCAHash(t *testing.T) {
	dir := t.TempDir()
	c, err := Ensure(dir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hash, err := ParseNodeToken(c.NodeToken)
	if err != nil {
		t.Fatal(err)
	}
	if hash != CAHash(c.CAPEM) {
		t.Fatalf("token hash %s, CA hash %s", hash, CAHash(c.CAPEM))
	}
	for _, bad := range []string{"", "abc", "K10zz::node:" + strings.Repeat("a", 40), "K10" + strings.Repeat("a", 64) + "::node:short"} {
		if _, err := ParseNodeToken(bad); err == nil {
			t.Errorf("ParseNodeToken(%q) accepted", bad)
		}
	}
	// The API server's client certificate chains to the CA.
	leaf, _ := x509.ParseCertificate(c.ClientCert.Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(c.CA)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil || leaf.Subject.CommonName != APIServerClientName {
		t.Fatalf("client certificate %s: %v", leaf.Subject.CommonName, err)
	}
}
