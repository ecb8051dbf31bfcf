package volume

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestHostPathTypes(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(base, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	block := filepath.Join(base, "block")
	if err := syscall.Mknod(block, syscall.S_IFBLK|0o600, 7<<8); err != nil {
		block = "" // no CAP_MKNOD here: the positive block device case is skipped
	}
	missing := filepath.Join(base, "missing")

	cases := []struct {
		name    string
		path    string
		typ     corev1.HostPathType
		wantErr string
		created bool
	}{
		{name: "unset, missing", path: missing, typ: corev1.HostPathUnset},
		{name: "DirectoryOrCreate creates", path: filepath.Join(base, "new/dir"), typ: corev1.HostPathDirectoryOrCreate, created: true},
		{name: "DirectoryOrCreate on a file", path: file, typ: corev1.HostPathDirectoryOrCreate, wantErr: "is not a directory"},
		{name: "Directory", path: base, typ: corev1.HostPathDirectory},
		{name: "Directory missing", path: missing, typ: corev1.HostPathDirectory, wantErr: "does not exist"},
		{name: "Directory on a file", path: file, typ: corev1.HostPathDirectory, wantErr: "is not a directory"},
		{name: "FileOrCreate creates", path: filepath.Join(base, "newfile"), typ: corev1.HostPathFileOrCreate, created: true},
		{name: "FileOrCreate without parent", path: filepath.Join(base, "nodir/newfile"), typ: corev1.HostPathFileOrCreate, wantErr: "create file"},
		{name: "FileOrCreate on a directory", path: base, typ: corev1.HostPathFileOrCreate, wantErr: "is not a file"},
		{name: "File", path: file, typ: corev1.HostPathFile},
		{name: "File on a directory", path: base, typ: corev1.HostPathFile, wantErr: "is not a file"},
		{name: "Socket", path: sock, typ: corev1.HostPathSocket},
		{name: "Socket on a file", path: file, typ: corev1.HostPathSocket, wantErr: "is not a socket file"},
		{name: "CharDevice", path: "/dev/null", typ: corev1.HostPathCharDev},
		{name: "CharDevice on a file", path: file, typ: corev1.HostPathCharDev, wantErr: "is not a character device"},
		{name: "BlockDevice", path: block, typ: corev1.HostPathBlockDev},
		{name: "BlockDevice on a char device", path: "/dev/null", typ: corev1.HostPathBlockDev, wantErr: "is not a block device"},
		{name: "invalid type", path: base, typ: "Bogus", wantErr: "not a valid type"},
		{name: "relative path", path: "var/log", typ: corev1.HostPathUnset, wantErr: "not an absolute path"},
		{name: "backsteps", path: "/var/../etc", typ: corev1.HostPathUnset, wantErr: "must not contain '..'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == "" {
				t.Skip("no block device could be made (mknod not permitted)")
			}
			m, _, _ := newTestManager(t)
			pod := testPod("uid-1", corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: tc.path, Type: ptr(tc.typ)},
			}})
			_, err := m.Setup(pod)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Setup: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if tc.created {
				if _, err := os.Stat(tc.path); err != nil {
					t.Errorf("%s not created: %v", tc.path, err)
				}
			}
			// The path is the user's: passed through as written.
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
			mounts, err := m.Mounts(pod, &pod.Spec.Containers[0], nil)
			if err != nil || len(mounts) != 1 || mounts[0].Source != tc.path || mounts[0].ReadOnly {
				t.Errorf("Mounts: %+v, %v; want %s read-write", mounts, err, tc.path)
			}
		})
	}
}
