package apiserver

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// TestGitRemoteShallowProtocol checks the shallow exchange byte by byte,
// as git's fetch-pack sends it over stateless HTTP.
func TestGitRemoteShallowProtocol(t *testing.T) {
	a := startGitTestAPI(t, -1, 0)
	l := newLocalRepo(t, gitURL(a, "default", "sh"))
	l.commit("main", map[string]string{"a": "1"})
	second := l.commit("main", map[string]string{"b": "2"})
	tip := l.commit("main", map[string]string{"c": "3"})
	if out, err := l.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	post := func(body string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", gitURL(a, "default", "sh")+"/git-upload-pack", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-git-upload-pack-request")
		req.Header.Set("Authorization", "Bearer "+a.run.AdminToken)
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		return string(b)
	}
	// packHeader is a version 2 pack of n objects on band 1.
	packHeader := func(n byte) string { return "\x01PACK\x00\x00\x00\x02\x00\x00\x00" + string([]byte{n}) }

	t.Run("advertised", func(t *testing.T) {
		resp, err := a.client.Do(authed(t, a, gitURL(a, "default", "sh")+"/info/refs?service=git-upload-pack"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, c := range []string{" shallow", " deepen-relative"} {
			if !strings.Contains(string(b), c) {
				t.Errorf("advertisement lacks%s: %q", c, b)
			}
		}
		for _, c := range []string{"deepen-since", "deepen-not"} {
			if strings.Contains(string(b), c) {
				t.Errorf("advertisement has %s, which is not implemented: %q", c, b)
			}
		}
	})

	want := "want " + tip.String() + " multi_ack_detailed side-band-64k ofs-delta\n"
	t.Run("first request of a deepening fetch", func(t *testing.T) {
		// Only the wants and the depth: answered with the shallow
		// section alone.
		if got, wantBody := post(pkt(want, "deepen 1\n", "")), pkt("shallow "+tip.String()+"\n", ""); got != wantBody {
			t.Errorf("got %q, want %q", got, wantBody)
		}
	})
	t.Run("depth 1", func(t *testing.T) {
		// The shallow section, NAK, then the tip alone: its commit, tree
		// and three blobs.
		got := post(pkt(want, "deepen 1\n", "", "done\n"))
		head := pkt("shallow "+tip.String()+"\n", "") + pkt("NAK\n")
		if !strings.HasPrefix(got, head) || !strings.Contains(got, packHeader(5)) {
			t.Errorf("got %q, want %q then a pack of 5 objects", got, head)
		}
	})
	t.Run("depth 2", func(t *testing.T) {
		got := post(pkt(want, "deepen 2\n", "", "done\n"))
		// tip: commit, tree, blobs a b c; second: commit, tree (its
		// blobs a and b are the tip's).
		head := pkt("shallow "+second.String()+"\n", "") + pkt("NAK\n")
		if !strings.HasPrefix(got, head) || !strings.Contains(got, packHeader(7)) {
			t.Errorf("got %q, want %q then a pack of 7 objects", got, head)
		}
	})
	t.Run("deepen-relative", func(t *testing.T) {
		// A depth-1 clone deepens by one (git fetch --deepen 1): its
		// shallow tip is unshallowed, the second commit becomes the
		// boundary, and only the second commit and its tree are new.
		relWant := "want " + tip.String() + " multi_ack_detailed side-band-64k ofs-delta deepen-relative\n"
		got := post(pkt(relWant, "shallow "+tip.String()+"\n", "deepen 1\n", "", "have "+tip.String()+"\n", "done\n"))
		head := pkt("shallow "+second.String()+"\n", "unshallow "+tip.String()+"\n", "") +
			pkt("ACK "+tip.String()+" common\n", "ACK "+tip.String()+"\n")
		if !strings.HasPrefix(got, head) || !strings.Contains(got, packHeader(2)) {
			t.Errorf("got %q, want %q then a pack of 2 objects", got, head)
		}
	})
	t.Run("unshallow", func(t *testing.T) {
		// git fetch --unshallow from a depth-2 clone: the boundary goes,
		// the first commit and its tree come.
		got := post(pkt(want, "shallow "+second.String()+"\n", "deepen 2147483647\n", "", "have "+tip.String()+"\n", "done\n"))
		head := pkt("unshallow "+second.String()+"\n", "") +
			pkt("ACK "+tip.String()+" common\n", "ACK "+tip.String()+"\n")
		if !strings.HasPrefix(got, head) || !strings.Contains(got, packHeader(2)) {
			t.Errorf("got %q, want %q then a pack of 2 objects", got, head)
		}
	})
	t.Run("shallow client without deepen", func(t *testing.T) {
		// A plain fetch into a depth-1 clone whose tip is current: no
		// shallow section, and nothing below its shallow commit is sent
		// (an empty pack).
		got := post(pkt(want, "shallow "+tip.String()+"\n", "", "have "+tip.String()+"\n", "done\n"))
		head := pkt("ACK "+tip.String()+" common\n", "ACK "+tip.String()+"\n")
		if !strings.HasPrefix(got, head) || !strings.Contains(got, packHeader(0)) {
			t.Errorf("got %q, want %q then an empty pack", got, head)
		}
	})
	t.Run("deepen-since refused", func(t *testing.T) {
		got := post(pkt(want, "deepen-since 1700000000\n", "", "done\n"))
		if !strings.Contains(got, "ERR upload-pack: deepen-since is not supported") {
			t.Errorf("got %q, want an ERR packet", got)
		}
	})
}

// TestGitRemoteShallowGoGitClone clones with go-git's client at depth 1,
// as the GitOps source does: one commit, marked shallow, and no history.
func TestGitRemoteShallowGoGitClone(t *testing.T) {
	a := startGitTestAPI(t, -1, 0)
	url := gitURL(a, "default", "gg")
	l := newLocalRepo(t, url)
	first := l.commit("main", map[string]string{"a": "1"})
	tip := l.commit("main", map[string]string{"b": "2"})
	if out, err := l.push(a, adminAuth(a), nil, "refs/heads/main:refs/heads/main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	sto := memory.NewStorage()
	r, err := git.Clone(sto, memfs.New(), &git.CloneOptions{URL: url, Auth: adminAuth(a), CABundle: a.run.CAPEM,
		ReferenceName: plumbing.NewBranchReferenceName("main"), SingleBranch: true, Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.Head()
	if err != nil || head.Hash() != tip {
		t.Fatalf("HEAD %v %v, want %s", head, err, tip)
	}
	shallow, err := sto.Shallow()
	if err != nil || !slices.Equal(shallow, []plumbing.Hash{tip}) {
		t.Fatalf("shallow commits %v %v, want [%s]", shallow, err, tip)
	}
	if _, err := sto.EncodedObject(plumbing.AnyObject, first); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Fatalf("the first commit was sent to a depth-1 clone: %v", err)
	}
	wt, _ := r.Worktree()
	for _, f := range []string{"a", "b"} {
		if _, err := wt.Filesystem.Stat(f); err != nil {
			t.Errorf("file %s missing from the checkout: %v", f, err)
		}
	}
}

// authed is a GET with the admin token.
func authed(t *testing.T, a *testAPI, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.run.AdminToken)
	return req
}
