package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

func TestEmptyDirMemoryIsTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting tmpfs needs root; the agent's tests run as root")
	}
	cases := []struct {
		name      string
		sizeLimit string
		podLimit  string // the only container's memory limit
		want      int64
	}{
		{name: "sizeLimit", sizeLimit: "4Mi", want: 4 << 20},
		{name: "pod limit below sizeLimit", sizeLimit: "8Mi", podLimit: "2Mi", want: 2 << 20},
		{name: "node allocatable", want: 8 << 30},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _, root := newTestManager(t)
			v := emptyDirVolume("cache", corev1.StorageMediumMemory)
			if tc.sizeLimit != "" {
				v.EmptyDir.SizeLimit = ptr(resource.MustParse(tc.sizeLimit))
			}
			uid := types.UID(fmt.Sprintf("uid-%d", i))
			pod := testPod(uid, v)
			if tc.podLimit != "" {
				pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(tc.podLimit)}
			}
			if w := mustSetup(t, m, pod); len(w) != 0 {
				t.Fatalf("warnings %q, want none when mounting is permitted", w)
			}
			dir := volDir(root, uid, pluginEmptyDir, "cache")
			if ok, err := isTmpfsMount(dir); !ok || err != nil {
				t.Fatalf("%s is not a tmpfs mount (%v)", dir, err)
			}
			var st syscall.Statfs_t
			if err := syscall.Statfs(dir, &st); err != nil {
				t.Fatal(err)
			}
			if got := int64(st.Blocks) * st.Bsize; got != tc.want {
				t.Errorf("tmpfs size %d, want %d", got, tc.want)
			}
			if got := perm(t, dir); got != 0o777 {
				t.Errorf("tmpfs root mode %v, want 0777", got)
			}
			if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			// A second sync neither mounts again nor loses data.
			mustSetup(t, m, pod)
			if mps, _ := mountsUnder(dir); len(mps) != 1 {
				t.Errorf("mounts at %s after a second Setup: %q, want exactly one", dir, mps)
			}
			if got := readFile(t, filepath.Join(dir, "f")); got != "x" {
				t.Errorf("file on tmpfs after a second Setup: %q", got)
			}

			if err := m.Teardown(uid); err != nil {
				t.Fatalf("Teardown: %v", err)
			}
			if mps, _ := mountsUnder(filepath.Join(root, string(uid))); len(mps) != 0 {
				t.Errorf("still mounted after Teardown: %q", mps)
			}
			notExist(t, filepath.Join(root, string(uid)))
		})
	}
}
