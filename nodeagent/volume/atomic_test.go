package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func configMapVolume(name, cmName string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cmName}},
	}}
}

func TestUpdateSwapsDataAndRemovesOldFiles(t *testing.T) {
	m, src, root := newTestManager(t)
	src.putConfigMap("cfg", map[string]string{"a": "1", "b": "2"}, nil)
	pod := testPod("uid-1", configMapVolume("cfg", "cfg"))
	dir := volDir(root, "uid-1", pluginConfigMap, "cfg")

	mustSetup(t, m, pod)
	first := dataTarget(t, dir)
	if !strings.HasPrefix(first, "..2025_03_01_12_00_") {
		t.Errorf("..data -> %q: want a timestamped directory named from Options.Now", first)
	}
	fi, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}

	// Nothing changed: nothing is written.
	mustSetup(t, m, pod)
	if got := dataTarget(t, dir); got != first {
		t.Fatalf("unchanged ConfigMap: ..data moved from %s to %s", first, got)
	}
	if fi2, _ := os.Stat(filepath.Join(dir, "a")); !os.SameFile(fi, fi2) {
		t.Error("unchanged ConfigMap: file a was rewritten")
	}

	src.putConfigMap("cfg", map[string]string{"a": "changed", "c": "3"}, nil)
	mustSetup(t, m, pod)
	second := dataTarget(t, dir)
	if second == first {
		t.Fatal("changed ConfigMap: ..data still points at the old directory")
	}
	if got := readFile(t, filepath.Join(dir, "a")); got != "changed" {
		t.Errorf("a = %q, want the new value", got)
	}
	if got := readFile(t, filepath.Join(dir, "c")); got != "3" {
		t.Errorf("c = %q, want 3", got)
	}
	notExist(t, filepath.Join(dir, "b"))
	notExist(t, filepath.Join(dir, first))
	if got, want := visibleNames(t, dir), []string{"a", "c"}; !slices.Equal(got, want) {
		t.Errorf("visible names %v, want %v", got, want)
	}
	// Every visible name is a link through ..data, so one rename switches all.
	if target, err := os.Readlink(filepath.Join(dir, "a")); err != nil || target != "..data/a" {
		t.Errorf("a -> %q (%v), want ..data/a", target, err)
	}
	entries, _ := os.ReadDir(dir)
	var dotted []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			dotted = append(dotted, e.Name())
		}
	}
	if want := []string{second, dataDirName}; !slices.Equal(dotted, want) {
		t.Errorf("writer's own entries %v, want %v", dotted, want)
	}
}

func TestSetupIsANoOpForEveryAtomicType(t *testing.T) {
	m, src, root := newTestManager(t)
	src.putConfigMap("cfg", map[string]string{"k": "v"}, nil)
	src.putSecret("sec", map[string][]byte{"k": []byte("v")})
	pod := testPod("uid-1",
		configMapVolume("cm", "cfg"),
		corev1.Volume{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
		corev1.Volume{Name: "dapi", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}},
		}}},
		corev1.Volume{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		}}},
	)
	pod.Labels = map[string]string{"app": "web"}
	mustSetup(t, m, pod)
	dirs := map[string]string{
		"cm":   volDir(root, "uid-1", pluginConfigMap, "cm"),
		"sec":  volDir(root, "uid-1", pluginSecret, "sec"),
		"dapi": volDir(root, "uid-1", pluginDownwardAPI, "dapi"),
		"proj": volDir(root, "uid-1", pluginProjected, "proj"),
	}
	before := map[string]string{}
	for name, dir := range dirs {
		before[name] = dataTarget(t, dir)
	}
	mustSetup(t, m, pod)
	for name, dir := range dirs {
		if got := dataTarget(t, dir); got != before[name] {
			t.Errorf("%s: ..data moved from %s to %s with nothing changed", name, before[name], got)
		}
	}
}

// A reader that resolves ..data once must see one generation of every
// file, and a reader of a visible name must always see a whole value,
// while updates swap the data underneath.
func TestConcurrentReaderNeverSeesAMix(t *testing.T) {
	m, src, root := newTestManager(t)
	value := func(gen int, key string) string {
		// Large enough that a write in place would be seen half done.
		return fmt.Sprintf("gen=%06d key=%s ", gen, key) + strings.Repeat(key, 32<<10)
	}
	put := func(gen int) {
		src.putConfigMap("cfg", map[string]string{"a": value(gen, "a"), "b": value(gen, "b")}, nil)
	}
	put(0)
	pod := testPod("uid-1", configMapVolume("cfg", "cfg"))
	mustSetup(t, m, pod)
	dir := volDir(root, "uid-1", pluginConfigMap, "cfg")

	var stop atomic.Bool
	var snapshots, mixes, torn atomic.Int64
	gens := sync.Map{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		parse := func(s, key string) (int, bool) {
			var gen int
			var k string
			if _, err := fmt.Sscanf(s, "gen=%06d key=%s ", &gen, &k); err != nil || s != value(gen, key) {
				return 0, false
			}
			return gen, true
		}
		for !stop.Load() {
			// Through a visible name: always a whole value.
			if b, err := os.ReadFile(filepath.Join(dir, "a")); err == nil {
				if _, ok := parse(string(b), "a"); !ok {
					torn.Add(1)
				}
			}
			// Through one resolution of ..data: one generation.
			r, err := os.OpenRoot(filepath.Join(dir, dataDirName))
			if err != nil {
				continue
			}
			a, errA := r.ReadFile("a")
			b, errB := r.ReadFile("b")
			r.Close()
			if errA != nil || errB != nil {
				continue // the old generation was removed while we read
			}
			ga, okA := parse(string(a), "a")
			gb, okB := parse(string(b), "b")
			switch {
			case !okA || !okB:
				torn.Add(1)
			case ga != gb:
				mixes.Add(1)
			default:
				snapshots.Add(1)
				gens.Store(ga, true)
			}
		}
	}()
	for gen := 1; gen <= 150; gen++ {
		put(gen)
		if _, err := m.Setup(pod); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("Setup gen %d: %v", gen, err)
		}
	}
	stop.Store(true)
	wg.Wait()

	if n := mixes.Load(); n > 0 {
		t.Errorf("reader saw files of two generations %d times", n)
	}
	if n := torn.Load(); n > 0 {
		t.Errorf("reader saw a partly written file %d times", n)
	}
	seen := 0
	gens.Range(func(any, any) bool { seen++; return true })
	if snapshots.Load() == 0 || seen < 2 {
		t.Fatalf("reader made %d consistent reads over %d generations: the test did not exercise updates", snapshots.Load(), seen)
	}
	if got := readFile(t, filepath.Join(dir, "b")); got != value(150, "b") {
		t.Errorf("after the last update b holds %.20q…", got)
	}
}

func TestPathsThatWouldLeaveTheVolumeAreRefused(t *testing.T) {
	cases := []struct {
		name  string
		data  map[string]string
		items []corev1.KeyToPath
		want  string
	}{
		{name: "key with ..", data: map[string]string{"../escape": "x"}, want: "must not start with '..'"},
		{name: "item path with ..", data: map[string]string{"k": "x"}, items: []corev1.KeyToPath{{Key: "k", Path: "a/../../escape"}}, want: "must not contain '..'"},
		{name: "absolute item path", data: map[string]string{"k": "x"}, items: []corev1.KeyToPath{{Key: "k", Path: "/etc/escape"}}, want: "must not be an absolute path"},
		{name: "reserved name", data: map[string]string{"k": "x"}, items: []corev1.KeyToPath{{Key: "k", Path: "..data/x"}}, want: "must not start with '..'"},
		{name: "file and directory", data: map[string]string{"k": "x", "l": "y"}, items: []corev1.KeyToPath{{Key: "k", Path: "a"}, {Key: "l", Path: "a/b"}}, want: "is a file and also the directory"},
		{name: "two names for one file", data: map[string]string{"k": "x", "l": "y"}, items: []corev1.KeyToPath{{Key: "k", Path: "a/b"}, {Key: "l", Path: "a//b"}}, want: "name the same file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, src, root := newTestManager(t)
			src.putConfigMap("cfg", tc.data, nil)
			v := configMapVolume("cfg", "cfg")
			v.ConfigMap.Items = tc.items
			_, err := m.Setup(testPod("uid-1", v))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Setup error %v, want one containing %q", err, tc.want)
			}
			notExist(t, filepath.Join(root, "uid-1", "volumes", pluginConfigMap, "escape"))
			notExist(t, filepath.Join(filepath.Dir(root), "escape"))
			notExist(t, "/etc/escape")
		})
	}
}

func TestBadNamesAreRefused(t *testing.T) {
	m, _, root := newTestManager(t)
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	if _, err := m.Setup(testPod("../evil", corev1.Volume{Name: "v", VolumeSource: emptyDir})); err == nil || !strings.Contains(err.Error(), "invalid pod UID") {
		t.Errorf("pod UID ../evil: %v", err)
	}
	if _, err := m.Setup(testPod("uid-1", corev1.Volume{Name: "../../evil", VolumeSource: emptyDir})); err == nil || !strings.Contains(err.Error(), "invalid volume name") {
		t.Errorf("volume name ../../evil: %v", err)
	}
	if err := m.Teardown("../"); err == nil {
		t.Error("Teardown(../) succeeded")
	}
	notExist(t, filepath.Join(filepath.Dir(root), "evil"))
	notExist(t, filepath.Join(root, "uid-1", "volumes", "evil"))
}
