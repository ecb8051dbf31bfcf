package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func emptyDirVolume(name string, medium corev1.StorageMedium) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: medium}}}
}

func TestEmptyDir(t *testing.T) {
	m, _, root := newTestManager(t)
	sticky := emptyDirVolume("shared", "")
	sticky.EmptyDir.Mode = ptr(int32(0o1777))
	pod := testPod("uid-1", emptyDirVolume("scratch", ""), sticky)
	mustSetup(t, m, pod)
	dir := volDir(root, "uid-1", pluginEmptyDir, "scratch")
	if got := perm(t, dir); got != 0o777 {
		t.Errorf("emptyDir mode %v, want 0777 as on a kubelet", got)
	}
	if got := perm(t, volDir(root, "uid-1", pluginEmptyDir, "shared")); got != 0o777|fs.ModeSticky {
		t.Errorf("emptyDir mode 01777: got %v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSetup(t, m, pod)
	if got := readFile(t, filepath.Join(dir, "data")); got != "kept" {
		t.Errorf("a second Setup lost the pod's data: %q", got)
	}
}

func TestEmptyDirMemoryFallsBackWithAWarning(t *testing.T) {
	t.Run("mount not permitted", func(t *testing.T) {
		m, _, root := newTestManager(t)
		m.mountTmpfs = func(string, int64) error { return fmt.Errorf("mount: %w", syscall.EPERM) }
		pod := testPod("uid-1", emptyDirVolume("cache", corev1.StorageMediumMemory))
		w := mustSetup(t, m, pod)
		if len(w) != 1 || !strings.Contains(w[0], `volume "cache": emptyDir medium Memory is a directory on disk`) ||
			!strings.Contains(w[0], "not permitted") {
			t.Fatalf("warnings %q, want one saying the volume fell back to disk and why", w)
		}
		dir := volDir(root, "uid-1", pluginEmptyDir, "cache")
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("fallback directory: %v", err)
		}
		if w := mustSetup(t, m, pod); len(w) != 0 {
			t.Errorf("second Setup repeated warnings %q", w)
		}
	})
	t.Run("agent not root", func(t *testing.T) {
		m, _, _ := newTestManager(t)
		m.privileged = false
		m.mountTmpfs = func(string, int64) error { t.Fatal("mount tried without root"); return nil }
		w := mustSetup(t, m, testPod("uid-1", emptyDirVolume("cache", corev1.StorageMediumMemory)))
		if len(w) != 1 || !strings.Contains(w[0], "not running as root") {
			t.Fatalf("warnings %q", w)
		}
	})
	t.Run("other mount failure is an error", func(t *testing.T) {
		m, _, _ := newTestManager(t)
		m.mountTmpfs = func(string, int64) error { return syscall.ENODEV }
		_, err := m.Setup(testPod("uid-1", emptyDirVolume("cache", corev1.StorageMediumMemory)))
		if !errors.Is(err, syscall.ENODEV) {
			t.Fatalf("Setup: %v, want the mount error", err)
		}
	})
}

func TestPodMemoryLimit(t *testing.T) {
	mem := func(q string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}}
	}
	always := ptr(corev1.ContainerRestartPolicyAlways)
	cases := []struct {
		name string
		spec corev1.PodSpec
		want int64
	}{
		{name: "sum of app containers", spec: corev1.PodSpec{Containers: []corev1.Container{{Resources: mem("1Mi")}, {Resources: mem("2Mi")}}}, want: 3 << 20},
		{name: "a container without limit", spec: corev1.PodSpec{Containers: []corev1.Container{{Resources: mem("1Mi")}, {}}}, want: 0},
		{name: "init container larger", spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Resources: mem("10Mi")}},
			Containers:     []corev1.Container{{Resources: mem("1Mi")}},
		}, want: 10 << 20},
		{name: "sidecar adds", spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Resources: mem("1Mi"), RestartPolicy: always}},
			Containers:     []corev1.Container{{Resources: mem("2Mi")}},
		}, want: 3 << 20},
		{name: "pod-level limit", spec: corev1.PodSpec{
			Resources:  &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("5Mi")}},
			Containers: []corev1.Container{{}},
		}, want: 5 << 20},
		{name: "overhead", spec: corev1.PodSpec{
			Overhead:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")},
			Containers: []corev1.Container{{Resources: mem("1Mi")}},
		}, want: 2 << 20},
	}
	for _, tc := range cases {
		if got := podMemoryLimit(&corev1.Pod{Spec: tc.spec}); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
