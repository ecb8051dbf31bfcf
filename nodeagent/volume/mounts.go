package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// Mounts resolves the container's volumeMounts to host paths for the
// runtime, in the order the spec lists them. Call it after Setup
// succeeded, when creating the container.
//
// env is the container's resolved environment (name to value), which
// subPathExpr expands $(VAR) references against. A subPath (or an expanded subPathExpr) is
// resolved now: a missing one is created as a directory, as the kubelet
// does, and one that leads out of its volume (absolute, "..", or a
// symlink pointing out) is an error. Because it is resolved now, a
// subPath mount of a ConfigMap key keeps the content it had, as on a
// kubelet. ConfigMap, Secret, downwardAPI and projected volumes are
// mounted read-only whatever the mount says, as the kubelet does. Every
// mount is a bind mount, a memory-backed emptyDir included (its host
// tmpfs is what the pod's containers share); Mounts never returns a
// runtime.Mount with Tmpfs set.
func (m *Manager) Mounts(pod *corev1.Pod, c *corev1.Container, env map[string]string) ([]runtime.Mount, error) {
	if err := checkUID(pod.UID); err != nil {
		return nil, err
	}
	vols := make(map[string]*corev1.Volume, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		vols[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var out []runtime.Mount
	for _, vm := range c.VolumeMounts {
		mt, err := m.mount(pod, vols, &vm, env)
		if err != nil {
			return nil, fmt.Errorf("container %q: volumeMount %q at %s: %w", c.Name, vm.Name, vm.MountPath, err)
		}
		out = append(out, mt)
	}
	return out, nil
}

func (m *Manager) mount(pod *corev1.Pod, vols map[string]*corev1.Volume, vm *corev1.VolumeMount, env map[string]string) (runtime.Mount, error) {
	v, ok := vols[vm.Name]
	if !ok {
		return runtime.Mount{}, errors.New("the pod has no volume of that name")
	}
	// The runtime's mounts are private and read-only only at the top:
	// saying yes to more would silently give less.
	if p := vm.MountPropagation; p != nil && *p != corev1.MountPropagationNone {
		return runtime.Mount{}, unsupported("volume mounts with mountPropagation " + string(*p))
	}
	if r := vm.RecursiveReadOnly; r != nil && *r == corev1.RecursiveReadOnlyEnabled {
		return runtime.Mount{}, unsupported("volume mounts with recursiveReadOnly Enabled")
	}
	source, apiData, err := m.hostPath(pod, v)
	if err != nil {
		return runtime.Mount{}, err
	}
	sub := vm.SubPath
	if vm.SubPathExpr != "" {
		if sub, err = expandSubPath(vm.SubPathExpr, env); err != nil {
			return runtime.Mount{}, err
		}
	}
	if sub != "" {
		if source, err = resolveSubPath(source, sub); err != nil {
			return runtime.Mount{}, err
		}
	}
	return runtime.Mount{Source: source, Target: vm.MountPath, ReadOnly: vm.ReadOnly || apiData}, nil
}

// hostPath is where volume v of the pod is on the host, and whether it is
// an API-data volume (always mounted read-only).
func (m *Manager) hostPath(pod *corev1.Pod, v *corev1.Volume) (path string, apiData bool, err error) {
	var plugin string
	switch {
	case v.HostPath != nil:
		return v.HostPath.Path, false, nil
	case v.EmptyDir != nil:
		if err := checkMedium(v.EmptyDir.Medium); err != nil {
			return "", false, err
		}
		plugin = pluginEmptyDir
	case v.ConfigMap != nil:
		plugin, apiData = pluginConfigMap, true
	case v.Secret != nil:
		plugin, apiData = pluginSecret, true
	case v.DownwardAPI != nil:
		plugin, apiData = pluginDownwardAPI, true
	case v.Projected != nil:
		plugin, apiData = pluginProjected, true
	default:
		if kind := sourceKind(&v.VolumeSource); kind != "" {
			return "", false, unsupported(kind + " volumes")
		}
		return "", false, errors.New("the volume names no source")
	}
	dir, err := m.volumeDir(pod.UID, plugin, v.Name)
	if err != nil {
		return "", false, err
	}
	// Mounting a directory that is not there would make the engine
	// create an empty one: a pod would start without its data.
	if _, err := os.Stat(dir); err != nil {
		return "", false, fmt.Errorf("volume %q is not set up: %w", v.Name, err)
	}
	return dir, apiData, nil
}

// expandSubPath expands $(VAR) in a subPathExpr like the kubelet: "$$"
// is a literal "$", a reference that is not closed stays as written, and
// a variable that is unset or empty is an error (it would silently mount
// the volume's root).
func expandSubPath(expr string, env map[string]string) (string, error) {
	var missing []string
	out := expand(expr, func(name string) string {
		v := env[name]
		if v == "" && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("subPathExpr %q: missing value for %s", expr, strings.Join(missing, ", "))
	}
	return out, nil
}

// expand replaces $(NAME) in s with mapping(NAME), following the
// Kubernetes expansion syntax used for command, args and subPathExpr.
func expand(s string, mapping func(string) string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch next := s[i+1]; next {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				continue
			}
			b.WriteString(mapping(s[i+2 : i+2+end]))
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(next)
			i++
		}
	}
	return b.String()
}

// resolveSubPath returns base/sub with every symlink resolved, checking
// at each step that it stays inside base, and creating missing
// directories with base's mode. The check is as good as the moment it
// runs: a container that can write the volume could swap a directory for
// a symlink before the engine mounts, which the kubelet prevents by
// mounting through file descriptors and an engine path cannot.
func resolveSubPath(base, sub string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("subPath %q must be a relative path", sub)
	}
	for _, elem := range strings.Split(sub, "/") {
		if elem == ".." {
			return "", fmt.Errorf("subPath %q must not contain '..'", sub)
		}
	}
	root, err := filepath.EvalSymlinks(base)
	if err != nil {
		return "", fmt.Errorf("subPath %q: %w", sub, err)
	}
	rootInfo, err := os.Stat(root)
	if err != nil {
		return "", err
	}
	clean := filepath.Clean(sub)
	if clean == "." {
		return root, nil
	}
	cur := root
	elems := strings.Split(clean, "/")
	for i, elem := range elems {
		next := filepath.Join(cur, elem)
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(next, rootInfo.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", fmt.Errorf("subPath %q: %w", sub, err)
			}
			// Retry the element: it exists now, made by us or by a racer.
			fi, err = os.Lstat(next)
			if err != nil {
				return "", fmt.Errorf("subPath %q: %w", sub, err)
			}
			if fi.IsDir() {
				if err := os.Chmod(next, rootInfo.Mode().Perm()); err != nil {
					return "", err
				}
			}
		case err != nil:
			return "", fmt.Errorf("subPath %q: %w", sub, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			resolved, err := filepath.EvalSymlinks(next)
			if err != nil {
				return "", fmt.Errorf("subPath %q: %w", sub, err)
			}
			if !within(root, resolved) {
				return "", fmt.Errorf("subPath %q leads outside its volume (to %s)", sub, resolved)
			}
			next = resolved
			if fi, err = os.Stat(next); err != nil {
				return "", err
			}
		}
		if i < len(elems)-1 && !fi.IsDir() {
			return "", fmt.Errorf("subPath %q: %s is not a directory", sub, filepath.Join(elems[:i+1]...))
		}
		cur = next
	}
	return cur, nil
}

// within reports whether path p is root or below it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}
