package main

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// rssFileKiB reads RssFile (resident pages mapped from files) of this process.
func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// touchSink keeps the compiler from dropping touchSparsely's reads.
var touchSink int

// touchSparsely maps a file that is wholly in the page cache (it was just
// written) and reads one byte every 256 KiB; it returns how much RssFile
// grew.
func touchSparsely(t *testing.T, file string, limit bool) (grewKiB, touched int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	m, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	r := addrRange{uintptr(unsafe.Pointer(&m[0])), uintptr(unsafe.Pointer(&m[0])) + uintptr(len(m))}
	if limit {
		if err := madvise(r, syscall.MADV_NOHUGEPAGE); err != nil {
			t.Fatal(err)
		}
		if err := limitFaultAround(r); err != nil {
			t.Skipf("this kernel or sandbox cannot limit fault-around (%v); skiff runs with it, as before", err)
		}
	}
	before := rssFileKiB(t)
	sum := 0
	for i := 0; i < len(m); i += 256 << 10 {
		sum += int(m[i])
		touched++
	}
	touchSink = sum
	return rssFileKiB(t) - before, touched
}

func TestLimitFaultAroundMapsOnlyTouchedPages(t *testing.T) {
	file := filepath.Join(t.TempDir(), "big")
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	plain, touched := touchSparsely(t, file, false)
	limited, _ := touchSparsely(t, file, true)
	t.Logf("%d pages touched: RssFile grew %d KiB with fault-around, %d KiB without", touched, plain, limited)
	// Each touch maps one 4 KiB page (allow a little for the test's own
	// code and data), where fault-around maps up to 64 KiB or 2 MiB.
	if limited > touched*4+512 {
		t.Errorf("with fault-around limited, touching %d pages mapped %d KiB; want about %d KiB", touched, limited, touched*4)
	}
	if plain <= limited {
		t.Logf("fault-around mapped no neighbours here either (%d KiB): the comparison shows nothing on this machine", plain)
	}
}

func TestExecutableReadOnlyRanges(t *testing.T) {
	rs, err := executableReadOnlyRanges()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		t.Fatal("no read-only mapping of the test binary found")
	}
	// This test's own code lies in one of them.
	pc := reflect.ValueOf(TestExecutableReadOnlyRanges).Pointer()
	found := false
	for _, r := range rs {
		if r.start >= r.end || r.start%4096 != 0 {
			t.Errorf("bad range %x-%x", r.start, r.end)
		}
		found = found || (pc >= r.start && pc < r.end)
	}
	if !found {
		t.Errorf("the test's code at %x is in none of %x", pc, rs)
	}
}

// TestReleaseStartupPagesKeepsTheProcessWorking drops the test binary's own
// pages and then keeps using it, through libc too when the binary is linked
// with cgo (go test links it so where a C compiler is found): a dropped
// relocated GOT would crash here.
func TestReleaseStartupPagesKeepsTheProcessWorking(t *testing.T) {
	releaseStartupPages()
	runtime.GC()
	if _, err := user.Current(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.LookupHost("localhost"); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%d-%s", 42, "ok"); s != "42-ok" {
		t.Fatal(s)
	}
}
