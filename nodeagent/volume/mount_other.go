//go:build !linux

package volume

import (
	"errors"
	"fmt"
	"io/fs"
)

// Skiff's agent runs on Linux; elsewhere the package builds, memory-backed
// emptyDirs fall back to disk, and there are no mounts to undo.

func mountTmpfs(dir string, size int64) error {
	return fmt.Errorf("tmpfs mounts need Linux: %w", fs.ErrPermission)
}

func isTmpfsMount(dir string) (bool, error) { return false, nil }

func mountsUnder(dir string) ([]string, error) { return nil, nil }

func unmount(path string) error { return errors.New("unmount needs Linux") }
