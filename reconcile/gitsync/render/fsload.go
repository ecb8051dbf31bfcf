package render

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// mount is where the source root lives in the in-memory filesystem handed
// to kustomize. It is not "/" so that a path climbing above the root cannot
// be silently clamped back into it ("/../x" is "/x"); such paths are refused
// before the build anyway.
const mount = "/source"

// DefaultMaxBytes caps how much of the source tree Render copies into
// memory when Options.MaxBytes is zero.
const DefaultMaxBytes = 256 << 20

// tree is the source root copied into memory: every regular file, with
// symlinks resolved and checked to stay inside the root. Kustomize builds
// from it and never touches the disk, so a build can neither read outside
// the root nor write into the user's folder.
type tree struct {
	fs    filesys.FileSystem
	dirs  map[string][]string // root-relative dir ("." for the root) → sorted child names
	files map[string]bool     // root-relative file paths
}

// abs maps a root-relative path to its place in the in-memory filesystem.
func (t *tree) abs(rel string) string {
	return path.Join(mount, filepath.ToSlash(rel))
}

func (t *tree) isDir(rel string) bool {
	_, ok := t.dirs[path.Clean(rel)]
	return ok
}

func (t *tree) isFile(rel string) bool { return t.files[path.Clean(rel)] }

func (t *tree) read(rel string) ([]byte, error) { return t.fs.ReadFile(t.abs(rel)) }

func (t *tree) write(rel string, data []byte) error {
	t.files[path.Clean(rel)] = true
	return t.fs.WriteFile(t.abs(rel), data)
}

type loader struct {
	ctx      context.Context
	realRoot string
	t        *tree
	budget   int64
	active   map[string]bool // real directories being copied: a symlink back into one is a cycle
}

// excluded holds the names source-controller leaves out of every artifact
// by default (VCS metadata, CI configs, tool configs), so a Flux
// Kustomization never sees them; Skiff leaves them out the same way, which
// keeps a .github/workflows/*.yml from breaking a generated kustomization.
// The image and archive extensions Flux also drops can never be manifests
// and are left to the size limit.
var excludedDirs = map[string]bool{".git": true, ".github": true, ".circleci": true}

var excludedFiles = map[string]bool{
	".gitignore": true, ".gitmodules": true, ".gitattributes": true,
	".travis.yml": true, ".gitlab-ci.yml": true, "appveyor.yml": true, ".drone.yml": true,
	"cloudbuild.yaml": true, "codeship-services.yml": true, "codeship-steps.yml": true,
	".goreleaser.yml": true, ".goreleaser.brew.yml": true, ".sops.yaml": true, ".flux.yaml": true,
	".golangci.yaml": true,
}

// loadTree copies root into memory, leaving out what Flux's artifacts
// leave out (see excludedDirs).
func loadTree(ctx context.Context, root string, maxBytes int64) (*tree, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("source root: %w", err)
	}
	if realRoot, err = filepath.Abs(realRoot); err != nil {
		return nil, fmt.Errorf("source root: %w", err)
	}
	fi, err := os.Stat(realRoot)
	if err != nil {
		return nil, fmt.Errorf("source root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("source root %s is not a directory", root)
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	l := &loader{
		ctx:      ctx,
		realRoot: realRoot,
		t:        &tree{fs: filesys.MakeFsInMemory(), dirs: map[string][]string{}, files: map[string]bool{}},
		budget:   maxBytes,
		active:   map[string]bool{},
	}
	if err := l.t.fs.MkdirAll(mount); err != nil {
		return nil, err
	}
	if err := l.copyDir(realRoot, "."); err != nil {
		return nil, err
	}
	return l.t, nil
}

// inside reports whether real (already free of symlinks) is within the root.
func (l *loader) inside(real string) bool {
	rel, err := filepath.Rel(l.realRoot, real)
	return err == nil && rel != ".." && !filepathHasDotDot(rel) && !filepath.IsAbs(rel)
}

func filepathHasDotDot(rel string) bool {
	return len(rel) >= 3 && rel[:3] == ".."+string(filepath.Separator)
}

func (l *loader) copyDir(real, rel string) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	l.active[real] = true
	defer delete(l.active, real)
	entries, err := os.ReadDir(real)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	if rel != "." {
		if err := l.t.fs.MkdirAll(l.t.abs(rel)); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if (e.IsDir() && excludedDirs[e.Name()]) || (!e.IsDir() && excludedFiles[e.Name()]) {
			continue
		}
		childReal := filepath.Join(real, e.Name())
		childRel := path.Join(rel, e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(childReal)
			if err != nil {
				return fileErr(childRel, 0, fmt.Errorf("broken symlink: %w", err))
			}
			if !l.inside(target) {
				return fileErr(childRel, 0, fmt.Errorf("symlink %w", ErrOutsideRoot))
			}
			childReal = target
		}
		fi, err := os.Stat(childReal)
		if err != nil {
			return fileErr(childRel, 0, err)
		}
		switch {
		case fi.IsDir():
			if l.active[childReal] {
				return fileErr(childRel, 0, fmt.Errorf("symlink cycle"))
			}
			if err := l.copyDir(childReal, childRel); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if l.budget -= fi.Size(); l.budget < 0 {
				return fmt.Errorf("source tree is larger than the render limit")
			}
			data, err := os.ReadFile(childReal)
			if err != nil {
				return fileErr(childRel, 0, err)
			}
			if err := l.t.write(childRel, data); err != nil {
				return err
			}
		default:
			continue // sockets, devices and pipes are never manifests
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	l.t.dirs[rel] = names
	return nil
}
