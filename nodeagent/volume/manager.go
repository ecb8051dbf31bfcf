package volume

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Source gives the ConfigMaps and Secrets pods refer to. The agent backs
// it with informer listers. A missing object is an apierrors NotFound
// error, which Setup tells apart from other failures for optional volumes.
type Source interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// Options configure a Manager. Every field may be left empty.
type Options struct {
	Logger *slog.Logger
	// NodeName answers the downward API's spec.nodeName when the pod does
	// not carry it yet.
	NodeName string
	// HostIP answers status.hostIP when the pod's status does not have it.
	HostIP func() string
	// Allocatable is the node's allocatable resources: the downward API
	// reports them as a container's limits when it sets none, and they
	// bound the size of a memory-backed emptyDir, as on a kubelet.
	Allocatable func() corev1.ResourceList
	// Now names the timestamped directories of atomic writes.
	Now func() time.Time
}

// Plugin directory names, as the kubelet lays out a pod's volumes.
const (
	pluginEmptyDir    = "kubernetes.io~empty-dir"
	pluginConfigMap   = "kubernetes.io~configmap"
	pluginSecret      = "kubernetes.io~secret"
	pluginDownwardAPI = "kubernetes.io~downward-api"
	pluginProjected   = "kubernetes.io~projected"
)

// Manager sets up, refreshes and removes the volumes of the pods on a
// node, under one root directory it owns. It is safe for concurrent use;
// calls for one pod are serialised.
type Manager struct {
	root string
	src  Source
	opts Options
	log  *slog.Logger
	now  func() time.Time

	// privileged says the agent may mount tmpfs and chown files (it runs
	// as root). A field, not a call, so tests can take the other path.
	privileged bool
	// mountTmpfs mounts a tmpfs of at most size bytes (0: the kernel's
	// default) on dir. A field so tests can make it fail as it does
	// without CAP_SYS_ADMIN.
	mountTmpfs func(dir string, size int64) error

	mu   sync.Mutex
	pods map[types.UID]*podState
}

// podState is what the Manager remembers of a pod between calls.
type podState struct {
	mu sync.Mutex // held through Setup and Teardown of the pod
	// warned holds the warnings already returned, so that a pod synced
	// every few seconds yields each warning (and so each event) once.
	warned map[string]bool
}

// NewManager returns a Manager that keeps pods' volumes under root
// (created when needed). root must be dedicated to it: Cleanup removes
// every directory in root that does not belong to a kept pod.
func NewManager(root string, src Source, opts Options) *Manager {
	m := &Manager{
		root:       root,
		src:        src,
		opts:       opts,
		log:        cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		now:        opts.Now,
		privileged: os.Geteuid() == 0,
		mountTmpfs: mountTmpfs,
		pods:       map[types.UID]*podState{},
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.opts.HostIP == nil {
		m.opts.HostIP = func() string { return "" }
	}
	if m.opts.Allocatable == nil {
		m.opts.Allocatable = func() corev1.ResourceList { return nil }
	}
	return m
}

// lockPod returns the pod's state, locked.
func (m *Manager) lockPod(uid types.UID) *podState {
	m.mu.Lock()
	ps := m.pods[uid]
	if ps == nil {
		ps = &podState{warned: map[string]bool{}}
		m.pods[uid] = ps
	}
	m.mu.Unlock()
	ps.mu.Lock()
	return ps
}

// Setup creates or refreshes every volume of pod and returns warnings:
// things the pod can run with but its user should hear about (an event
// each), e.g. a memory-backed emptyDir that had to fall back to disk.
// Each warning is returned once per pod.
//
// Setup is idempotent and does nothing when the volumes are current, so
// the agent calls it on every sync of the pod, when a ConfigMap or Secret
// the pod uses changes, and once the pod's IP is known (pass a copy of the
// pod whose status carries it: the downward API reads status.podIP from
// the pod given). It sets up every volume it can even when one fails, and
// returns the failures joined, each naming its volume.
func (m *Manager) Setup(pod *corev1.Pod) ([]string, error) {
	if err := checkUID(pod.UID); err != nil {
		return nil, err
	}
	ps := m.lockPod(pod.UID)
	defer ps.mu.Unlock()

	var warnings []string
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		w, err := m.setupVolume(pod, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
		}
		for _, msg := range w {
			msg = fmt.Sprintf("volume %q: %s", v.Name, msg)
			if !ps.warned[msg] {
				ps.warned[msg] = true
				warnings = append(warnings, msg)
			}
		}
	}
	return warnings, errors.Join(errs...)
}

func (m *Manager) setupVolume(pod *corev1.Pod, v *corev1.Volume) (warnings []string, err error) {
	switch {
	case v.EmptyDir != nil:
		return m.setupEmptyDir(pod, v)
	case v.HostPath != nil:
		return nil, checkHostPath(v.HostPath)
	case v.ConfigMap != nil, v.Secret != nil, v.DownwardAPI != nil, v.Projected != nil:
		return m.setupAtomic(pod, v)
	}
	if kind := sourceKind(&v.VolumeSource); kind != "" {
		return nil, unsupported(kind + " volumes")
	}
	return nil, errors.New("the volume names no source")
}

// setupAtomic builds the volume's payload from the API objects and the
// pod, and writes it if it changed.
func (m *Manager) setupAtomic(pod *corev1.Pod, v *corev1.Volume) ([]string, error) {
	plugin, p, err := m.atomicPayload(pod, v)
	if err != nil {
		return nil, err
	}
	gid, warnings := m.applyOwnership(pod, p)
	dir, err := m.volumeDir(pod.UID, plugin, v.Name)
	if err != nil {
		return warnings, err
	}
	created, err := ensureDir(dir)
	if err != nil {
		return warnings, err
	}
	if created {
		// The kubelet's volume root is world-writable (it is an emptyDir
		// underneath); the mount is read-only, so only the look matters.
		if err := setDirPerm(dir, 0o777, gid); err != nil {
			return warnings, err
		}
	}
	changed, err := writeAtomic(dir, p, gid, m.now())
	if err != nil {
		return warnings, err
	}
	if changed {
		m.log.Info("volume contents written", "pod", podKey(pod), "volume", v.Name, "files", len(p))
	}
	return warnings, nil
}

// applyOwnership gives the files the owners the pod asks for: the pod's
// fsGroup as group, with group read added (the kubelet's read-only
// ownership mask), and per-file users. Without root the owners cannot be
// changed; the files keep the agent's and the pod hears why. It returns
// the group for the volume's directories (-1: leave it).
func (m *Manager) applyOwnership(pod *corev1.Pod, p payload) (gid int, warnings []string) {
	var fsGroup *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	wantsUser := false
	for _, f := range p {
		wantsUser = wantsUser || f.uid >= 0
	}
	if fsGroup == nil && !wantsUser {
		return -1, nil
	}
	if !m.privileged {
		for k, f := range p {
			f.uid = -1
			p[k] = f
		}
		return -1, []string{"file ownership (fsGroup, user) not applied: the node agent is not running as root"}
	}
	if fsGroup == nil {
		return -1, nil
	}
	for k, f := range p {
		f.gid = int(*fsGroup)
		f.mode |= 0o440
		p[k] = f
	}
	return int(*fsGroup), nil
}

// Teardown removes everything the Manager made for the pod, unmounting
// first whatever is mounted below the pod's directory (memory-backed
// emptyDirs). Call it once the pod's containers are removed; it is
// idempotent. The pod's directory goes entirely, so the agent may keep
// other per-pod files under root/<uid> and have them removed with it.
func (m *Manager) Teardown(podUID types.UID) error {
	if err := checkUID(podUID); err != nil {
		return err
	}
	ps := m.lockPod(podUID)
	defer ps.mu.Unlock()
	if err := removeTree(filepath.Join(m.root, string(podUID))); err != nil {
		return fmt.Errorf("tear down volumes of pod %s: %w", podUID, err)
	}
	m.mu.Lock()
	delete(m.pods, podUID)
	m.mu.Unlock()
	return nil
}

// Cleanup tears down every pod directory in root whose pod is not in
// keep: after a restart, the agent passes the UIDs of the pods bound to
// the node, and what pods deleted meanwhile left goes. Call it before pod
// workers start (or with every pod they may set up in keep): a pod being
// set up but missing from keep would lose its volumes.
func (m *Manager) Cleanup(keep map[types.UID]bool) error {
	entries, err := os.ReadDir(m.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clean up pod volumes: %w", err)
	}
	var errs []error
	for _, e := range entries {
		uid := types.UID(e.Name())
		if !e.IsDir() || keep[uid] {
			continue
		}
		if err := m.Teardown(uid); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.Info("removed volumes of a pod that is gone", "podUID", uid)
	}
	return errors.Join(errs...)
}

// removeTree unmounts every mount at or below dir, deepest first, then
// removes dir. It stops before removing anything if an unmount fails:
// removal would otherwise walk into the still-mounted filesystem.
func removeTree(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	mounts, err := mountsUnder(real)
	if err != nil {
		return err
	}
	for _, mp := range mounts {
		if err := unmount(mp); err != nil {
			return fmt.Errorf("unmount %s: %w", mp, err)
		}
	}
	return os.RemoveAll(dir)
}

// volumeDir is root/<uid>/volumes/<plugin>/<name>.
func (m *Manager) volumeDir(uid types.UID, plugin, name string) (string, error) {
	if err := checkUID(uid); err != nil {
		return "", err
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return "", fmt.Errorf("invalid volume name %q: %s", name, strings.Join(msgs, "; "))
	}
	return filepath.Join(m.root, string(uid), "volumes", plugin, name), nil
}

// checkUID refuses a UID that is not a single path element: it names a
// directory under root, and "../x" would name one elsewhere.
func checkUID(uid types.UID) error {
	s := string(uid)
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
		return fmt.Errorf("invalid pod UID %q", s)
	}
	return nil
}

// ensureDir creates dir and its missing parents (0750: pods' files are
// reached through the container engine, not by other users of the host)
// and reports whether dir itself was created.
func ensureDir(dir string) (created bool, err error) {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return false, fmt.Errorf("%s is not a directory", dir)
		}
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return false, err
	}
	err = os.Mkdir(dir, 0o750)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
