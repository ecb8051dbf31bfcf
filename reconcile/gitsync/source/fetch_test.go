package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// refFixture is a repository with every kind of ref Flux can select.
type refFixture struct {
	work, bare string
	A, B, C, D string // commits; deploy/app.yaml says "version: <letter>"
}

func newRefFixture(t *testing.T) *refFixture {
	t.Helper()
	f := &refFixture{}
	f.work, f.A = newWorkRepo(t, map[string]string{"deploy/app.yaml": "version: A"})
	runGit(t, f.work, "tag", "v1.0.0")
	runGit(t, f.work, "tag", "v0.9.0")
	runGit(t, f.work, "checkout", "-q", "-b", "dev")
	writeFiles(t, f.work, map[string]string{"deploy/app.yaml": "version: B"})
	f.B = commitAll(t, f.work, "B")
	runGit(t, f.work, "tag", "-a", "v1.1.0", "-m", "annotated")
	runGit(t, f.work, "tag", "v2.0.0-rc.1")
	runGit(t, f.work, "tag", "not-a-version")
	runGit(t, f.work, "checkout", "-q", "-b", "pr")
	writeFiles(t, f.work, map[string]string{"deploy/app.yaml": "version: D"})
	f.D = commitAll(t, f.work, "D")
	runGit(t, f.work, "update-ref", "refs/pull/1/head", f.D)
	runGit(t, f.work, "checkout", "-q", "master")
	runGit(t, f.work, "branch", "-q", "-D", "pr")
	writeFiles(t, f.work, map[string]string{"deploy/app.yaml": "version: C"})
	f.C = commitAll(t, f.work, "C")
	f.bare = bareCopy(t, f.work, t.TempDir(), "repo")
	return f
}

func TestFetchRefKinds(t *testing.T) {
	f := newRefFixture(t)
	srv := newGitServer(t, filepath.Dir(f.bare), false, nil)
	cases := []struct {
		name    string
		ref     Ref
		rev     string // revision; the content letter follows from the hash
		content string
		err     error
	}{
		{"default is master", Ref{}, "master@sha1:" + f.C, "C", nil},
		{"branch", Ref{Branch: "dev"}, "dev@sha1:" + f.B, "B", nil},
		{"lightweight tag", Ref{Tag: "v1.0.0"}, "v1.0.0@sha1:" + f.A, "A", nil},
		{"annotated tag is peeled", Ref{Tag: "v1.1.0"}, "v1.1.0@sha1:" + f.B, "B", nil},
		{"semver caret", Ref{SemVer: "^1.0"}, "v1.1.0@sha1:" + f.B, "B", nil},
		{"semver less than", Ref{SemVer: "< 1.1.0"}, "v1.0.0@sha1:" + f.A, "A", nil},
		{"semver pre-release opt-in", Ref{SemVer: ">=2.0.0-0"}, "v2.0.0-rc.1@sha1:" + f.B, "B", nil},
		{"semver pre-release excluded", Ref{SemVer: ">=2.0.0"}, "", "", ErrRefNotFound},
		{"name pull ref", Ref{Name: "refs/pull/1/head"}, "refs/pull/1/head@sha1:" + f.D, "D", nil},
		{"name branch ref", Ref{Name: "refs/heads/dev"}, "refs/heads/dev@sha1:" + f.B, "B", nil},
		{"bare commit", Ref{Commit: f.A}, "sha1:" + f.A, "A", nil},
		{"commit in branch", Ref{Commit: f.A, Branch: "dev"}, "dev@sha1:" + f.A, "A", nil},
		{"commit not in branch", Ref{Commit: f.D, Branch: "master"}, "", "", ErrRefNotFound},
		{"tag beats branch", Ref{Branch: "dev", Tag: "v1.0.0"}, "v1.0.0@sha1:" + f.A, "A", nil},
		{"semver beats tag", Ref{Tag: "v1.0.0", SemVer: "^1.0"}, "v1.1.0@sha1:" + f.B, "B", nil},
		{"name beats semver", Ref{SemVer: "^1.0", Name: "refs/pull/1/head"}, "refs/pull/1/head@sha1:" + f.D, "D", nil},
		{"commit beats name", Ref{Name: "refs/pull/1/head", Commit: f.C}, "sha1:" + f.C, "C", nil},
		{"missing branch", Ref{Branch: "nope"}, "", "", ErrRefNotFound},
		{"missing tag", Ref{Tag: "v9"}, "", "", ErrRefNotFound},
		{"bad semver", Ref{SemVer: "~> banana"}, "", "", ErrInvalidRequest},
		{"short commit", Ref{Commit: "abc123"}, "", "", ErrInvalidRequest},
		{"name not a full ref", Ref{Name: "dev"}, "", "", ErrInvalidRequest},
	}
	transports := map[string]string{
		"file":      "file://" + f.work,
		"file-bare": "file://" + f.bare,
		"http":      srv.URL + "/repo.git",
	}
	for tname, url := range transports {
		for _, c := range cases {
			t.Run(tname+"/"+c.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "out")
				art, err := Fetch(context.Background(), Request{URL: url, Ref: c.ref, Dir: dir, Timeout: 20 * time.Second})
				if c.err != nil {
					if !errors.Is(err, c.err) {
						t.Fatalf("err = %v, want %v", err, c.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if art.Revision != c.rev {
					t.Errorf("revision = %q, want %q", art.Revision, c.rev)
				}
				if art.Unchanged || art.Kind != KindGit || art.Files != 1 {
					t.Errorf("artifact = %+v", art)
				}
				if got := readFile(t, filepath.Join(dir, "deploy/app.yaml")); got != "version: "+c.content {
					t.Errorf("content = %q, want version: %s", got, c.content)
				}
				if _, err := os.Stat(filepath.Join(dir, ".git")); !os.IsNotExist(err) {
					t.Errorf(".git in artifact dir: %v", err)
				}
			})
		}
	}
}

// TestFetchUnchangedSkipsClone proves the ls-remote short cut: with the
// current revision as LastRevision no pack is requested and Dir is not
// created; after a new commit the fetch happens again.
func TestFetchUnchangedSkipsClone(t *testing.T) {
	work, c1 := newWorkRepo(t, map[string]string{"a.yaml": "one"})
	root := t.TempDir()
	bare := bareCopy(t, work, root, "repo")
	srv := newGitServer(t, root, false, nil)
	url := srv.URL + "/repo.git"
	ctx := context.Background()

	art, err := Fetch(ctx, Request{URL: url, Ref: Ref{Branch: "master"}, Dir: filepath.Join(t.TempDir(), "1")})
	if err != nil {
		t.Fatal(err)
	}
	if art.Revision != "master@sha1:"+c1 || srv.uploadPks.Load() != 1 {
		t.Fatalf("first fetch: %+v, upload-pack calls %d", art, srv.uploadPks.Load())
	}

	dir2 := filepath.Join(t.TempDir(), "2")
	art2, err := Fetch(ctx, Request{URL: url, Ref: Ref{Branch: "master"}, Dir: dir2, LastRevision: art.Revision})
	if err != nil {
		t.Fatal(err)
	}
	if !art2.Unchanged || art2.Revision != art.Revision {
		t.Fatalf("second fetch not unchanged: %+v", art2)
	}
	if n := srv.uploadPks.Load(); n != 1 {
		t.Fatalf("unchanged remote still fetched: upload-pack calls %d", n)
	}
	if _, err := os.Stat(dir2); !os.IsNotExist(err) {
		t.Fatalf("Dir touched on unchanged fetch: %v", err)
	}

	writeFiles(t, work, map[string]string{"a.yaml": "two"})
	c2 := commitAll(t, work, "two")
	runGit(t, work, "push", "-q", bare, "master")
	dir3 := filepath.Join(t.TempDir(), "3")
	art3, err := Fetch(ctx, Request{URL: url, Ref: Ref{Branch: "master"}, Dir: dir3, LastRevision: art.Revision})
	if err != nil {
		t.Fatal(err)
	}
	if art3.Unchanged || art3.Revision != "master@sha1:"+c2 || srv.uploadPks.Load() != 2 {
		t.Fatalf("after push: %+v, upload-pack calls %d", art3, srv.uploadPks.Load())
	}
	if got := readFile(t, filepath.Join(dir3, "a.yaml")); got != "two" {
		t.Fatalf("content %q", got)
	}

	// A pinned commit equal to LastRevision needs no network at all.
	before := srv.infoRefs.Load()
	art4, err := Fetch(ctx, Request{URL: url, Ref: Ref{Commit: c2}, Dir: filepath.Join(t.TempDir(), "4"), LastRevision: "sha1:" + c2})
	if err != nil || !art4.Unchanged {
		t.Fatalf("pinned commit: %+v, %v", art4, err)
	}
	if srv.infoRefs.Load() != before || srv.uploadPks.Load() != 2 {
		t.Fatalf("pinned unchanged commit contacted the server")
	}
}

func TestFetchRefusesNonEmptyDir(t *testing.T) {
	work, _ := newWorkRepo(t, map[string]string{"a.yaml": "x"})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"stale": "x"})
	_, err := Fetch(context.Background(), Request{URL: "file://" + work, Dir: dir})
	if !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("err = %v, want ErrInvalidRequest", err)
	}
}

func TestFetchSizeLimit(t *testing.T) {
	work, _ := newWorkRepo(t, map[string]string{"a.yaml": string(make([]byte, 600)), "b.yaml": string(make([]byte, 600))})
	for _, url := range []string{"file://" + work} {
		dir := filepath.Join(t.TempDir(), "out")
		_, err := Fetch(context.Background(), Request{URL: url, Dir: dir, MaxSize: 1000})
		var sl *SizeLimitError
		if !errors.As(err, &sl) || sl.Limit != 1000 || sl.Size <= 1000 {
			t.Fatalf("err = %v, want SizeLimitError{Limit:1000}", err)
		}
		if !strings.Contains(err.Error(), "1000 bytes") {
			t.Errorf("error does not name the limit: %v", err)
		}
		if files := listFiles(t, dir); len(files) != 0 {
			t.Errorf("files written despite the limit: %v", files)
		}
		// The same tree fits a larger limit.
		art, err := Fetch(context.Background(), Request{URL: url, Dir: filepath.Join(t.TempDir(), "ok"), MaxSize: 1200})
		if err != nil || art.Size != 1200 {
			t.Fatalf("within limit: %+v, %v", art, err)
		}
	}
}
