package source

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// TestFetchServerWithoutShallow fetches a branch from a smart HTTP server
// that does not advertise "shallow" (go-git's server transport, as
// Skiff's built-in remote was): the fetch must not ask for depth, and
// must check out the branch tip.
func TestFetchServerWithoutShallow(t *testing.T) {
	work, _ := newWorkRepo(t, map[string]string{"a.yaml": "one", "dir/b.yaml": "b"})
	writeFiles(t, work, map[string]string{"a.yaml": "two", "dir/c.yaml": "c"})
	runGit(t, work, "rm", "-q", "dir/b.yaml")
	tip := commitAll(t, work, "second")
	bare := bareCopy(t, work, t.TempDir(), "repo")
	srv := newGoGitServer(t, bare)

	dir := filepath.Join(t.TempDir(), "out")
	art, err := Fetch(context.Background(), Request{URL: srv.URL + "/repo.git", Ref: Ref{Branch: "master"}, Dir: dir, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if want := "master@sha1:" + tip; art.Revision != want {
		t.Fatalf("revision %q, want %q", art.Revision, want)
	}
	if got, want := listFiles(t, dir), []string{"a.yaml", "dir/c.yaml"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	if got := readFile(t, filepath.Join(dir, "a.yaml")); got != "two" {
		t.Fatalf("a.yaml = %q, want the tip's content", got)
	}
	if n := srv.deepen.Load(); n != 0 {
		t.Fatalf("%d requests asked a server without shallow for depth", n)
	}
	if srv.uploads.Load() == 0 {
		t.Fatal("no upload-pack request reached the server")
	}

	// Unchanged tip: listed, not fetched again.
	before := srv.uploads.Load()
	art, err = Fetch(context.Background(), Request{URL: srv.URL + "/repo.git", Ref: Ref{Branch: "master"},
		Dir: filepath.Join(t.TempDir(), "again"), LastRevision: art.Revision})
	if err != nil || !art.Unchanged {
		t.Fatalf("second fetch: %+v, %v; want Unchanged", art, err)
	}
	if srv.uploads.Load() != before {
		t.Fatal("an unchanged tip was fetched again")
	}
}

// goGitServer is git's smart HTTP (stateless, v0) in front of go-git's
// server transport, with only the capabilities go-git advertises: no
// shallow, no multi_ack, no side-band.
type goGitServer struct {
	*httptest.Server
	uploads atomic.Int64 // POST git-upload-pack
	deepen  atomic.Int64 // of those, requests that asked for a depth
}

func newGoGitServer(t *testing.T, bare string) *goGitServer {
	t.Helper()
	sto := filesystem.NewStorage(osfs.New(bare), cache.NewObjectLRUDefault())
	ep, err := transport.NewEndpoint("/repo.git")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer(server.MapLoader{ep.String(): sto})
	s := &goGitServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := srv.NewUploadPackSession(ep, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs") && r.URL.Query().Get("service") == "git-upload-pack":
			ar, err := sess.AdvertisedReferencesContext(r.Context())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			ar.Prefix = [][]byte{[]byte("# service=git-upload-pack"), pktline.Flush}
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			_ = ar.Encode(w)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			s.uploads.Add(1)
			req, err := readWantsAndHaves(bufio.NewReader(r.Body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if !req.Depth.IsZero() {
				s.deepen.Add(1)
			}
			resp, err := sess.UploadPack(r.Context(), req)
			if err != nil {
				// What a client sees from such a server when it asks for
				// what the server cannot do.
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer resp.Close()
			w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
			_ = pktline.NewEncoder(w).Encodef("NAK\n")
			_, _ = io.Copy(w, resp)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// readWantsAndHaves reads a single-round upload request: wants (with
// shallow/deepen lines), a flush, haves, "done".
func readWantsAndHaves(br *bufio.Reader) (*packp.UploadPackRequest, error) {
	req := packp.NewUploadPackRequest()
	if err := req.UploadRequest.Decode(br); err != nil {
		return nil, err
	}
	sc := pktline.NewScanner(br)
	for sc.Scan() {
		line := strings.TrimSuffix(string(sc.Bytes()), "\n")
		switch {
		case line == "done":
			return req, nil
		case line == "":
		case strings.HasPrefix(line, "have "):
			req.Haves = append(req.Haves, plumbing.NewHash(strings.TrimPrefix(line, "have ")))
		default:
			return nil, fmt.Errorf("unexpected line %q", line)
		}
	}
	return nil, fmt.Errorf("request ended before done: %v", sc.Err())
}
