package gitrepository

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Storage keeps the latest artifact of each GitRepository as a directory
// under Root: <Root>/<namespace>/<name>/<digest hex>.
type Storage struct {
	Root string
}

// objectDir is where one object's artifacts live.
func (s *Storage) objectDir(ns, name string) string { return filepath.Join(s.Root, ns, name) }

// RelPath is status.artifact.path for an artifact directory name.
func RelPath(ns, name, dir string) string { return path.Join(ns, name, dir) }

// Resolve turns a status.artifact.path back into a directory under root,
// refusing anything that is not exactly <ns>/<name>/<dir> inside it: the
// path comes from an object's status, which API clients can write.
func Resolve(root, rel string) (string, error) {
	parts := strings.Split(rel, "/")
	if len(parts) != 3 {
		return "", fmt.Errorf("artifact path %q: want <namespace>/<name>/<dir>", rel)
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, `\`) {
			return "", fmt.Errorf("artifact path %q: invalid element %q", rel, p)
		}
	}
	return filepath.Join(root, parts[0], parts[1], parts[2]), nil
}

// newFetchDir makes an empty scratch directory next to the object's
// artifacts, so that committing it is a rename on one file system.
func (s *Storage) newFetchDir(ns, name string) (string, error) {
	dir := s.objectDir(ns, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("artifact storage: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".fetch-")
	if err != nil {
		return "", fmt.Errorf("artifact storage: %w", err)
	}
	return tmp, nil
}

// commit moves a fetched directory to its final name. If an artifact of
// that name is already stored (the same content fetched again), the new
// copy is dropped.
func (s *Storage) commit(tmp, ns, name, dirName string) (string, error) {
	final := filepath.Join(s.objectDir(ns, name), dirName)
	if _, err := os.Stat(final); err == nil {
		return final, os.RemoveAll(tmp)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("artifact storage: store %s: %w", final, err)
	}
	return final, nil
}

// keepOnly removes every artifact (and stray scratch directory) of an
// object except those named in keep (empty names are ignored).
func (s *Storage) keepOnly(ns, name string, keep ...string) error {
	dir := s.objectDir(ns, name)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("artifact storage: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if slices.Contains(keep, e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// remove deletes all of an object's artifacts.
func (s *Storage) remove(ns, name string) error {
	if err := os.RemoveAll(s.objectDir(ns, name)); err != nil {
		return fmt.Errorf("artifact storage: %w", err)
	}
	// The namespace directory goes when it is empty; failing because
	// another object still has artifacts there is expected.
	_ = os.Remove(filepath.Join(s.Root, ns))
	return nil
}

// exists reports whether an artifact directory is present.
func exists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}
