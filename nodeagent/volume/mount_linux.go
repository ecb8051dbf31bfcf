package volume

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func mountTmpfs(dir string, size int64) error {
	// No nosuid/nodev/noexec: the kubelet mounts memory-backed emptyDirs
	// without them, and pods rely on running what they put there.
	opts := "mode=0777"
	if size > 0 {
		opts += ",size=" + strconv.FormatInt(size, 10)
	}
	return unix.Mount("tmpfs", dir, "tmpfs", 0, opts)
}

// isTmpfsMount reports whether dir is itself the root of a tmpfs: on a
// tmpfs, and on another device than its parent (root may live on a tmpfs
// of its own, as /tmp often does).
func isTmpfsMount(dir string) (bool, error) {
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return false, err
	}
	if sfs.Type != unix.TMPFS_MAGIC {
		return false, nil
	}
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

// mountsUnder lists the mount points at or below dir (a path without
// symlinks), deepest first, from the kernel's table for this process.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 ...":
		// the fifth field is the mount point, octal-escaped.
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// Deepest first, so a mount is gone before the one it sits on; a
	// path mounted twice is listed twice and unmounted twice.
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out, nil
}

// unescapeMountPath undoes the kernel's \ooo escapes (space, tab,
// newline, backslash) in /proc/self/mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unmount(path string) error {
	err := unix.Unmount(path, 0)
	if errors.Is(err, unix.EBUSY) {
		// Busy on the host means a process of the host still uses it;
		// containers hold their own bind mounts, which a lazy unmount
		// leaves working until they exit.
		err = unix.Unmount(path, unix.MNT_DETACH)
	}
	return err
}
