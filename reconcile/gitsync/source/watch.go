package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long a Watcher waits after the last event of a
// burst before calling back. Saving a file is several events (create a
// temp file, write, rename); a commit is several ref updates.
const DefaultDebounce = 100 * time.Millisecond

// maxDelayFactor caps how long a steady stream of events can postpone the
// callback: at most this many debounce periods after the first event.
const maxDelayFactor = 10

// Watcher calls back when a local source changes: any file in a folder, or
// a ref (HEAD, packed-refs, refs/...) of a git repository, so a commit
// triggers it but editing the work tree does not. Create one with
// NewWatcher and run it with Run.
type Watcher struct {
	fsw      *fsnotify.Watcher
	root     string
	gitDir   string // set when watching a repository
	onChange func()
	debounce time.Duration
}

// Watch watches path until ctx ends, calling onChange once per burst of
// changes. It returns nil when ctx ends, or the error that stopped it.
func Watch(ctx context.Context, path string, onChange func()) error {
	w, err := NewWatcher(path, onChange)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// NewWatcher sets up the watches before returning, so a change made after
// it returns is seen. path is a folder or a git repository (a work tree
// with .git, or a bare repository). The caller must call Run or Close.
func NewWatcher(path string, onChange func()) (*Watcher, error) {
	if onChange == nil {
		return nil, fmt.Errorf("%w: watch %s: nil callback", ErrInvalidRequest, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: watch %s: not a directory", ErrInvalidRequest, path)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, inotifyHint(err))
	}
	w := &Watcher{fsw: fsw, root: filepath.Clean(path), onChange: onChange, debounce: DefaultDebounce}
	w.gitDir = gitDirOf(w.root)
	if w.gitDir != "" {
		// HEAD and packed-refs live directly in the git dir; loose refs
		// under refs/, in subdirectories as deep as branch names go.
		err = fsw.Add(w.gitDir)
		if err == nil {
			err = w.addTree(filepath.Join(w.gitDir, "refs"))
		}
	} else {
		err = w.addTree(w.root)
	}
	if err != nil {
		fsw.Close()
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	return w, nil
}

// SetDebounce changes the quiet period; call it before Run.
func (w *Watcher) SetDebounce(d time.Duration) { w.debounce = d }

// Close releases the watches; Run does it on return.
func (w *Watcher) Close() error { return w.fsw.Close() }

// Run delivers callbacks until ctx ends, then closes the watcher. Callbacks
// run on Run's goroutine, one at a time.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.fsw.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time // first event of the pending burst; zero if none
	pending := func() {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		wait := w.debounce
		if limit := first.Add(maxDelayFactor * w.debounce); now.Add(wait).After(limit) {
			wait = max(limit.Sub(now), 0)
		}
		timer.Reset(wait)
	}
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return nil
			}
			if w.relevant(ev) {
				pending()
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost; assume something changed.
				pending()
				continue
			}
			return fmt.Errorf("watch %s: %w", w.root, inotifyHint(err))
		case <-timer.C:
			first = time.Time{}
			w.onChange()
		}
	}
}

// relevant filters events and keeps the watch set up to date as
// directories appear.
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false // touch, chmod, atime: content is unchanged
	}
	if ev.Op.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			// A new directory may already hold files and subdirectories
			// created before its watch was added; addTree covers them and
			// the event itself triggers a callback.
			_ = w.addTree(ev.Name)
		}
	}
	if w.gitDir == "" {
		return true
	}
	base := filepath.Base(ev.Name)
	if strings.HasSuffix(base, ".lock") {
		return false // git writes x.lock then renames it to x
	}
	if filepath.Dir(ev.Name) == w.gitDir {
		return base == "HEAD" || base == "packed-refs" || base == "refs"
	}
	return strings.HasPrefix(ev.Name, filepath.Join(w.gitDir, "refs")+string(filepath.Separator))
}

// addTree watches dir and every directory under it. inotify watches are
// per directory, hence the walk.
func (w *Watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if err := w.fsw.Add(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return inotifyHint(err)
		}
		return nil
	})
}

// gitDirOf returns the git directory if root is a repository: root/.git
// (a directory, or a file "gitdir: <path>" for linked work trees and
// submodules), or root itself when bare.
func gitDirOf(root string) string {
	dotgit := filepath.Join(root, ".git")
	if fi, err := os.Stat(dotgit); err == nil {
		if fi.IsDir() {
			return dotgit
		}
		if b, err := os.ReadFile(dotgit); err == nil {
			if d, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:"); ok {
				d = strings.TrimSpace(d)
				if !filepath.IsAbs(d) {
					d = filepath.Join(root, d)
				}
				return filepath.Clean(d)
			}
		}
	}
	if isFile(filepath.Join(root, "HEAD")) && isDir(filepath.Join(root, "refs")) && isDir(filepath.Join(root, "objects")) {
		return root
	}
	return ""
}

func isFile(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Mode().IsRegular() }
func isDir(p string) bool  { fi, err := os.Stat(p); return err == nil && fi.IsDir() }

// inotifyHint names the kernel limit behind the errors inotify gives when
// it runs out: ENOSPC for watches, EMFILE for instances.
func inotifyHint(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w (inotify watch limit reached: raise fs.inotify.max_user_watches)", err)
	case errors.Is(err, syscall.EMFILE):
		return fmt.Errorf("%w (inotify instance limit reached: raise fs.inotify.max_user_instances)", err)
	}
	return err
}
