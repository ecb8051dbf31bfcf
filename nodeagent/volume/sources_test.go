package volume

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestConfigMapEveryKey(t *testing.T) {
	m, src, root := newTestManager(t)
	src.putConfigMap("cfg", map[string]string{"app.conf": "port=80\n"}, map[string][]byte{"logo.bin": {0, 1, 0xfe, 0xff}})
	mustSetup(t, m, testPod("uid-1", configMapVolume("cfg", "cfg")))
	dir := volDir(root, "uid-1", pluginConfigMap, "cfg")

	if got := readFile(t, filepath.Join(dir, "app.conf")); got != "port=80\n" {
		t.Errorf("app.conf = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "logo.bin")); got != "\x00\x01\xfe\xff" {
		t.Errorf("binaryData logo.bin = %q", got)
	}
	for _, name := range []string{"app.conf", "logo.bin"} {
		if got := perm(t, filepath.Join(dir, name)); got != 0o644 {
			t.Errorf("%s mode %v, want the default 0644", name, got)
		}
	}
}

func TestConfigMapItemsAndModes(t *testing.T) {
	m, src, root := newTestManager(t)
	src.putConfigMap("cfg", map[string]string{"a": "A", "b": "B", "c": "C"}, nil)
	v := configMapVolume("cfg", "cfg")
	v.ConfigMap.DefaultMode = ptr(int32(0o440))
	v.ConfigMap.Items = []corev1.KeyToPath{
		{Key: "a", Path: "conf/nested/a.txt", Mode: ptr(int32(0o600))},
		{Key: "b", Path: "b"},
	}
	mustSetup(t, m, testPod("uid-1", v))
	dir := volDir(root, "uid-1", pluginConfigMap, "cfg")

	if got := readFile(t, filepath.Join(dir, "conf/nested/a.txt")); got != "A" {
		t.Errorf("conf/nested/a.txt = %q", got)
	}
	if got := perm(t, filepath.Join(dir, "conf/nested/a.txt")); got != 0o600 {
		t.Errorf("item mode: got %v, want 0600", got)
	}
	if got := perm(t, filepath.Join(dir, "b")); got != 0o440 {
		t.Errorf("defaultMode: got %v, want 0440", got)
	}
	if got, want := visibleNames(t, dir), []string{"b", "conf"}; !slices.Equal(got, want) {
		t.Errorf("visible names %v, want %v (c is not listed in items)", got, want)
	}
}

func TestMissingKeysAndObjects(t *testing.T) {
	t.Run("listed key missing", func(t *testing.T) {
		m, src, _ := newTestManager(t)
		src.putConfigMap("cfg", map[string]string{"a": "A"}, nil)
		v := configMapVolume("cfg", "cfg")
		v.ConfigMap.Items = []corev1.KeyToPath{{Key: "nope", Path: "x"}}
		if _, err := m.Setup(testPod("uid-1", v)); err == nil || !strings.Contains(err.Error(), `has no key "nope"`) {
			t.Fatalf("Setup: %v, want an error naming the key", err)
		}
	})
	t.Run("listed key missing, optional", func(t *testing.T) {
		m, src, root := newTestManager(t)
		src.putConfigMap("cfg", map[string]string{"a": "A"}, nil)
		v := configMapVolume("cfg", "cfg")
		v.ConfigMap.Optional = ptr(true)
		v.ConfigMap.Items = []corev1.KeyToPath{{Key: "nope", Path: "x"}, {Key: "a", Path: "y"}}
		mustSetup(t, m, testPod("uid-1", v))
		if got := visibleNames(t, volDir(root, "uid-1", pluginConfigMap, "cfg")); !slices.Equal(got, []string{"y"}) {
			t.Errorf("visible names %v, want [y]", got)
		}
	})
	t.Run("object missing, then created", func(t *testing.T) {
		m, src, root := newTestManager(t)
		pod := testPod("uid-1", configMapVolume("cfg", "cfg"))
		_, err := m.Setup(pod)
		if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `volume "cfg"`) {
			t.Fatalf("Setup: %v, want a NotFound naming the volume", err)
		}
		src.putConfigMap("cfg", map[string]string{"a": "A"}, nil)
		mustSetup(t, m, pod)
		if got := readFile(t, filepath.Join(volDir(root, "uid-1", pluginConfigMap, "cfg"), "a")); got != "A" {
			t.Errorf("a = %q once the ConfigMap exists", got)
		}
	})
	t.Run("secret missing, optional", func(t *testing.T) {
		m, _, root := newTestManager(t)
		mustSetup(t, m, testPod("uid-1", corev1.Volume{Name: "sec", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: "nope", Optional: ptr(true)},
		}}))
		dir := volDir(root, "uid-1", pluginSecret, "sec")
		if names := visibleNames(t, dir); len(names) != 0 {
			t.Errorf("optional missing secret: files %v, want none", names)
		}
		dataTarget(t, dir) // an empty set is still a set: ..data exists
	})
}

func TestSecret(t *testing.T) {
	m, src, root := newTestManager(t)
	key := []byte("-----BEGIN KEY-----\x00\xff\n")
	src.putSecret("tls", map[string][]byte{"tls.key": key, "tls.crt": []byte("CRT")})
	pod := testPod("uid-1",
		corev1.Volume{Name: "plain", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
		corev1.Volume{Name: "strict", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "tls", DefaultMode: ptr(int32(0o400)),
			Items: []corev1.KeyToPath{{Key: "tls.key", Path: "private/key.pem"}},
		}}},
	)
	mustSetup(t, m, pod)
	plain := volDir(root, "uid-1", pluginSecret, "plain")
	if got := readFile(t, filepath.Join(plain, "tls.key")); got != string(key) {
		t.Errorf("tls.key = %q, want the secret's bytes unchanged", got)
	}
	if got := perm(t, filepath.Join(plain, "tls.crt")); got != 0o644 {
		t.Errorf("secret default mode %v, want 0644", got)
	}
	strict := volDir(root, "uid-1", pluginSecret, "strict")
	if got := perm(t, filepath.Join(strict, "private/key.pem")); got != 0o400 {
		t.Errorf("defaultMode 0400: got %v", got)
	}
	if got := visibleNames(t, strict); !slices.Equal(got, []string{"private"}) {
		t.Errorf("visible names %v, want [private]", got)
	}
}

func TestDownwardAPI(t *testing.T) {
	m, _, root := newTestManager(t)
	field := func(path, fieldPath string) corev1.DownwardAPIVolumeFile {
		return corev1.DownwardAPIVolumeFile{Path: path, FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: fieldPath}}
	}
	res := func(path, r, divisor string) corev1.DownwardAPIVolumeFile {
		f := corev1.DownwardAPIVolumeFile{Path: path, ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: r}}
		if divisor != "" {
			f.ResourceFieldRef.Divisor = resource.MustParse(divisor)
		}
		return f
	}
	pod := testPod("uid-1", corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		DefaultMode: ptr(int32(0o600)),
		Items: []corev1.DownwardAPIVolumeFile{
			field("name", "metadata.name"),
			field("namespace", "metadata.namespace"),
			field("uid", "metadata.uid"),
			field("labels", "metadata.labels"),
			field("annotations", "metadata.annotations"),
			field("tier", "metadata.labels['tier']"),
			field("node", "spec.nodeName"),
			field("sa", "spec.serviceAccountName"),
			field("hostip", "status.hostIP"),
			field("podip", "status.podIP"),
			res("cpu-limit", "limits.cpu", ""),
			res("mem-limit-mi", "limits.memory", "1Mi"),
			res("cpu-request-m", "requests.cpu", "1m"),
			res("cpu-request", "requests.cpu", "1"),
			res("storage-limit-gi", "limits.ephemeral-storage", "1Gi"),
		},
	}}})
	pod.Labels = map[string]string{"tier": "front\"end\nline", "app": "web"}
	pod.Annotations = map[string]string{"b": "2", "a": "1"}
	pod.Spec.ServiceAccountName = "builder"
	pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
	}
	mustSetup(t, m, pod)
	dir := volDir(root, "uid-1", pluginDownwardAPI, "info")

	want := map[string]string{
		"name":        "web",
		"namespace":   "default",
		"uid":         "uid-1",
		"labels":      `app="web"` + "\n" + `tier="front\"end\nline"`,
		"annotations": `a="1"` + "\n" + `b="2"`,
		"tier":        "front\"end\nline",
		"node":        "node-1",
		"sa":          "builder",
		"hostip":      "192.0.2.10", // from Options until the pod's status has it
		"podip":       "",
		// No CPU limit: the node's allocatable, as the kubelet reports it.
		"cpu-limit":        "4",
		"mem-limit-mi":     "64",
		"cpu-request-m":    "250",
		"cpu-request":      "1", // rounded up
		"storage-limit-gi": "100",
	}
	for name, w := range want {
		if got := readFile(t, filepath.Join(dir, name)); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	if got := perm(t, filepath.Join(dir, "name")); got != 0o600 {
		t.Errorf("defaultMode 0600: got %v", got)
	}

	// The pod IP is known once the sandbox runs; labels may change.
	pod.Status.PodIP = "10.88.0.7"
	pod.Labels = map[string]string{"app": "web2"}
	mustSetup(t, m, pod)
	if got := readFile(t, filepath.Join(dir, "podip")); got != "10.88.0.7" {
		t.Errorf("podip after refresh = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "labels")); got != `app="web2"` {
		t.Errorf("labels after refresh = %q", got)
	}
}

func TestDownwardAPIErrors(t *testing.T) {
	cases := map[string]corev1.DownwardAPIVolumeFile{
		"unknown field":     {Path: "x", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.hostname"}},
		"bad subscript":     {Path: "x", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name['x']"}},
		"bad version":       {Path: "x", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v2", FieldPath: "metadata.name"}},
		"unknown container": {Path: "x", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "nope", Resource: "limits.cpu"}},
		"unknown resource":  {Path: "x", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.gpu"}},
		"no source":         {Path: "x"},
	}
	for name, item := range cases {
		t.Run(name, func(t *testing.T) {
			m, _, _ := newTestManager(t)
			_, err := m.Setup(testPod("uid-1", corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{
				DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{item}},
			}}))
			if err == nil || !strings.Contains(err.Error(), `downwardAPI item "x"`) {
				t.Errorf("Setup: %v, want an error naming the item", err)
			}
		})
	}
}

func TestProjected(t *testing.T) {
	m, src, root := newTestManager(t)
	src.putConfigMap("ca", map[string]string{"ca.crt": "CA", "shared": "from-configmap"}, nil)
	src.putSecret("creds", map[string][]byte{"token": []byte("s3cret"), "shared": []byte("from-secret")})
	pod := testPod("uid-1", corev1.Volume{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr(int32(0o640)),
		Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}}},
			{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "creds"},
				Items: []corev1.KeyToPath{
					{Key: "token", Path: "auth/token", Mode: ptr(int32(0o400))},
					{Key: "shared", Path: "shared"},
				},
			}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: ptr(true)}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
			}}},
		},
	}}})
	mustSetup(t, m, pod)
	dir := volDir(root, "uid-1", pluginProjected, "all")

	for name, want := range map[string]string{"ca.crt": "CA", "auth/token": "s3cret", "namespace": "default", "shared": "from-secret"} {
		if got := readFile(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := perm(t, filepath.Join(dir, "ca.crt")); got != 0o640 {
		t.Errorf("projected defaultMode: %v, want 0640", got)
	}
	if got := perm(t, filepath.Join(dir, "auth/token")); got != 0o400 {
		t.Errorf("item mode: %v, want 0400", got)
	}

	// Every source is refreshed: a change to the secret alone shows.
	src.putSecret("creds", map[string][]byte{"token": []byte("rotated"), "shared": []byte("from-secret")})
	mustSetup(t, m, pod)
	if got := readFile(t, filepath.Join(dir, "auth/token")); got != "rotated" {
		t.Errorf("auth/token after rotation = %q", got)
	}
}

func TestOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing file owners needs root; the agent's tests run as root")
	}
	m, src, root := newTestManager(t)
	src.putSecret("tls", map[string][]byte{"key": []byte("K"), "crt": []byte("C")})
	pod := testPod("uid-1",
		corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "tls", DefaultMode: ptr(int32(0o400)),
			Items: []corev1.KeyToPath{{Key: "key", Path: "key"}, {Key: "crt", Path: "crt", User: ptr(int64(1234))}},
		}}},
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr(int64(2000))}
	mustSetup(t, m, pod)

	dir := volDir(root, "uid-1", pluginSecret, "tls")
	owner := func(path string) (uid, gid uint32) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return st.Uid, st.Gid
	}
	// fsGroup makes a 0400 secret readable by the pod's group, as on a kubelet.
	if got := perm(t, filepath.Join(dir, "key")); got != 0o440 {
		t.Errorf("key mode %v, want 0440 (0400 plus group read for fsGroup)", got)
	}
	if uid, gid := owner(filepath.Join(dir, "key")); uid != 0 || gid != 2000 {
		t.Errorf("key owner %d:%d, want 0:2000", uid, gid)
	}
	if uid, gid := owner(filepath.Join(dir, "crt")); uid != 1234 || gid != 2000 {
		t.Errorf("crt owner %d:%d, want 1234:2000", uid, gid)
	}
	scratch := volDir(root, "uid-1", pluginEmptyDir, "scratch")
	if _, gid := owner(scratch); gid != 2000 {
		t.Errorf("emptyDir group %d, want 2000", gid)
	}
	if got := perm(t, scratch); got != 0o777|fs.ModeSetgid {
		t.Errorf("emptyDir mode %v, want setgid 0777", got)
	}
	// Owners are part of "unchanged": a second sync writes nothing.
	before := dataTarget(t, dir)
	mustSetup(t, m, pod)
	if got := dataTarget(t, dir); got != before {
		t.Errorf("second Setup with fsGroup rewrote the volume")
	}
}

func TestOwnershipWithoutRootIsAWarning(t *testing.T) {
	m, src, root := newTestManager(t)
	m.privileged = false
	src.putSecret("tls", map[string][]byte{"key": []byte("K")})
	pod := testPod("uid-1", corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "tls", DefaultMode: ptr(int32(0o400)),
	}}})
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr(int64(2000))}

	w := mustSetup(t, m, pod)
	if len(w) != 1 || !strings.Contains(w[0], `volume "tls"`) || !strings.Contains(w[0], "not running as root") {
		t.Fatalf("warnings %q, want one naming the volume and the reason", w)
	}
	if got := perm(t, filepath.Join(volDir(root, "uid-1", pluginSecret, "tls"), "key")); got != 0o400 {
		t.Errorf("key mode %v, want 0400 untouched", got)
	}
	if w := mustSetup(t, m, pod); len(w) != 0 {
		t.Errorf("second Setup repeated warnings %q", w)
	}
}

func TestUnsupportedProjectionSources(t *testing.T) {
	cases := map[string]corev1.VolumeProjection{
		"serviceAccountToken sources of projected volumes": {ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
		"clusterTrustBundle sources of projected volumes":  {ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Path: "ca.pem"}},
	}
	for feature, source := range cases {
		t.Run(feature, func(t *testing.T) {
			m, _, _ := newTestManager(t)
			_, err := m.Setup(testPod("uid-1", corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{
				Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{source}},
			}}))
			var ue *UnsupportedError
			if !errors.Is(err, ErrUnsupported) || !errors.As(err, &ue) || ue.Feature != feature {
				t.Fatalf("Setup: %v, want an UnsupportedError for %q", err, feature)
			}
			if want := `volume "kube-api-access": projected source 0: ` + feature + " are not supported by Skiff yet"; err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
		})
	}
}
