package diff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/remote"
	"github.com/skiff-dev/skiff/reconcile/gitsync/source"
)

// tree is a source tree to render: Root and the Path within it that plays
// spec.path.
type tree struct {
	root, path string
	// what says where it came from, for the first line of output.
	what string
	// cleanup removes a fetched copy.
	cleanup func()
}

// localTree is --path DIR: the directory stands for spec.path, as with
// `flux diff kustomization --path`. When DIR is inside a git work tree
// the whole work tree is the root, so that references such as ../base
// resolve as they do in the fetched source.
func localTree(dir string) (*tree, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("--path: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("--path %s is not a directory", dir)
	}
	root := abs
	for d := abs; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			root = d
			break
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, err
	}
	return &tree{root: root, path: filepath.ToSlash(rel), what: "local " + abs, cleanup: func() {}}, nil
}

// sourceTree is the source revision a Kustomization would apply: the
// artifact the GitRepository controller stored, read in place when this
// machine can read it (the plugin runs beside `skiff up`), else the same
// revision fetched again from the repository.
type sourceFetcher struct {
	cfg  *rest.Config
	core kubernetes.Interface
	// fetch forces a fetch even when the artifact is readable.
	fetch bool
	// warn receives notes (a digest that differs from the artifact's).
	warn io.Writer
}

func (f *sourceFetcher) tree(ctx context.Context, ks *flux.Kustomization, repo *flux.GitRepository) (*tree, error) {
	art := repo.Status.Artifact
	if art == nil {
		return nil, fmt.Errorf("GitRepository %s/%s has no artifact yet (%s): nothing to compare; use --path to diff a local tree",
			repo.Namespace, repo.Name, readyMessage(repo.Status.Conditions))
	}
	if !f.fetch {
		if dir, ok := artifactDir(art.URL); ok {
			return &tree{root: dir, path: ks.Spec.Path, what: "revision " + art.Revision, cleanup: func() {}}, nil
		}
	}
	req, err := f.request(ctx, repo, art)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "kubectl-skiff-diff-")
	if err != nil {
		return nil, err
	}
	req.Dir = filepath.Join(tmp, "src")
	fetched, err := source.Fetch(ctx, req)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("fetch revision %s of GitRepository %s/%s: %w", art.Revision, repo.Namespace, repo.Name, err)
	}
	if art.Digest != "" && fetched.Digest != "" && fetched.Digest != art.Digest && f.warn != nil {
		fmt.Fprintf(f.warn, "warning: the fetched tree of %s has digest %s, the stored artifact %s\n", art.Revision, fetched.Digest, art.Digest)
	}
	return &tree{root: req.Dir, path: ks.Spec.Path, what: "revision " + art.Revision, cleanup: func() { os.RemoveAll(tmp) }}, nil
}

// artifactDir returns the directory of a file:// artifact URL when this
// machine can read it.
func artifactDir(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return "", false
	}
	fi, err := os.Stat(u.Path)
	if err != nil || !fi.IsDir() {
		return "", false
	}
	if _, err := os.ReadDir(u.Path); err != nil {
		return "", false
	}
	return u.Path, true
}

// request describes the fetch of the artifact's revision. The built-in
// remote's repositories are file:// paths on the server's machine; from
// elsewhere they are fetched over the API server's https endpoint with
// the kubeconfig's token.
func (f *sourceFetcher) request(ctx context.Context, repo *flux.GitRepository, art *flux.Artifact) (source.Request, error) {
	req := source.Request{URL: repo.Spec.URL, Ignore: repo.Spec.Ignore}
	if repo.Spec.Timeout != nil {
		req.Timeout = repo.Spec.Timeout.Duration
	}
	commit, ok := commitOf(art.Revision)
	if !ok {
		return req, fmt.Errorf("revision %s of GitRepository %s/%s is not a git commit and its artifact %s is not readable here: run the diff on the server's machine, or use --path",
			art.Revision, repo.Namespace, repo.Name, art.URL)
	}
	req.Ref = source.Ref{Commit: commit}
	u, err := url.Parse(repo.Spec.URL)
	if err != nil {
		return req, fmt.Errorf("GitRepository %s/%s: url: %w", repo.Namespace, repo.Name, err)
	}
	if u.Scheme == "file" {
		if _, err := os.Stat(u.Path); err == nil {
			return req, nil // the repository is here: read it in place
		}
		dir, err := remote.RepoDir(ctx, f.core)
		if err != nil && !errors.Is(err, remote.ErrNoRemote) {
			return req, err
		}
		if dir == "" || filepath.Clean(u.Path) != flux.GitRemoteRepoDir(dir, repo.Namespace, repo.Name) {
			return req, fmt.Errorf("GitRepository %s/%s reads %s, which is not on this machine: run the diff there, or use --path",
				repo.Namespace, repo.Name, repo.Spec.URL)
		}
		return f.builtinRemote(req, repo)
	}
	if repo.Spec.SecretRef != nil {
		s, err := f.core.CoreV1().Secrets(repo.Namespace).Get(ctx, repo.Spec.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			return req, fmt.Errorf("secret of GitRepository %s/%s: %w", repo.Namespace, repo.Name, err)
		}
		req.Secret = s.Data
	}
	return req, nil
}

// builtinRemote fetches a repository of the built-in remote over https.
func (f *sourceFetcher) builtinRemote(req source.Request, repo *flux.GitRepository) (source.Request, error) {
	token, err := remote.Token(f.cfg)
	if err != nil {
		return req, err
	}
	req.URL = remote.URL(f.cfg, repo.Namespace, repo.Name)
	req.Secret = map[string][]byte{source.SecretBearerToken: []byte(token)}
	ca, err := remote.CAData(f.cfg)
	if err != nil {
		return req, err
	}
	if len(ca) > 0 {
		req.Secret[source.SecretCACert] = ca
	}
	return req, nil
}

// commitOf takes the commit out of a git revision ("main@sha1:<hex>",
// "sha1:<hex>").
func commitOf(rev string) (string, bool) {
	i := strings.LastIndex(rev, "sha1:")
	if i < 0 || (i > 0 && rev[i-1] != '@') {
		return "", false
	}
	hex := rev[i+len("sha1:"):]
	if len(hex) != 40 {
		return "", false
	}
	return hex, true
}

// sourceTree finds the Kustomization's GitRepository and its revision.
func (o *options) sourceTree(ctx context.Context, fc fluxapi.Client, f *sourceFetcher, ks *flux.Kustomization) (*tree, error) {
	sr := ks.Spec.SourceRef
	if sr.Kind != flux.GitRepositoryKind.Kind {
		return nil, fmt.Errorf("kustomization %s/%s reads from a %s; only GitRepository sources are supported (use --path)", ks.Namespace, ks.Name, sr.Kind)
	}
	ns := sr.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	repo, err := fc.GetGitRepository(ctx, ns, sr.Name)
	if err != nil {
		return nil, err
	}
	return f.tree(ctx, ks, repo)
}

func readyMessage(conds []metav1.Condition) string {
	return fluxapi.ReadyMessage(conds)
}
