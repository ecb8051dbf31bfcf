package source

import (
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// gitEnv isolates the git CLI from the machine's and user's config.
func gitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Skiff Test", "GIT_AUTHOR_EMAIL=test@skiff.dev",
		"GIT_COMMITTER_NAME=Skiff Test", "GIT_COMMITTER_EMAIL=test@skiff.dev",
	)
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "init.defaultBranch=master", "-c", "protocol.file.allow=always"}, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// writeFiles writes path → content under dir; a content starting with
// "->" makes a symlink to the rest.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newWorkRepo makes a work tree with files committed on master and
// returns its path and the commit.
func newWorkRepo(t *testing.T, files map[string]string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	runGit(t, dir, "init", "-q")
	writeFiles(t, dir, files)
	return dir, commitAll(t, dir, "initial")
}

func commitAll(t *testing.T, dir, msg string) string {
	t.Helper()
	runGit(t, dir, "add", "-A")
	runGit(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return runGit(t, dir, "rev-parse", "HEAD")
}

// bareCopy clones work into <root>/<name>.git as a bare repository with
// all its refs, and returns the bare path.
func bareCopy(t *testing.T, work, root, name string) string {
	t.Helper()
	bare := filepath.Join(root, name+".git")
	runGit(t, root, "clone", "-q", "--mirror", work, bare)
	return bare
}

// listFiles returns the slash paths of all non-directories under dir.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gitServer serves every bare repository under root over smart HTTP with
// the real git http-backend (CGI), behind an optional auth check, and
// counts requests so tests can prove a fetch did or did not happen.
type gitServer struct {
	*httptest.Server
	root      string
	infoRefs  atomic.Int64 // GET .../info/refs (ls-remote and fetch)
	uploadPks atomic.Int64 // POST .../git-upload-pack (a fetch)
}

func newGitServer(t *testing.T, root string, tlsOn bool, allow func(*http.Request) bool) *gitServer {
	t.Helper()
	execPath := runGit(t, root, "--exec-path")
	s := &gitServer{root: root}
	backend := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir()},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow != nil && !allow(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/info/refs"):
			s.infoRefs.Add(1)
		case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			s.uploadPks.Add(1)
		}
		backend.ServeHTTP(w, r)
	})
	if tlsOn {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

// caPEM is the PEM of the TLS server's certificate, as a Secret's ca.crt.
func (s *gitServer) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}
