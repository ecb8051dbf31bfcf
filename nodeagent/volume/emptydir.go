package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// setupEmptyDir makes the pod's scratch directory. A memory-backed one is
// a tmpfs mounted on it, so every container of the pod shares it (a
// per-container tmpfs from the engine would not be shared).
func (m *Manager) setupEmptyDir(pod *corev1.Pod, v *corev1.Volume) ([]string, error) {
	ed := v.EmptyDir
	if err := checkMedium(ed.Medium); err != nil {
		return nil, err
	}
	dir, err := m.volumeDir(pod.UID, pluginEmptyDir, v.Name)
	if err != nil {
		return nil, err
	}
	mode := fs.FileMode(0o777)
	if ed.Mode != nil {
		mode = fs.FileMode(*ed.Mode) & fs.ModePerm
		if *ed.Mode&0o1000 != 0 {
			mode |= fs.ModeSticky
		}
	}
	gid := -1
	var warnings []string
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		if m.privileged {
			// The kubelet's read-write ownership: group fsGroup, group
			// may read, write and enter, and new files inherit the group.
			gid = int(*sc.FSGroup)
			mode |= 0o770 | fs.ModeSetgid
		} else {
			warnings = append(warnings, "file ownership (fsGroup) not applied: the node agent is not running as root")
		}
	}

	created, err := ensureDir(dir)
	if err != nil {
		return warnings, err
	}
	// Permissions are set once: afterwards the directory is the pod's,
	// and a container that changed them keeps its change.
	if created {
		if err := setDirPerm(dir, mode, gid); err != nil {
			return warnings, err
		}
	}
	if ed.Medium != corev1.StorageMediumMemory {
		return warnings, nil
	}

	mounted, err := isTmpfsMount(dir)
	if err != nil || mounted {
		return warnings, err
	}
	// Mounting over files would hide what the pod wrote there: a
	// non-empty directory is an earlier fallback, and stays one.
	empty, err := isEmptyDir(dir)
	if err != nil {
		return warnings, err
	}
	fallback := func(reason string) ([]string, error) {
		return append(warnings, "emptyDir medium Memory is a directory on disk, not tmpfs: "+reason), nil
	}
	switch {
	case !empty:
		return fallback("the directory already holds files from an earlier fallback")
	case !m.privileged:
		return fallback("the node agent is not running as root")
	}
	err = m.mountTmpfs(dir, m.memoryVolumeSize(pod, ed))
	if errors.Is(err, fs.ErrPermission) {
		return fallback(fmt.Sprintf("mounting tmpfs is not permitted (%v)", err))
	}
	if err != nil {
		return warnings, fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	// The tmpfs root is a new directory: give it the volume's mode and
	// owner too.
	return warnings, setDirPerm(dir, mode, gid)
}

// checkMedium accepts the media Skiff provides: disk and memory.
func checkMedium(medium corev1.StorageMedium) error {
	switch {
	case medium == corev1.StorageMediumDefault, medium == corev1.StorageMediumMemory:
		return nil
	case medium == corev1.StorageMediumHugePages, strings.HasPrefix(string(medium), string(corev1.StorageMediumHugePagesPrefix)):
		return unsupported("emptyDir volumes with medium " + string(medium))
	}
	return fmt.Errorf("unknown emptyDir medium %q", medium)
}

// memoryVolumeSize bounds a memory-backed emptyDir as the kubelet does:
// the smallest of the node's allocatable memory, the pod's memory limit
// (when every container has one) and the volume's sizeLimit. 0 leaves
// the kernel's default when none is known.
func (m *Manager) memoryVolumeSize(pod *corev1.Pod, ed *corev1.EmptyDirVolumeSource) int64 {
	var size int64
	lower := func(v int64) {
		if v > 0 && (size == 0 || v < size) {
			size = v
		}
	}
	if q, ok := m.opts.Allocatable()[corev1.ResourceMemory]; ok {
		lower(q.Value())
	}
	lower(podMemoryLimit(pod))
	if ed.SizeLimit != nil {
		lower(ed.SizeLimit.Value())
	}
	return size
}

// podMemoryLimit is the pod's memory limit as the kubelet sizes the pod's
// cgroup: a pod-level limit if set; else the app containers and sidecars
// together, or an init container with the sidecars started before it if
// that is more, plus the pod overhead. 0 when some container has no limit.
func podMemoryLimit(pod *corev1.Pod) int64 {
	if r := pod.Spec.Resources; r != nil {
		if q, ok := r.Limits[corev1.ResourceMemory]; ok && !q.IsZero() {
			return q.Value()
		}
	}
	limit := func(c *corev1.Container) (int64, bool) {
		q, ok := c.Resources.Limits[corev1.ResourceMemory]
		return q.Value(), ok && !q.IsZero()
	}
	var apps, sidecars, peak int64
	for i := range pod.Spec.Containers {
		l, ok := limit(&pod.Spec.Containers[i])
		if !ok {
			return 0
		}
		apps += l
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		l, ok := limit(c)
		if !ok {
			return 0
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars += l
			continue
		}
		peak = max(peak, l+sidecars)
	}
	total := max(apps+sidecars, peak)
	if q, ok := pod.Spec.Overhead[corev1.ResourceMemory]; ok {
		total += q.Value()
	}
	return total
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}
