package volume

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// memSource is an in-memory Source, safe for concurrent use.
type memSource struct {
	mu         sync.Mutex
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func newMemSource() *memSource {
	return &memSource{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
}

func (s *memSource) putConfigMap(name string, data map[string]string, binary map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configMaps["default/"+name] = &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Data:       data, BinaryData: binary,
	}
}

func (s *memSource) putSecret(name string, data map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets["default/"+name] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Data: data}
}

func (s *memSource) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cm, ok := s.configMaps[ns+"/"+name]; ok {
		return cm.DeepCopy(), nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
}

func (s *memSource) Secret(ns, name string) (*corev1.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec, ok := s.secrets[ns+"/"+name]; ok {
		return sec.DeepCopy(), nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
}

// newTestManager returns a Manager over a fresh root. Its cleanup tears
// down every pod, so a tmpfs mounted by a test does not outlive it.
func newTestManager(t *testing.T) (*Manager, *memSource, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "pods")
	src := newMemSource()
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	m := NewManager(root, src, Options{
		NodeName: "node-1",
		HostIP:   func() string { return "192.0.2.10" },
		Allocatable: func() corev1.ResourceList {
			return corev1.ResourceList{
				corev1.ResourceCPU:              resource.MustParse("4"),
				corev1.ResourceMemory:           resource.MustParse("8Gi"),
				corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
			}
		},
		Now: func() time.Time { clock = clock.Add(time.Second); return clock },
	})
	t.Cleanup(func() {
		if err := m.Cleanup(nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return m, src, root
}

func testPod(uid types.UID, vols ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: uid},
		Spec: corev1.PodSpec{
			NodeName:   "node-1",
			Containers: []corev1.Container{{Name: "app", Image: "busybox"}},
			Volumes:    vols,
		},
	}
}

func mustSetup(t *testing.T, m *Manager, pod *corev1.Pod) []string {
	t.Helper()
	w, err := m.Setup(pod)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return w
}

func volDir(root string, uid types.UID, plugin, name string) string {
	return filepath.Join(root, string(uid), "volumes", plugin, name)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func perm(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode() & (fs.ModePerm | fs.ModeSetgid | fs.ModeSticky)
}

func dataTarget(t *testing.T, dir string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil {
		t.Fatalf("..data: %v", err)
	}
	return target
}

func notExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: want it gone, Lstat says %v", path, err)
	}
}

// visibleNames lists the names a container sees in an atomic volume.
func visibleNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") {
			names = append(names, e.Name())
		}
	}
	return names
}

func ptr[T any](v T) *T { return &v }
