package source

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// entryKind is how a kept path is materialised.
type entryKind byte

const (
	kindFile    entryKind = 'f'
	kindExec    entryKind = 'x'
	kindSymlink entryKind = 'l'
)

// entry is one kept path, independent of where it comes from (git tree or
// folder), so both sources share one writer and one digest.
type entry struct {
	path   string // slash-separated, relative to the root
	kind   entryKind
	size   int64  // declared size; a symlink's is len(target)
	target string // symlink target
	open   func() (io.ReadCloser, error)
}

// checkPath refuses names that could escape Dir when joined: empty, ".",
// "..", or absolute. Git trees from a hostile server can carry any of them.
func checkPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") {
		return &OutsideRootError{Path: p}
	}
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." || c == ".." || strings.ContainsRune(c, 0) {
			return &OutsideRootError{Path: p}
		}
	}
	return nil
}

// checkSymlink refuses a link whose target, resolved lexically from the
// link's directory, leaves the root. Every kept link is checked, so chains
// of links cannot escape either.
func checkSymlink(p, target string) error {
	if target == "" || path.IsAbs(target) {
		return &OutsideRootError{Path: p, Target: target}
	}
	res := path.Join(path.Dir(p), target)
	if res == ".." || strings.HasPrefix(res, "../") {
		return &OutsideRootError{Path: p, Target: target}
	}
	return nil
}

// prepareDir creates dir if needed and insists it is empty, so the
// artifact holds exactly the kept files.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating artifact directory: %w", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading artifact directory: %w", err)
	}
	if len(des) > 0 {
		return fmt.Errorf("%w: artifact directory %s is not empty", ErrInvalidRequest, dir)
	}
	return nil
}

// checkSize fails before anything is written when the declared sizes
// already exceed the limit.
func checkSize(entries []entry, limit int64) error {
	if limit <= 0 {
		return nil
	}
	var total int64
	for _, e := range entries {
		total += e.size
		if total > limit {
			return &SizeLimitError{Limit: limit, Size: total}
		}
	}
	return nil
}

// writeEntries writes entries under dir and returns the artifact digest.
// The digest is sha256 over one line per entry in path order:
// "<kind> <sha256 of content> <path>\n", where a symlink's content is its
// target. The limit is enforced again on the bytes actually copied, since
// a folder's files can grow between listing and copying.
func writeEntries(dir string, entries []entry, limit int64) (digest string, size int64, err error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", 0, fmt.Errorf("opening artifact directory: %w", err)
	}
	defer root.Close()
	sum := sha256.New()
	for _, e := range entries {
		if err := checkPath(e.path); err != nil {
			return "", 0, err
		}
		if d := path.Dir(e.path); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return "", 0, fmt.Errorf("writing %s: %w", e.path, err)
			}
		}
		var contentSum []byte
		switch e.kind {
		case kindSymlink:
			if err := root.Symlink(e.target, e.path); err != nil {
				return "", 0, fmt.Errorf("writing symlink %s: %w", e.path, err)
			}
			h := sha256.Sum256([]byte(e.target))
			contentSum = h[:]
			size += int64(len(e.target))
		default:
			n, h, err := copyEntry(root, e, limit-size, limit)
			size += n
			if err != nil {
				var sl *SizeLimitError
				if errors.As(err, &sl) {
					sl.Size = size // the total so far, not just this file
				}
				return "", 0, err
			}
			contentSum = h
		}
		if limit > 0 && size > limit {
			return "", 0, &SizeLimitError{Limit: limit, Size: size}
		}
		fmt.Fprintf(sum, "%c %x %s\n", e.kind, contentSum, e.path)
	}
	return "sha256:" + hex.EncodeToString(sum.Sum(nil)), size, nil
}

// copyEntry copies one file, stopping once more than remaining bytes have
// been read (when limit > 0).
func copyEntry(root *os.Root, e entry, remaining, limit int64) (int64, []byte, error) {
	perm := fs.FileMode(0o644)
	if e.kind == kindExec {
		perm = 0o755
	}
	src, err := e.open()
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s: %w", e.path, err)
	}
	defer src.Close()
	dst, err := root.OpenFile(e.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return 0, nil, fmt.Errorf("writing %s: %w", e.path, err)
	}
	h := sha256.New()
	var r io.Reader = src
	if limit > 0 {
		r = io.LimitReader(src, remaining+1)
	}
	n, err := io.Copy(io.MultiWriter(dst, h), r)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, nil, fmt.Errorf("copying %s: %w", e.path, err)
	}
	if limit > 0 && n > remaining {
		return n, nil, &SizeLimitError{Limit: limit, Size: n}
	}
	return n, h.Sum(nil), nil
}
