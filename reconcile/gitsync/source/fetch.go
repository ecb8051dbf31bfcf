package source

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// Fetch resolves req.Ref at req.URL and writes the kept files of that
// revision into req.Dir. See the package documentation for the steps.
func Fetch(ctx context.Context, req Request) (*Artifact, error) {
	if req.URL == "" {
		return nil, fmt.Errorf("%w: URL is empty", ErrInvalidRequest)
	}
	if req.Dir == "" {
		return nil, fmt.Errorf("%w: Dir is empty", ErrInvalidRequest)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ep, err := transport.NewEndpoint(req.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing URL: %v", ErrInvalidRequest, err)
	}
	shown := redact(req.URL)
	if ep.Protocol == "file" {
		return fetchLocal(ctx, req, ep.Path, shown)
	}
	if err := validateRef(req.Ref); err != nil {
		return nil, err
	}
	auth, err := buildAuth(ep, req.Secret, req.AllowInsecureHTTPCredentials, timeout)
	if err != nil {
		return nil, err
	}
	art, err := fetchRemote(ctx, req, auth)
	if err != nil {
		return nil, classify(ctx, err, auth, shown, timeout)
	}
	return art, nil
}

// fetchRemote lists the remote's refs, stops if the resolved revision is
// the caller's LastRevision, else fetches just that ref (depth 1 unless a
// commit must be found in history) into a private bare repository and
// writes the kept files.
func fetchRemote(ctx context.Context, req Request, auth *connAuth) (*Artifact, error) {
	t, pinned := pinnedCommit(req.Ref)
	// shallowOK: the server advertised "shallow", so depth 1 may be asked
	// for. A server without it (go-git's own upload-pack, dumb servers)
	// answers a depth request with no pack at all, so the whole history of
	// the one ref is fetched instead.
	shallowOK := false
	if !pinned || t.refName != "" {
		table, caps, err := listRemote(ctx, req.URL, auth)
		if err != nil {
			return nil, fmt.Errorf("listing remote refs: %w", err)
		}
		if t, err = resolve(req.Ref, table); err != nil {
			return nil, err
		}
		shallowOK = caps.Supports(capability.Shallow)
	}
	if req.LastRevision != "" && t.revision() == req.LastRevision {
		return &Artifact{Kind: KindGit, Revision: t.revision(), Unchanged: true}, nil
	}

	tmp, err := os.MkdirTemp("", "skiff-gitsync-")
	if err != nil {
		return nil, fmt.Errorf("creating clone directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	repo, err := git.PlainInit(tmp, true)
	if err != nil {
		return nil, fmt.Errorf("initialising clone: %w", err)
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{req.URL}})
	if err != nil {
		return nil, fmt.Errorf("initialising clone: %w", err)
	}
	opts := &git.FetchOptions{
		RemoteName: "origin", Auth: auth.method, CABundle: auth.caBundle,
		Tags: git.NoTags, Force: true,
	}
	switch {
	case t.refName != "":
		opts.RefSpecs = []config.RefSpec{config.RefSpec("+" + t.refName + ":" + t.refName)}
	default:
		// A bare commit may be anywhere: take every branch and tag.
		opts.RefSpecs = []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
	}
	if !t.full && shallowOK {
		opts.Depth = 1
	}
	if err := remote.FetchContext(ctx, opts); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetching: %w", err)
	}
	if !t.full {
		// The ref may have moved since it was listed; what was fetched is
		// what gets checked out and named in the revision.
		ref, err := repo.Storer.Reference(t.refName)
		if err != nil {
			return nil, fmt.Errorf("%w: %s vanished during fetch", ErrRefNotFound, t.refName)
		}
		if t.commit, err = peel(repo.Storer, ref.Hash()); err != nil {
			return nil, err
		}
	}
	return checkout(ctx, repo.Storer, t, req)
}

// fetchLocal serves a file:// URL. A git repository (work tree or bare) is
// read in place, without cloning, since its objects are already on this
// disk; anything else that is a directory is a folder source.
func fetchLocal(ctx context.Context, req Request, p, shown string) (*Artifact, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", shown, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: source %s is not a directory", ErrInvalidRequest, shown)
	}
	repo, err := git.PlainOpenWithOptions(p, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return fetchFolder(ctx, req)
	}
	if err != nil {
		return nil, fmt.Errorf("opening git repository %s: %w", shown, err)
	}
	if err := validateRef(req.Ref); err != nil {
		return nil, err
	}
	t, pinned := pinnedCommit(req.Ref)
	if !pinned || t.refName != "" {
		table, err := tableFromRepo(repo.Storer)
		if err != nil {
			return nil, fmt.Errorf("reading refs of %s: %w", shown, err)
		}
		if t, err = resolve(req.Ref, table); err != nil {
			return nil, fmt.Errorf("source %s: %w", shown, err)
		}
	}
	if req.LastRevision != "" && t.revision() == req.LastRevision {
		return &Artifact{Kind: KindGit, Revision: t.revision(), Unchanged: true}, nil
	}
	art, err := checkout(ctx, repo.Storer, t, req)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", shown, err)
	}
	return art, nil
}

// checkout writes the kept files of t.commit into req.Dir. For a pinned
// commit under a branch, the commit must be in that branch's history.
func checkout(ctx context.Context, s storer.Storer, t target, req Request) (*Artifact, error) {
	commit, err := object.GetCommit(s, t.commit)
	if err != nil {
		return nil, fmt.Errorf("%w: commit %s", ErrRefNotFound, t.commit)
	}
	if t.full && t.refName != "" {
		if err := inHistory(ctx, s, t); err != nil {
			return nil, err
		}
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading tree of %s: %w", t.commit, err)
	}
	entries, err := treeEntries(s, tree, req.Ignore)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkSize(entries, req.MaxSize); err != nil {
		return nil, err
	}
	if err := prepareDir(req.Dir); err != nil {
		return nil, err
	}
	digest, size, err := writeEntries(req.Dir, entries, req.MaxSize)
	if err != nil {
		return nil, err
	}
	return &Artifact{Kind: KindGit, Revision: t.revision(), Digest: digest, Size: size, Files: len(entries)}, nil
}

// inHistory checks that the pinned commit is reachable from the branch tip.
func inHistory(ctx context.Context, s storer.Storer, t target) error {
	ref, err := s.Reference(t.refName)
	if err != nil {
		return fmt.Errorf("%w: branch %q", ErrRefNotFound, t.label)
	}
	tip, err := peel(s, ref.Hash())
	if err != nil {
		return err
	}
	head, err := object.GetCommit(s, tip)
	if err != nil {
		return fmt.Errorf("reading branch %q: %w", t.label, err)
	}
	found := errors.New("found")
	err = object.NewCommitPreorderIter(head, nil, nil).ForEach(func(c *object.Commit) error {
		if c.Hash == t.commit {
			return found
		}
		return ctx.Err()
	})
	if errors.Is(err, found) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: commit %s is not on branch %q", ErrRefNotFound, t.commit, t.label)
}

// fetchFolder copies a plain directory. Its revision is its digest, so
// LastRevision can only be compared after the copy.
func fetchFolder(ctx context.Context, req Request) (*Artifact, error) {
	p, err := localPath(req.URL)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(p)
	if err != nil {
		return nil, fmt.Errorf("opening folder %s: %w", p, err)
	}
	defer root.Close()
	entries, err := folderEntries(root, req.Ignore)
	if err != nil {
		return nil, fmt.Errorf("folder %s: %w", p, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkSize(entries, req.MaxSize); err != nil {
		return nil, fmt.Errorf("folder %s: %w", p, err)
	}
	if err := prepareDir(req.Dir); err != nil {
		return nil, err
	}
	digest, size, err := writeEntries(req.Dir, entries, req.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("folder %s: %w", p, err)
	}
	return &Artifact{Kind: KindFolder, Revision: digest, Digest: digest, Size: size, Files: len(entries),
		Unchanged: req.LastRevision == digest}, nil
}

func localPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
		return "", fmt.Errorf("%w: %q is not a file:///absolute/path URL", ErrInvalidRequest, raw)
	}
	return u.Path, nil
}

// listRemote is ls-remote that also returns the server's capabilities:
// go-git's Remote.List keeps them to itself, and whether the server can
// send a shallow pack is only known from them.
func listRemote(ctx context.Context, rawURL string, auth *connAuth) (_ refTable, _ *capability.List, err error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return refTable{}, nil, err
	}
	ep.CaBundle = auth.caBundle
	cl, err := client.NewClient(ep)
	if err != nil {
		return refTable{}, nil, err
	}
	sess, err := cl.NewUploadPackSession(ep, auth.method)
	if err != nil {
		return refTable{}, nil, err
	}
	defer func() {
		if cerr := sess.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return refTable{}, nil, err
	}
	all, err := ar.AllReferences()
	if err != nil {
		return refTable{}, nil, err
	}
	t := refTable{refs: map[string]plumbing.Hash{}, peeled: map[string]plumbing.Hash{}}
	for n, r := range all {
		if r.Type() == plumbing.HashReference {
			t.refs[n.String()] = r.Hash()
		}
	}
	for n, h := range ar.Peeled {
		t.peeled[n] = h
	}
	return t, ar.Capabilities, nil
}

func tableFromRepo(s storer.Storer) (refTable, error) {
	t := refTable{refs: map[string]plumbing.Hash{}, peeled: map[string]plumbing.Hash{}}
	iter, err := s.IterReferences()
	if err != nil {
		return t, err
	}
	err = iter.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference {
			return nil
		}
		n := r.Name().String()
		t.refs[n] = r.Hash()
		if r.Name().IsTag() {
			if c, err := peel(s, r.Hash()); err == nil {
				t.peeled[n] = c
			}
		}
		return nil
	})
	return t, err
}

// peel follows annotated tags to the commit they name. Any hash that is
// not a tag object is returned as is; if it is not a commit either, the
// checkout that follows says so.
func peel(s storer.EncodedObjectStorer, h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		tag, err := object.GetTag(s, h)
		if err != nil {
			return h, nil
		}
		h = tag.Target
	}
	return plumbing.ZeroHash, fmt.Errorf("tag chain at %s is too deep", h)
}

// classify wraps a transport error with the sentinel that says what went
// wrong, and names the (redacted) URL.
func classify(ctx context.Context, err error, auth *connAuth, shown string, timeout time.Duration) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w after %s: %s: %w", ErrTimeout, timeout, shown, err)
	case auth.hostKeyRejected.Load():
		return fmt.Errorf("%w for %s (the host key is not in the secret's %q): %w", ErrHostKey, shown, SecretKnownHosts, err)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%w for %s: %w", ErrAuth, shown, err)
	}
	return fmt.Errorf("%s: %w", shown, err)
}

// redact hides a password in URL user info so errors never carry it.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
