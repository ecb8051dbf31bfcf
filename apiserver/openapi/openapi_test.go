package openapi

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-dev/skiff/manifests"
)

func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// New runs at every start of the API server.
func TestGenerationTime(t *testing.T) {
	reg, err := manifests.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	// The first build also pays for initialising reflection caches and
	// the like; the second is what a start costs on a warm machine.
	var wall, cpu time.Duration
	var d *Documents
	for range 2 {
		startCPU, start := cpuTime(t), time.Now()
		d, err = New(reg, Info{Title: "Skiff", Version: "v1.33.0-skiff"})
		if err != nil {
			t.Fatal(err)
		}
		wall, cpu = time.Since(start), cpuTime(t)-startCPU
	}
	v3JSON, v3Proto := 0, 0
	for _, e := range d.v3 {
		v3JSON += len(e.json)
		v3Proto += len(e.proto)
	}
	var sizes []string
	for _, gv := range reg.GroupVersions() {
		sizes = append(sizes, fmt.Sprintf("%s %d KiB", documentKey(gv), len(d.v3[documentKey(gv)].json)>>10))
	}
	t.Logf("generated %d definitions in %v (CPU %v, GOMAXPROCS %d)", len(d.defs), wall.Round(time.Millisecond),
		cpu.Round(time.Millisecond), runtime.GOMAXPROCS(0))
	t.Logf("/openapi/v2: JSON %d KiB, protobuf %d KiB", len(d.v2.json)>>10, len(d.v2.proto)>>10)
	t.Logf("/openapi/v3: %d documents, JSON %d KiB, protobuf %d KiB in all; %s", len(d.v3), v3JSON>>10, v3Proto>>10, strings.Join(sizes, ", "))
	// A generous bound, far above the ~100 ms measured, that only a
	// pathological regression crosses.
	if wall > 2*time.Second {
		t.Errorf("generation took %v", wall)
	}
}

func BenchmarkNew(b *testing.B) {
	reg, err := manifests.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := New(reg, Info{Title: "Skiff", Version: "v1"}); err != nil {
			b.Fatal(err)
		}
	}
}
