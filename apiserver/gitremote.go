package apiserver

// The built-in git remote: git's smart HTTP protocol (v0/v1, stateless
// RPC) at /git/<namespace>/<name>.git, over bare repositories under the
// data directory, so that
//
//	git remote add skiff https://127.0.0.1:6443/git/default/shop.git
//	git push skiff main
//
// deploys. go-git's server transport (plumbing/transport/server) does the
// git work: reference advertisement, pack generation for fetches and the
// reference updates of a push; this file and its siblings are the HTTP
// layer git's http-backend would be, plus what a server must check that
// go-git's session does not (fast-forwards, deletions, stale old values,
// connectivity), the packs of shallow fetches, which go-git cannot cut
// (gitremote_shallow.go), and the GitOps hand-off after a push
// (gitremote_gitops.go). A push tells the GitOps controllers about itself
// only through the API: it creates the GitRepository and Kustomization
// the first time and sets reconcile.fluxcd.io/requestedAt on them, as
// `flux reconcile` does.
//
// Requests:
//
//	GET  …/info/refs?service=git-upload-pack|git-receive-pack  advertisement
//	POST …/git-upload-pack                                        fetch, clone
//	POST …/git-receive-pack                                       push
//
// Authentication is the API server's tokens, as "Authorization: Bearer"
// or as the password of HTTP Basic (what git's credential prompt and
// helpers send); only cluster admins (system:masters) may read or push —
// a node's token is refused with 403, since repositories hold a cluster's
// whole configuration.

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/skiff-dev/skiff/manifests/flux"
)

// Defaults of GitRemoteConfig.
const (
	DefaultGitPushWait        = 60 * time.Second
	DefaultGitMaxRequestBytes = 256 << 20
)

// GitRemoteConfig configures the built-in git remote.
type GitRemoteConfig struct {
	// Dir holds the bare repositories, <Dir>/<namespace>/<name>.git. It
	// must be absolute (GitRepositories point at it with file:// URLs).
	// Empty disables the remote: /git/ answers 404.
	Dir string
	// PushWait is how long a push waits for the Kustomization to report
	// the pushed revision before git push returns: 0 means
	// DefaultGitPushWait, a negative value never waits.
	PushWait time.Duration
	// MaxRequestBytes caps a request body, as sent and once
	// decompressed; 0 means DefaultGitMaxRequestBytes.
	MaxRequestBytes int64
}

// gitPathPrefix is where the remote is served.
const gitPathPrefix = "/git/"

// isGitPath reports whether a request is for the git remote, which
// authenticates on its own (git sends tokens as HTTP Basic passwords).
func isGitPath(p string) bool { return strings.HasPrefix(p, gitPathPrefix) }

// gitRemote is the state the remote keeps between requests.
type gitRemote struct {
	s   *Server
	cfg GitRemoteConfig

	mu sync.Mutex
	// locks serialise the pushes to one repository, so that checking a
	// command's old value and updating the reference is one step.
	locks map[string]*sync.Mutex
}

func newGitRemote(s *Server, cfg GitRemoteConfig) *gitRemote {
	if cfg.PushWait == 0 {
		cfg.PushWait = DefaultGitPushWait
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultGitMaxRequestBytes
	}
	return &gitRemote{s: s, cfg: cfg, locks: map[string]*sync.Mutex{}}
}

// repoLock returns the push lock of one repository.
func (g *gitRemote) repoLock(key string) *sync.Mutex {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.locks[key]
	if !ok {
		l = &sync.Mutex{}
		g.locks[key] = l
	}
	return l
}

// gitRepo names one repository of the remote.
type gitRepo struct {
	Namespace, Name string
}

func (r gitRepo) String() string { return r.Namespace + "/" + r.Name }

// dir is the repository's bare directory.
func (g *gitRemote) dir(r gitRepo) string {
	return flux.GitRemoteRepoDir(g.cfg.Dir, r.Namespace, r.Name)
}

// endpoint is the repository as go-git's server transport names it.
func (r gitRepo) endpoint() *transport.Endpoint {
	return &transport.Endpoint{Protocol: "file", Path: "/" + r.Namespace + "/" + r.Name + ".git"}
}

// The three smart HTTP endpoints of a repository.
const (
	gitInfoRefs    = "info/refs"
	gitUploadPack  = "git-upload-pack"
	gitReceivePack = "git-receive-pack"
)

// parseGitPath splits /git/<ns>/<name>[.git]/<endpoint>. ns and name must
// be valid object names, which also keeps the path inside Dir.
func parseGitPath(p string) (gitRepo, string, error) {
	rest, _ := strings.CutPrefix(p, gitPathPrefix)
	ns, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return gitRepo{}, "", errors.New("expected /git/<namespace>/<name>.git")
	}
	var op string
	for _, e := range []string{gitInfoRefs, gitUploadPack, gitReceivePack} {
		if r, ok := strings.CutSuffix(rest, "/"+e); ok {
			rest, op = r, e
			break
		}
	}
	if op == "" {
		return gitRepo{}, "", errors.New("Skiff serves git's smart HTTP protocol only (info/refs, git-upload-pack, git-receive-pack)")
	}
	name := strings.TrimSuffix(rest, ".git")
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return gitRepo{}, "", fmt.Errorf("invalid namespace %q: %s", ns, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return gitRepo{}, "", fmt.Errorf("invalid repository name %q (it names the GitRepository and Kustomization): %s", name, strings.Join(errs, "; "))
	}
	return gitRepo{Namespace: ns, Name: name}, op, nil
}

// serveGit answers a request under /git/.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	g := s.git
	if g == nil || g.cfg.Dir == "" {
		gitError(w, http.StatusNotFound, "the built-in git remote is not enabled on this server")
		return
	}
	repo, op, err := parseGitPath(r.URL.Path)
	if err != nil {
		gitError(w, http.StatusNotFound, err.Error())
		return
	}
	user, ok := g.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="skiff"`)
		gitError(w, http.StatusUnauthorized, "authentication required: use the API server's token (from the kubeconfig) as the password")
		return
	}
	service := op
	if op == gitInfoRefs {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			gitError(w, http.StatusMethodNotAllowed, "info/refs answers GET only")
			return
		}
		service = r.URL.Query().Get("service")
		if service != gitUploadPack && service != gitReceivePack {
			// The dumb protocol would serve the repository's files.
			gitError(w, http.StatusForbidden, "Skiff serves git's smart HTTP protocol only: use git 1.6.6 or later")
			return
		}
	} else if r.Method != http.MethodPost {
		gitError(w, http.StatusMethodNotAllowed, op+" answers POST only")
		return
	}
	if !slices.Contains(user.Groups, "system:masters") {
		verb := "read"
		if service == gitReceivePack {
			verb = "push to"
		}
		gitError(w, http.StatusForbidden, fmt.Sprintf("user %q may not %s %s: only cluster administrators may", user.Name, verb, repo))
		return
	}
	if _, err := s.namespace(r.Context(), repo.Namespace); err != nil {
		if apierrors.IsNotFound(err) {
			gitError(w, http.StatusNotFound, fmt.Sprintf("namespace %q not found: create it first (kubectl create namespace %s)", repo.Namespace, repo.Namespace))
			return
		}
		gitError(w, http.StatusInternalServerError, fmt.Sprintf("read namespace %s: %v", repo.Namespace, err))
		return
	}
	switch op {
	case gitInfoRefs:
		g.serveInfoRefs(w, r, repo, service)
	case gitUploadPack:
		g.serveUploadPack(w, r, repo)
	case gitReceivePack:
		g.serveReceivePack(w, r, repo, user)
	}
}

// authenticate accepts the API server's tokens as a bearer token, or as
// the password of HTTP Basic with any user name (or as the user name with
// no password, as https://<token>@host/… URLs send it).
func (g *gitRemote) authenticate(r *http.Request) (User, bool) {
	h := r.Header.Get("Authorization")
	if strings.HasPrefix(h, "Bearer ") {
		return g.s.authenticate(r)
	}
	username, password, ok := r.BasicAuth()
	if !ok {
		return User{}, false
	}
	token := password
	if token == "" {
		token = username
	}
	if token == "" {
		return User{}, false
	}
	return g.s.authenticate(&http.Request{Header: http.Header{"Authorization": {"Bearer " + token}}})
}

// gitError answers a plain-text error, which git shows to the user
// ("remote: …") when it comes in answer to info/refs.
func gitError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	noCache(h)
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// noCache sets the headers git's http-backend sends on every dynamic
// answer, so no proxy caches references.
func noCache(h http.Header) {
	h.Set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
	h.Set("Pragma", "no-cache")
	h.Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
}

// openGitRepo opens a bare repository; os.ErrNotExist when there is none.
func openGitRepo(dir string) (*filesystem.Storage, error) {
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		return nil, err
	}
	return filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault()), nil
}

// gitTooLargeError is a request body over GitRemoteConfig.MaxRequestBytes.
type gitTooLargeError struct{ limit int64 }

func (e *gitTooLargeError) Error() string {
	return fmt.Sprintf("the request is larger than the server's limit of %s (skiff server --git-max-request-bytes)", byteSize(e.limit))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// cappedReader fails with gitTooLargeError past limit bytes.
type cappedReader struct {
	r     io.Reader
	left  int64
	limit int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a body of exactly limit bytes from a
		// longer one.
		var b [1]byte
		if n, _ := c.r.Read(b[:]); n > 0 {
			return 0, &gitTooLargeError{limit: c.limit}
		}
		return c.r.Read(p)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// requestBody is the request's body, decompressed when git sent it gzip
// encoded (it does for requests over 1 KiB), capped as sent and as
// decompressed: reads past the cap fail with gitTooLargeError. Call
// finish once the body is read (and in any case before returning): it
// also lifts the read deadline, which would otherwise cancel the
// request's context while a push waits for GitOps.
func (g *gitRemote) requestBody(w http.ResponseWriter, r *http.Request) (_ *bufio.Reader, finish func(), _ error) {
	// A declared length over the cap is read all the same: a push gets
	// its refusal in the report git prints (see serveReceivePack).
	limit := g.cfg.MaxRequestBytes
	// A slow client may not hold a handler forever; a push of the
	// largest allowed pack at 1 MiB/s still fits.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(5*time.Minute + time.Duration(limit/(1<<20))*time.Second))
	var once sync.Once
	var zr *gzip.Reader
	finish = func() {
		once.Do(func() {
			if zr != nil {
				zr.Close()
			}
			_ = rc.SetReadDeadline(time.Time{})
		})
	}
	var body io.Reader = &cappedReader{r: r.Body, left: limit, limit: limit}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		var err error
		if zr, err = gzip.NewReader(body); err != nil {
			finish()
			return nil, nil, fmt.Errorf("read gzip-encoded body: %w", err)
		}
		body = &cappedReader{r: zr, left: limit, limit: limit}
	default:
		finish()
		return nil, nil, fmt.Errorf("unsupported Content-Encoding %q", enc)
	}
	return bufio.NewReaderSize(body, 64<<10), finish, nil
}

// rpcBody is the common start of an upload-pack or receive-pack request:
// it checks the Content-Type git sends for service, opens the body
// (requestBody) and answers git's credential probe. ok is false when the
// request has been answered already; otherwise call finish as for
// requestBody.
func (g *gitRemote) rpcBody(w http.ResponseWriter, r *http.Request, service string) (br *bufio.Reader, finish func(), ok bool) {
	if ct, want := r.Header.Get("Content-Type"), "application/x-"+service+"-request"; ct != want {
		gitError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: git sends %q", ct, want))
		return nil, nil, false
	}
	br, finish, err := g.requestBody(w, r)
	if err != nil {
		bodyError(w, err)
		return nil, nil, false
	}
	if isProbe(br) {
		finish()
		w.WriteHeader(http.StatusOK)
		return nil, nil, false
	}
	return br, finish, true
}

// bodyError answers a request whose body could not be read.
func bodyError(w http.ResponseWriter, err error) {
	var tooLarge *gitTooLargeError
	if errors.As(err, &tooLarge) {
		gitError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	gitError(w, http.StatusBadRequest, err.Error())
}

// isProbe reports whether the body is only a flush-pkt: git sends that
// before a large request to check its credentials (remote-curl's
// probe_rpc) and expects an empty 200.
func isProbe(br *bufio.Reader) bool {
	b, err := br.Peek(4)
	if err != nil || string(b) != "0000" {
		return false
	}
	_, err = br.Peek(5)
	return errors.Is(err, io.EOF)
}

// pktError writes an ERR packet, which git reports as "remote error: …".
func pktError(w io.Writer, msg string) {
	_ = pktline.NewEncoder(w).Encodef("ERR %s\n", msg)
}

// flusher flushes an answer to the client as it is written (progress
// lines of a push, a fetch's pack).
func flusher(w http.ResponseWriter) func() {
	rc := http.NewResponseController(w)
	return func() { _ = rc.Flush() }
}
