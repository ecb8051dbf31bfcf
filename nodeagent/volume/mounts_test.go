package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// mountPod is a pod with an emptyDir "scratch" and a configMap "cfg"
// volume, set up, whose container mounts what the test gives it.
func mountPod(t *testing.T) (*Manager, *corev1.Pod, string) {
	t.Helper()
	m, src, root := newTestManager(t)
	src.putConfigMap("cfg", map[string]string{"app.conf": "v1"}, nil)
	pod := testPod("uid-1", emptyDirVolume("scratch", ""), configMapVolume("cfg", "cfg"))
	mustSetup(t, m, pod)
	return m, pod, root
}

func mountsOf(m *Manager, pod *corev1.Pod, env map[string]string, vms ...corev1.VolumeMount) ([]runtime.Mount, error) {
	c := pod.Spec.Containers[0].DeepCopy()
	c.VolumeMounts = vms
	return m.Mounts(pod, c, env)
}

func TestMountsResolveVolumes(t *testing.T) {
	m, pod, root := mountPod(t)
	scratch := volDir(root, "uid-1", pluginEmptyDir, "scratch")
	cfg := volDir(root, "uid-1", pluginConfigMap, "cfg")
	got, err := mountsOf(m, pod, nil,
		corev1.VolumeMount{Name: "scratch", MountPath: "/tmp/scratch"},
		corev1.VolumeMount{Name: "scratch", MountPath: "/ro", ReadOnly: true},
		corev1.VolumeMount{Name: "cfg", MountPath: "/etc/app"},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []runtime.Mount{
		{Source: scratch, Target: "/tmp/scratch"},
		{Source: scratch, Target: "/ro", ReadOnly: true},
		// ConfigMap volumes are read-only even when the mount does not say so.
		{Source: cfg, Target: "/etc/app", ReadOnly: true},
	}
	if len(got) != len(want) {
		t.Fatalf("mounts %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mount %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestMountErrors(t *testing.T) {
	m, pod, _ := mountPod(t)
	bidirectional := corev1.MountPropagationBidirectional
	cases := []struct {
		name        string
		vm          corev1.VolumeMount
		want        string
		unsupported bool
	}{
		{name: "unknown volume", vm: corev1.VolumeMount{Name: "nope", MountPath: "/x"}, want: "the pod has no volume of that name"},
		{name: "propagation", vm: corev1.VolumeMount{Name: "scratch", MountPath: "/x", MountPropagation: &bidirectional},
			want: "volume mounts with mountPropagation Bidirectional are not supported by Skiff yet", unsupported: true},
	}
	for _, tc := range cases {
		_, err := mountsOf(m, pod, nil, tc.vm)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `volumeMount "`+tc.vm.Name+`"`) {
			t.Errorf("%s: %v, want an error naming the mount and containing %q", tc.name, err, tc.want)
		}
		if errors.Is(err, ErrUnsupported) != tc.unsupported {
			t.Errorf("%s: errors.Is(ErrUnsupported) = %v", tc.name, !tc.unsupported)
		}
	}

	// Mounting a volume Setup has not made would give the pod an empty directory.
	other := pod.DeepCopy()
	other.UID = "uid-2"
	if _, err := mountsOf(m, other, nil, corev1.VolumeMount{Name: "scratch", MountPath: "/x"}); err == nil || !strings.Contains(err.Error(), "not set up") {
		t.Errorf("volume not set up: %v", err)
	}
}

func TestSubPath(t *testing.T) {
	m, pod, root := mountPod(t)
	scratch, err := filepath.EvalSymlinks(volDir(root, "uid-1", pluginEmptyDir, "scratch"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := volDir(root, "uid-1", pluginConfigMap, "cfg")
	if err := os.Symlink("logs", filepath.Join(scratch, "inner")); err != nil {
		t.Fatal(err)
	}

	t.Run("missing directories are created", func(t *testing.T) {
		got, err := mountsOf(m, pod, nil, corev1.VolumeMount{Name: "scratch", MountPath: "/logs", SubPath: "logs/app"})
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(scratch, "logs/app"); got[0].Source != want {
			t.Errorf("source %s, want %s", got[0].Source, want)
		}
		if p := perm(t, filepath.Join(scratch, "logs/app")); p != 0o777 {
			t.Errorf("created subPath mode %v, want the volume's 0777", p)
		}
	})
	t.Run("symlink inside the volume", func(t *testing.T) {
		got, err := mountsOf(m, pod, nil, corev1.VolumeMount{Name: "scratch", MountPath: "/x", SubPath: "inner/app"})
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(scratch, "logs/app"); got[0].Source != want {
			t.Errorf("source %s, want %s", got[0].Source, want)
		}
	})
	t.Run("configMap key", func(t *testing.T) {
		got, err := mountsOf(m, pod, nil, corev1.VolumeMount{Name: "cfg", MountPath: "/etc/app.conf", SubPath: "app.conf"})
		if err != nil {
			t.Fatal(err)
		}
		realCfg, _ := filepath.EvalSymlinks(cfg)
		if want := filepath.Join(realCfg, dataTarget(t, cfg), "app.conf"); got[0].Source != want || !got[0].ReadOnly {
			t.Errorf("mount %+v, want read-only %s (the file, resolved now, as on a kubelet)", got[0], want)
		}
		if readFile(t, got[0].Source) != "v1" {
			t.Error("subPath source does not hold the key's value")
		}
	})
	t.Run("subPathExpr", func(t *testing.T) {
		env := map[string]string{"POD_NAME": "web-0", "EMPTY": ""}
		got, err := mountsOf(m, pod, env, corev1.VolumeMount{Name: "scratch", MountPath: "/x", SubPathExpr: "pods/$(POD_NAME)/$$literal"})
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(scratch, "pods/web-0/$literal"); got[0].Source != want {
			t.Errorf("source %s, want %s", got[0].Source, want)
		}
		if _, err := mountsOf(m, pod, env, corev1.VolumeMount{Name: "scratch", MountPath: "/x", SubPathExpr: "$(EMPTY)/$(NOPE)"}); err == nil ||
			!strings.Contains(err.Error(), "missing value for EMPTY, NOPE") {
			t.Errorf("unset variables: %v", err)
		}
	})

	// Escapes: none may yield a mount, and none may create anything.
	outside := filepath.Dir(root)
	if err := os.Symlink(outside, filepath.Join(scratch, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../..", filepath.Join(scratch, "up")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "plain"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	escapes := []struct {
		name string
		vm   corev1.VolumeMount
		env  map[string]string
		want string
	}{
		{name: "absolute", vm: corev1.VolumeMount{SubPath: "/etc"}, want: "must be a relative path"},
		{name: "backsteps", vm: corev1.VolumeMount{SubPath: "logs/../../x"}, want: "must not contain '..'"},
		{name: "backsteps from env", vm: corev1.VolumeMount{SubPathExpr: "$(DIR)/x"}, env: map[string]string{"DIR": ".."}, want: "must not contain '..'"},
		{name: "absolute symlink out", vm: corev1.VolumeMount{SubPath: "evil"}, want: "leads outside its volume"},
		{name: "through a symlink out", vm: corev1.VolumeMount{SubPath: "evil/created"}, want: "leads outside its volume"},
		{name: "relative symlink out", vm: corev1.VolumeMount{SubPath: "up/x"}, want: "leads outside its volume"},
		{name: "through a file", vm: corev1.VolumeMount{SubPath: "plain/x"}, want: "plain is not a directory"},
	}
	for _, tc := range escapes {
		t.Run(tc.name, func(t *testing.T) {
			tc.vm.Name, tc.vm.MountPath = "scratch", "/x"
			got, err := mountsOf(m, pod, tc.env, tc.vm)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Mounts: %+v, %v; want an error containing %q", got, err, tc.want)
			}
		})
	}
	notExist(t, filepath.Join(outside, "created"))
	notExist(t, filepath.Join(outside, "x"))
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "a", "B": "b"}
	cases := map[string]string{
		"$(A)":        "a",
		"$(A)-$(B)":   "a-b",
		"$$(A)":       "$(A)",
		"$$$(A)":      "$a",
		"$(A":         "$(A",
		"$A":          "$A",
		"trailing$":   "trailing$",
		"x$(A)y":      "xay",
		"$(UNKNOWN)z": "z",
	}
	for in, want := range cases {
		if got := expand(in, func(k string) string { return env[k] }); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
