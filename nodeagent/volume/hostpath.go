package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// checkHostPath honours a hostPath volume's type as the kubelet does:
// the *OrCreate types create what is missing, the others must find what
// they name. Whether the pod may use hostPath at all is admission's call.
func checkHostPath(hp *corev1.HostPathVolumeSource) error {
	p := hp.Path
	if !filepath.IsAbs(p) {
		return fmt.Errorf("hostPath %q is not an absolute path", p)
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return fmt.Errorf("hostPath %q must not contain '..'", p)
		}
	}
	typ := corev1.HostPathUnset
	if hp.Type != nil {
		typ = *hp.Type
	}
	fi, err := os.Stat(p)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("hostPath type check failed: %w", err)
	}
	is := func(ok bool, what string) error {
		if !exists {
			return fmt.Errorf("hostPath type check failed: %s does not exist", p)
		}
		if !ok {
			return fmt.Errorf("hostPath type check failed: %s is not %s", p, what)
		}
		return nil
	}
	switch typ {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			// 0755, as the kubelet documents for created directories.
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("hostPath: create directory: %w", err)
			}
			return nil
		}
		return is(fi.IsDir(), "a directory")
	case corev1.HostPathDirectory:
		return is(exists && fi.IsDir(), "a directory")
	case corev1.HostPathFileOrCreate:
		if !exists {
			// The parent must exist: the kubelet does not create it
			// either, and says so in its documentation.
			f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE, 0o644)
			if err != nil {
				return fmt.Errorf("hostPath: create file: %w", err)
			}
			return f.Close()
		}
		return is(fi.Mode().IsRegular(), "a file")
	case corev1.HostPathFile:
		return is(exists && fi.Mode().IsRegular(), "a file")
	case corev1.HostPathSocket:
		return is(exists && fi.Mode()&fs.ModeSocket != 0, "a socket file")
	case corev1.HostPathCharDev:
		return is(exists && fi.Mode()&fs.ModeCharDevice != 0, "a character device")
	case corev1.HostPathBlockDev:
		return is(exists && fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0, "a block device")
	}
	return fmt.Errorf("hostPath type %q is not a valid type", typ)
}
