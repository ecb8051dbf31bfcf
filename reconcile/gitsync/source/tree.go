package source

import (
	"fmt"
	"io"
	"path"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// maxSymlinkTarget bounds how much of a symlink blob is read; real targets
// are short and PATH_MAX is 4096 on Linux.
const maxSymlinkTarget = 4096

// treeEntries lists the kept paths of a commit's tree: .sourceignore files
// anywhere in the tree are read first, then the tree is walked with the
// combined rules, never descending into an excluded directory. Submodules
// are skipped: they are never fetched.
func treeEntries(s storer.EncodedObjectStorer, tree *object.Tree, ignore *string) ([]entry, error) {
	rules := newIgnoreRules()
	if err := loadTreeIgnores(s, tree, "", rules); err != nil {
		return nil, err
	}
	if ignore != nil {
		rules.add(*ignore, nil)
	}
	m := rules.matcher()
	var out []entry
	var walk func(t *object.Tree, dir string) error
	walk = func(t *object.Tree, dir string) error {
		for _, te := range t.Entries {
			p := path.Join(dir, te.Name)
			if err := checkPath(p); err != nil {
				return err
			}
			isDir := te.Mode == filemode.Dir
			if m.Match(splitPath(p), isDir) {
				continue
			}
			switch te.Mode {
			case filemode.Dir:
				sub, err := object.GetTree(s, te.Hash)
				if err != nil {
					return fmt.Errorf("reading tree %s: %w", p, err)
				}
				if err := walk(sub, p); err != nil {
					return err
				}
			case filemode.Regular, filemode.Deprecated, filemode.Executable:
				blob, err := object.GetBlob(s, te.Hash)
				if err != nil {
					return fmt.Errorf("reading %s: %w", p, err)
				}
				k := kindFile
				if te.Mode == filemode.Executable {
					k = kindExec
				}
				out = append(out, entry{path: p, kind: k, size: blob.Size, open: blob.Reader})
			case filemode.Symlink:
				target, err := readBlob(s, te, maxSymlinkTarget)
				if err != nil {
					return fmt.Errorf("reading symlink %s: %w", p, err)
				}
				if err := checkSymlink(p, target); err != nil {
					return err
				}
				out = append(out, entry{path: p, kind: kindSymlink, size: int64(len(target)), target: target})
			case filemode.Submodule:
				// A gitlink names a commit in another repository; submodules
				// are never fetched, so there is nothing to write.
			default:
				return fmt.Errorf("%s: unsupported git file mode %v", p, te.Mode)
			}
		}
		return nil
	}
	if err := walk(tree, ""); err != nil {
		return nil, err
	}
	return out, nil
}

func loadTreeIgnores(s storer.EncodedObjectStorer, t *object.Tree, dir string, rules *ignoreRules) error {
	for _, te := range t.Entries {
		p := path.Join(dir, te.Name)
		switch {
		case te.Mode == filemode.Dir && te.Name != ".git":
			sub, err := object.GetTree(s, te.Hash)
			if err != nil {
				return fmt.Errorf("reading tree %s: %w", p, err)
			}
			if err := loadTreeIgnores(s, sub, p, rules); err != nil {
				return err
			}
		case te.Name == IgnoreFile && te.Mode.IsFile() && te.Mode != filemode.Symlink:
			text, err := readBlob(s, te, 1<<20)
			if err != nil {
				return fmt.Errorf("reading %s: %w", p, err)
			}
			rules.add(text, splitPath(dir))
		}
	}
	return nil
}

func readBlob(s storer.EncodedObjectStorer, te object.TreeEntry, max int64) (string, error) {
	blob, err := object.GetBlob(s, te.Hash)
	if err != nil {
		return "", err
	}
	if blob.Size > max {
		return "", fmt.Errorf("blob is %d bytes, more than %d", blob.Size, max)
	}
	r, err := blob.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}
