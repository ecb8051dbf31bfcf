package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestUnsupportedVolumes(t *testing.T) {
	cases := []struct {
		source corev1.VolumeSource
		want   string
	}{
		{corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}, "persistentVolumeClaim volumes are not supported by Skiff yet"},
		{corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}, "ephemeral volumes are not supported by Skiff yet"},
		{corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/export"}}, "nfs volumes are not supported by Skiff yet"},
		{corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "busybox"}}, "image volumes are not supported by Skiff yet"},
		{corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumHugePages}}, "emptyDir volumes with medium HugePages are not supported by Skiff yet"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			m, _, root := newTestManager(t)
			pod := testPod("uid-1", corev1.Volume{Name: "data", VolumeSource: tc.source}, emptyDirVolume("scratch", ""))
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			_, err := m.Setup(pod)
			var ue *UnsupportedError
			if !errors.Is(err, ErrUnsupported) || !errors.As(err, &ue) {
				t.Fatalf("Setup: %v, want ErrUnsupported", err)
			}
			if want := `volume "data": ` + tc.want; err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
			// The pod's other volumes are still set up.
			if _, err := os.Stat(volDir(root, "uid-1", pluginEmptyDir, "scratch")); err != nil {
				t.Errorf("the supported volume was not set up: %v", err)
			}
			if _, err := m.Mounts(pod, &pod.Spec.Containers[0], nil); !errors.Is(err, ErrUnsupported) {
				t.Errorf("Mounts: %v, want ErrUnsupported", err)
			}
		})
	}
}

func TestTeardown(t *testing.T) {
	m, src, root := newTestManager(t)
	src.putConfigMap("cfg", map[string]string{"k": "v"}, nil)
	vols := []corev1.Volume{emptyDirVolume("scratch", ""), configMapVolume("cfg", "cfg")}
	if os.Geteuid() == 0 {
		vols = append(vols, emptyDirVolume("cache", corev1.StorageMediumMemory))
	}
	pod := testPod("uid-1", vols...)
	mustSetup(t, m, pod)
	// The agent may keep its own per-pod files beside the volumes.
	if err := os.WriteFile(filepath.Join(root, "uid-1", "etc-hosts"), []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := m.Teardown("uid-1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	notExist(t, filepath.Join(root, "uid-1"))
	if mps, _ := mountsUnder(root); len(mps) != 0 {
		t.Errorf("mounts left under root: %q", mps)
	}
	if err := m.Teardown("uid-1"); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
}

func TestCleanupKeepsOnlyLivePods(t *testing.T) {
	m, _, root := newTestManager(t)
	for _, uid := range []types.UID{"gone-1", "live", "gone-2"} {
		mustSetup(t, m, testPod(uid, emptyDirVolume("scratch", "")))
	}
	stray := filepath.Join(root, "not-a-pod-dir")
	if err := os.WriteFile(stray, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// A fresh Manager, as after an agent restart: it knows only the disk.
	restarted := NewManager(root, newMemSource(), Options{})
	if err := restarted.Cleanup(map[types.UID]bool{"live": true}); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	notExist(t, filepath.Join(root, "gone-1"))
	notExist(t, filepath.Join(root, "gone-2"))
	if _, err := os.Stat(volDir(root, "live", pluginEmptyDir, "scratch")); err != nil {
		t.Errorf("kept pod lost its volume: %v", err)
	}
	if _, err := os.Stat(stray); err != nil {
		t.Errorf("Cleanup removed a file that is not a pod directory: %v", err)
	}

	empty := NewManager(filepath.Join(t.TempDir(), "never-created"), newMemSource(), Options{})
	if err := empty.Cleanup(nil); err != nil {
		t.Errorf("Cleanup of a root that does not exist: %v", err)
	}
}

func TestSetupReportsEveryFailingVolume(t *testing.T) {
	m, _, _ := newTestManager(t)
	pod := testPod("uid-1", configMapVolume("one", "missing-1"), configMapVolume("two", "missing-2"))
	_, err := m.Setup(pod)
	if err == nil || !strings.Contains(err.Error(), `volume "one"`) || !strings.Contains(err.Error(), `volume "two"`) {
		t.Fatalf("Setup: %v, want both failing volumes named", err)
	}
}
