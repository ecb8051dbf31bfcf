package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fetchTo(t *testing.T, req Request) (*Artifact, string, error) {
	t.Helper()
	req.Dir = filepath.Join(t.TempDir(), "out")
	art, err := Fetch(context.Background(), req)
	return art, req.Dir, err
}

func TestFolderDigest(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"deploy/app.yaml": "kind: Deployment", "deploy/svc.yaml": "kind: Service", "kustomization.yaml": "resources: [deploy]"})
	url := "file://" + src

	a1, dir, err := fetchTo(t, Request{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if a1.Kind != KindFolder || !strings.HasPrefix(a1.Revision, "sha256:") || a1.Revision != a1.Digest || a1.Files != 3 {
		t.Fatalf("artifact %+v", a1)
	}
	if got := listFiles(t, dir); !reflect.DeepEqual(got, []string{"deploy/app.yaml", "deploy/svc.yaml", "kustomization.yaml"}) {
		t.Fatalf("files %v", got)
	}

	// Same content, new mtimes: same digest, and Unchanged against it.
	now := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(src, "deploy/app.yaml"), now, now)
	a2, _, err := fetchTo(t, Request{URL: url, LastRevision: a1.Revision})
	if err != nil {
		t.Fatal(err)
	}
	if a2.Digest != a1.Digest || !a2.Unchanged {
		t.Fatalf("digest not stable: %s vs %s (unchanged %v)", a2.Digest, a1.Digest, a2.Unchanged)
	}

	// Any edit changes it: content, mode, or a rename.
	edits := []func(){
		func() { writeFiles(t, src, map[string]string{"deploy/app.yaml": "kind: Deployment\n"}) },
		func() { os.Chmod(filepath.Join(src, "deploy/svc.yaml"), 0o755) },
		func() { os.Rename(filepath.Join(src, "kustomization.yaml"), filepath.Join(src, "kustomization.yml")) },
	}
	seen := map[string]bool{a1.Digest: true}
	for i, edit := range edits {
		edit()
		a, _, err := fetchTo(t, Request{URL: url, LastRevision: a1.Revision})
		if err != nil {
			t.Fatal(err)
		}
		if seen[a.Digest] || a.Unchanged {
			t.Fatalf("edit %d did not change the digest (%s)", i, a.Digest)
		}
		seen[a.Digest] = true
	}
}

// TestDigestSameForGitAndFolder: the digest depends on the kept tree only.
func TestDigestSameForGitAndFolder(t *testing.T) {
	files := map[string]string{"a.yaml": "a", "sub/b.yaml": "b", "sub/link.yaml": "->b.yaml"}
	work, _ := newWorkRepo(t, files)
	folder := t.TempDir()
	writeFiles(t, folder, files)
	g, _, err := fetchTo(t, Request{URL: "file://" + work})
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := fetchTo(t, Request{URL: "file://" + folder})
	if err != nil {
		t.Fatal(err)
	}
	if g.Digest != f.Digest || g.Files != 3 {
		t.Fatalf("git digest %s (%d files) != folder digest %s (%d files)", g.Digest, g.Files, f.Digest, f.Files)
	}
}

func TestIgnoreRules(t *testing.T) {
	files := map[string]string{
		".sourceignore":            "*.txt\n!keep.txt\n# a comment\n\nbuild/\n",
		"keep.txt":                 "k",
		"notes.txt":                "n",
		"build/out.yaml":           "b",
		"app/.sourceignore":        "secret.yaml\n",
		"app/secret.yaml":          "s",
		"app/deploy.yaml":          "d",
		"other/secret.yaml":        "scoped: app/.sourceignore does not reach here",
		".github/workflows/ci.yml": "ci",
		".gitlab-ci.yml":           "ci",
		"logo.png":                 "png",
		"docs/.sops.yaml":          "sops",
		"extra/x.yaml":             "x",
		"icon.png":                 "png",
	}
	ignore := "extra/\n!icon.png\n"
	want := []string{".sourceignore", "app/.sourceignore", "app/deploy.yaml", "icon.png", "keep.txt", "other/secret.yaml"}

	work, _ := newWorkRepo(t, files)
	folder := t.TempDir()
	writeFiles(t, folder, files)
	for name, url := range map[string]string{"git": "file://" + work, "folder": "file://" + folder} {
		t.Run(name, func(t *testing.T) {
			art, dir, err := fetchTo(t, Request{URL: url, Ignore: &ignore})
			if err != nil {
				t.Fatal(err)
			}
			if got := listFiles(t, dir); !reflect.DeepEqual(got, want) {
				t.Fatalf("kept %v\nwant %v", got, want)
			}
			if art.Files != len(want) {
				t.Fatalf("Files = %d", art.Files)
			}
		})
	}
	t.Run("defaults without spec.ignore", func(t *testing.T) {
		_, dir, err := fetchTo(t, Request{URL: "file://" + folder})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(listFiles(t, dir), " ")
		for _, gone := range []string{"icon.png", "logo.png", ".gitlab-ci.yml", "ci.yml", ".sops.yaml"} {
			if strings.Contains(got, gone) {
				t.Errorf("%s kept: %s", gone, got)
			}
		}
		if !strings.Contains(got, "extra/x.yaml") {
			t.Errorf("extra/x.yaml dropped without spec.ignore: %s", got)
		}
	})
}

func TestSymlinksOutsideRootRefused(t *testing.T) {
	for _, target := range []string{"/etc/passwd", "../../etc/passwd", "sub/../../x"} {
		files := map[string]string{"a.yaml": "a", "evil.yaml": "->" + target}
		work, _ := newWorkRepo(t, files)
		folder := t.TempDir()
		writeFiles(t, folder, files)
		for name, url := range map[string]string{"git": "file://" + work, "folder": "file://" + folder} {
			_, dir, err := fetchTo(t, Request{URL: url})
			var oe *OutsideRootError
			if !errors.As(err, &oe) || oe.Path != "evil.yaml" || !strings.Contains(err.Error(), "outside repository root") {
				t.Fatalf("%s %s: err = %v, want OutsideRootError", name, target, err)
			}
			if files := listFiles(t, dir); len(files) != 0 {
				t.Fatalf("%s: files written: %v", name, files)
			}
		}
	}
	// A link inside the root is kept as a link.
	folder := t.TempDir()
	writeFiles(t, folder, map[string]string{"a/b.yaml": "b", "a/c.yaml": "->../a/b.yaml"})
	_, dir, err := fetchTo(t, Request{URL: "file://" + folder})
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "a/c.yaml")); err != nil || target != "../a/b.yaml" {
		t.Fatalf("link = %q, %v", target, err)
	}
}

func TestFolderSizeLimit(t *testing.T) {
	folder := t.TempDir()
	writeFiles(t, folder, map[string]string{"a.yaml": strings.Repeat("a", 800), "b.yaml": strings.Repeat("b", 800)})
	_, dir, err := fetchTo(t, Request{URL: "file://" + folder, MaxSize: 1024})
	var sl *SizeLimitError
	if !errors.As(err, &sl) || sl.Limit != 1024 || !strings.Contains(err.Error(), "1024 bytes") {
		t.Fatalf("err = %v, want SizeLimitError naming 1024", err)
	}
	if files := listFiles(t, dir); len(files) != 0 {
		t.Fatalf("files written: %v", files)
	}
}

// TestFileURLErrors: a missing path or a file is not a source.
func TestFileURLErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	writeFiles(t, filepath.Dir(f), map[string]string{"f": "x"})
	if _, _, err := fetchTo(t, Request{URL: "file://" + f}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("file: err = %v", err)
	}
	if _, _, err := fetchTo(t, Request{URL: "file:///does/not/exist"}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: err = %v", err)
	}
}
