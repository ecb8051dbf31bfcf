package source

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// folderEntries lists the kept paths of a plain directory, with the same
// ignore rules as a git tree. Files are opened through an os.Root so a
// path swapped for a symlink while copying cannot lead outside the folder.
// Sockets, devices and pipes are skipped.
func folderEntries(root *os.Root, ignore *string) ([]entry, error) {
	fsys := root.FS()
	rules := newIgnoreRules()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return fs.SkipDir
		}
		if d.Name() == IgnoreFile && d.Type().IsRegular() {
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			dir := path.Dir(p)
			if dir == "." {
				dir = ""
			}
			rules.add(string(b), splitPath(dir))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading ignore files: %w", err)
	}
	if ignore != nil {
		rules.add(*ignore, nil)
	}
	m := rules.matcher()
	var out []entry
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if m.Match(splitPath(p), d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case d.IsDir():
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			k := kindFile
			if info.Mode().Perm()&0o100 != 0 {
				k = kindExec
			}
			name := p
			out = append(out, entry{path: p, kind: k, size: info.Size(),
				open: func() (io.ReadCloser, error) { return root.Open(name) }})
		case t&fs.ModeSymlink != 0:
			target, err := root.Readlink(p)
			if err != nil {
				return err
			}
			if err := checkSymlink(p, target); err != nil {
				return err
			}
			out = append(out, entry{path: p, kind: kindSymlink, size: int64(len(target)), target: target})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing folder: %w", err)
	}
	return out, nil
}
