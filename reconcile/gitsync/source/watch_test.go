package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// startWatch runs a Watcher on path and returns its callback counter.
func startWatch(t *testing.T, path string) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	w, err := NewWatcher(path, func() { n.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &n
}

// settle waits well past the debounce and returns the count; generous
// because the test machine is shared.
func settle(n *atomic.Int64) int64 {
	time.Sleep(8 * DefaultDebounce)
	return n.Load()
}

// waitFor polls until the count reaches want or a deadline passes.
func waitFor(t *testing.T, n *atomic.Int64, want int64, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := n.Load(); got < want {
		t.Fatalf("%s: %d callbacks, want %d", what, got, want)
	}
}

func TestWatchFolder(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"deploy/app.yaml": "v1"})
	n := startWatch(t, dir)

	// A burst of writes across existing directories is one callback.
	for i := 0; i < 20; i++ {
		writeFiles(t, dir, map[string]string{fmt.Sprintf("deploy/f%d.yaml", i): "x", "deploy/app.yaml": fmt.Sprint(i)})
	}
	waitFor(t, n, 1, "burst")
	if got := settle(n); got != 1 {
		t.Fatalf("burst of 40 writes gave %d callbacks, want 1", got)
	}

	// chmod alone is not a change.
	os.Chmod(filepath.Join(dir, "deploy/app.yaml"), 0o600)
	if got := settle(n); got != 1 {
		t.Fatalf("chmod gave a callback (%d)", got)
	}

	// A new directory is watched: a file written into it later is seen.
	if err := os.MkdirAll(filepath.Join(dir, "new/deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, n, 2, "mkdir")
	settle(n)
	base := n.Load()
	writeFiles(t, dir, map[string]string{"new/deeper/x.yaml": "x"})
	waitFor(t, n, base+1, "write in a new subdirectory")
	if got := settle(n); got != base+1 {
		t.Fatalf("one write gave %d callbacks", got-base)
	}
}

func TestWatchGitRepo(t *testing.T) {
	work, _ := newWorkRepo(t, map[string]string{"a.yaml": "1"})
	n := startWatch(t, work)

	// Work-tree edits and staging are not commits.
	writeFiles(t, work, map[string]string{"a.yaml": "2"})
	runGit(t, work, "add", "-A")
	if got := settle(n); got != 0 {
		t.Fatalf("uncommitted edit gave %d callbacks", got)
	}

	runGit(t, work, "commit", "-q", "-m", "two")
	waitFor(t, n, 1, "commit")
	if got := settle(n); got != 1 {
		t.Fatalf("one commit gave %d callbacks", got)
	}

	// A new branch lives in a new directory under refs/heads.
	runGit(t, work, "branch", "feature/x")
	waitFor(t, n, 2, "branch")
	settle(n)
	base := n.Load()
	runGit(t, work, "update-ref", "refs/heads/feature/x", "HEAD~1")
	waitFor(t, n, base+1, "update of a ref in a new directory")
}

func TestWatchBareRepoPush(t *testing.T) {
	work, _ := newWorkRepo(t, map[string]string{"a.yaml": "1"})
	bare := bareCopy(t, work, t.TempDir(), "repo")
	n := startWatch(t, bare)
	writeFiles(t, work, map[string]string{"a.yaml": "2"})
	commitAll(t, work, "two")
	runGit(t, work, "push", "-q", bare, "master")
	waitFor(t, n, 1, "push into bare repository")
}

func TestWatchErrors(t *testing.T) {
	if _, err := NewWatcher(filepath.Join(t.TempDir(), "missing"), func() {}); err == nil {
		t.Fatal("watching a missing path succeeded")
	}
	if _, err := NewWatcher(t.TempDir(), nil); err == nil {
		t.Fatal("nil callback accepted")
	}
}
