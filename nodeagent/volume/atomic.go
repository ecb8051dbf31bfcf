package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The atomic writer's reserved names, as the kubelet spells them. Users
// cannot collide with them: item paths may not start with "..".
const (
	dataDirName    = "..data"
	dataDirTmpName = "..data_tmp"
	tsLayout       = "..2006_01_02_15_04_05."
)

// file is one file of an atomically written volume.
type file struct {
	data []byte
	mode fs.FileMode
	// uid and gid own the file; -1 leaves it to the agent's user.
	uid, gid int
}

// payload is the full content of a volume, by relative path.
type payload map[string]file

// checkFilePath refuses a path that could leave the volume or collide with
// the writer's own names. The API server validates the same, but the
// objects come from users and a mistake here writes outside the pod.
func checkFilePath(p string) error {
	switch {
	case p == "":
		return errors.New("invalid path: must not be empty")
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("invalid path %q: must not contain NUL", p)
	case filepath.IsAbs(p):
		return fmt.Errorf("invalid path %q: must not be an absolute path", p)
	case len(p) > 4096:
		return fmt.Errorf("invalid path %q: must be at most 4096 bytes", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("invalid path %q: must not start with '..'", p)
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return fmt.Errorf("invalid path %q: must not contain '..'", p)
		}
		if len(elem) > 255 {
			return fmt.Errorf("invalid path %q: a path element must be at most 255 bytes", p)
		}
	}
	return nil
}

// cleanPayload validates every path and keys the payload by clean paths,
// refusing two names for one file and a file that another path needs as a
// directory.
func cleanPayload(p payload) (payload, error) {
	out := make(payload, len(p))
	raw := make(map[string]string, len(p))
	for _, k := range slices.Sorted(maps.Keys(p)) {
		if err := checkFilePath(k); err != nil {
			return nil, err
		}
		c := filepath.Clean(k)
		if c == "." {
			return nil, fmt.Errorf("invalid path %q: names the volume itself", k)
		}
		if prev, ok := raw[c]; ok {
			return nil, fmt.Errorf("paths %q and %q name the same file", prev, k)
		}
		raw[c] = k
		out[c] = p[k]
	}
	for c := range out {
		for d := filepath.Dir(c); d != "."; d = filepath.Dir(d) {
			if _, ok := out[d]; ok {
				return nil, fmt.Errorf("path %q is a file and also the directory of %q", raw[d], raw[c])
			}
		}
	}
	return out, nil
}

// writeAtomic makes dir hold exactly p, the way the kubelet's AtomicWriter
// does, and reports whether the content changed. When the current
// timestamped directory already holds p it writes nothing, so calling it
// on every sync costs a read of the files. dir itself must exist; gid, if
// not -1, owns the directories the writer makes.
func writeAtomic(dir string, p payload, gid int, now time.Time) (changed bool, err error) {
	p, err = cleanPayload(p)
	if err != nil {
		return false, err
	}
	dataLink := filepath.Join(dir, dataDirName)
	current, err := os.Readlink(dataLink)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if current == "" || !holds(filepath.Join(dir, current), p) {
		ts, err := writeTimestampDir(dir, p, gid, now)
		if err != nil {
			return false, err
		}
		// Renaming a symlink over another is atomic: a reader resolves
		// "..data" to the old set or the new one, never to nothing.
		tmp := filepath.Join(dir, dataDirTmpName)
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		if err := os.Symlink(ts, tmp); err != nil {
			return false, err
		}
		if err := os.Rename(tmp, dataLink); err != nil {
			return false, err
		}
		current, changed = ts, true
	}
	return changed, syncVisible(dir, p, current)
}

// holds reports whether tsDir contains exactly the files of p, with their
// content, mode and owners.
func holds(tsDir string, p payload) bool {
	n := 0
	errMismatch := errors.New("mismatch")
	err := filepath.WalkDir(tsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(tsDir, path)
		if err != nil {
			return err
		}
		want, ok := p[rel]
		if !ok || !d.Type().IsRegular() {
			return errMismatch
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != want.mode || fi.Size() != int64(len(want.data)) || !ownedBy(fi, want.uid, want.gid) {
			return errMismatch
		}
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want.data) {
			return errMismatch
		}
		n++
		return nil
	})
	return err == nil && n == len(p)
}

func ownedBy(fi fs.FileInfo, uid, gid int) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return uid < 0 && gid < 0
	}
	return (uid < 0 || int(st.Uid) == uid) && (gid < 0 || int(st.Gid) == gid)
}

// writeTimestampDir writes p into a new "..<timestamp>" directory in dir
// and returns its name. Nothing points at it yet, so readers cannot see a
// half-written file.
func writeTimestampDir(dir string, p payload, gid int, now time.Time) (name string, err error) {
	ts, err := os.MkdirTemp(dir, now.UTC().Format(tsLayout))
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(ts)
		}
	}()
	if err := setDirPerm(ts, 0o755, gid); err != nil {
		return "", err
	}
	for _, rel := range slices.Sorted(maps.Keys(p)) {
		f := p[rel]
		target := filepath.Join(ts, rel)
		if err := mkdirsBelow(ts, filepath.Dir(rel), gid); err != nil {
			return "", err
		}
		if err := writeFile(target, f); err != nil {
			return "", err
		}
	}
	return filepath.Base(ts), nil
}

// mkdirsBelow creates the directories of rel under base, each 0755
// whatever the umask.
func mkdirsBelow(base, rel string, gid int) error {
	if rel == "." {
		return nil
	}
	cur := base
	for _, elem := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, elem)
		err := os.Mkdir(cur, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := setDirPerm(cur, 0o755, gid); err != nil {
			return err
		}
	}
	return nil
}

func setDirPerm(dir string, mode fs.FileMode, gid int) error {
	if gid >= 0 {
		if err := os.Lchown(dir, -1, gid); err != nil {
			return err
		}
	}
	return os.Chmod(dir, mode)
}

func writeFile(path string, f file) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = out.Write(f.data)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if f.uid >= 0 || f.gid >= 0 {
		if err := os.Lchown(path, f.uid, f.gid); err != nil {
			return err
		}
	}
	// Chmod after writing: the umask must not decide what the pod sees.
	return os.Chmod(path, f.mode)
}

// syncVisible makes the user-visible names of dir match p: a symlink
// "name -> ..data/name" per top-level name, none for names no longer in
// p, and no timestamped directory but current. It also repairs what an
// interrupted update left behind.
func syncVisible(dir string, p payload, current string) error {
	top := map[string]bool{}
	for rel := range p {
		first, _, _ := strings.Cut(rel, "/")
		top[first] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataDirName:
		case strings.HasPrefix(name, ".."):
			// Old timestamped directories and a stale "..data_tmp".
			if name != current {
				errs = append(errs, os.RemoveAll(filepath.Join(dir, name)))
			}
		case !top[name]:
			// Only links the writer made are removed: a directory that a
			// subPath mount created here belongs to the pod.
			if target, err := os.Readlink(filepath.Join(dir, name)); err == nil && target == visibleTarget(name) {
				errs = append(errs, os.Remove(filepath.Join(dir, name)))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(top)) {
		errs = append(errs, ensureVisible(dir, name))
	}
	return errors.Join(errs...)
}

func visibleTarget(name string) string { return filepath.Join(dataDirName, name) }

func ensureVisible(dir, name string) error {
	link := filepath.Join(dir, name)
	target, err := os.Readlink(link)
	switch {
	case err == nil && target == visibleTarget(name):
		return nil
	case err == nil:
		// A symlink pointing elsewhere: replace it atomically.
		tmp := filepath.Join(dir, dataDirTmpName)
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Symlink(visibleTarget(name), tmp); err != nil {
			return err
		}
		return os.Rename(tmp, link)
	case errors.Is(err, fs.ErrNotExist):
		return os.Symlink(visibleTarget(name), link)
	default:
		// Not a symlink (a directory a subPath mount created, which a
		// running container may hold): leave it, as the kubelet does.
		return nil
	}
}
