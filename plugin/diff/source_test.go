package diff

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/gitsync/source"
)

func TestCommitOf(t *testing.T) {
	h := strings.Repeat("ab", 20)
	for rev, want := range map[string]string{"main@sha1:" + h: h, "sha1:" + h: h, "v1.0@sha1:" + h: h, "sha256:" + h: "", "main@sha1:abc": ""} {
		got, ok := commitOf(rev)
		if got != want || ok != (want != "") {
			t.Errorf("commitOf(%q) = %q, %v", rev, got, ok)
		}
	}
}

func TestLocalTreeRootsAtTheWorkTree(t *testing.T) {
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "apps", "shop"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr, err := localTree(filepath.Join(repo, "apps", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.root != repo || tr.path != "apps/shop" {
		t.Errorf("tree %+v", tr)
	}
	plain := t.TempDir()
	if tr, err = localTree(plain); err != nil || tr.root != plain || tr.path != "." {
		t.Errorf("tree outside git: %+v %v", tr, err)
	}
	if _, err := localTree(filepath.Join(plain, "missing")); err == nil {
		t.Error("a missing --path was accepted")
	}
}

func gitRepo(art *flux.Artifact, specURL string) *flux.GitRepository {
	return &flux.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "default"},
		Spec: flux.GitRepositorySpec{URL: specURL}, Status: flux.GitRepositoryStatus{Artifact: art}}
}

func TestTreeReadsTheArtifactInPlace(t *testing.T) {
	dir := t.TempDir()
	art := &flux.Artifact{URL: (&url.URL{Scheme: "file", Path: dir}).String(), Revision: "main@sha1:" + strings.Repeat("a", 40)}
	f := &sourceFetcher{}
	tr, err := f.tree(context.Background(), kustomization(), gitRepo(art, "file:///nowhere"))
	if err != nil || tr.root != dir || tr.path != "./" {
		t.Fatalf("tree %+v, %v", tr, err)
	}
}

func TestRequestForTheBuiltinRemoteGoesOverHTTPS(t *testing.T) {
	core := fake.NewSimpleClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "skiff-cluster", Namespace: "kube-system"},
		Data: map[string]string{flux.GitRemoteDirKey: "/srv/skiff/git"}})
	f := &sourceFetcher{cfg: &rest.Config{Host: "https://10.0.0.5:6443", BearerToken: "tok",
		TLSClientConfig: rest.TLSClientConfig{CAData: []byte("CA")}}, core: core}
	rev := "main@sha1:" + strings.Repeat("c", 40)
	art := &flux.Artifact{URL: "file:///srv/skiff/gitsync/artifacts/default/shop/x", Revision: rev}
	req, err := f.request(context.Background(), gitRepo(art, "file:///srv/skiff/git/default/shop.git"), art)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL != "https://10.0.0.5:6443/git/default/shop.git" || string(req.Secret[source.SecretBearerToken]) != "tok" ||
		string(req.Secret[source.SecretCACert]) != "CA" || req.Ref.Commit != strings.Repeat("c", 40) {
		t.Errorf("request %+v", req)
	}
	// A file:// source elsewhere on the server cannot be fetched from here.
	_, err = f.request(context.Background(), gitRepo(art, "file:///srv/other/repo.git"), art)
	if err == nil || !strings.Contains(err.Error(), "not on this machine") {
		t.Errorf("err = %v", err)
	}
}
