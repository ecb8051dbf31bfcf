package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// releaseStartupPages drops this process's mappings of its own executable's
// read-only pages (code and read-only data) and stops the kernel from
// mapping whole neighbourhoods of the pages touched from now on.
//
// Why: skiff is one large binary (~120 MB: etcd, the API server, kustomize,
// go-git, the agent). Initialising its packages touches tens of MiB of
// code and data once. Worse, every later fault on a page of the binary is
// served with "fault-around" (the kernel maps up to 64 KiB of neighbouring
// page-cache pages) or, when the page cache holds the file in 2 MiB
// folios (as it does right after `go build` wrote it), with a whole 2 MiB
// PMD mapping. A long-running agent touches a few hundred scattered pages
// of the binary (the garbage collector reads the stack maps of every
// function on every goroutine's stack), and each one drags in 64 KiB–2 MiB:
// 30 MiB of the agent's 48 MiB RSS were such neighbours.
//
// What it does, per read-only mapping of the executable:
//   - MADV_NOHUGEPAGE, so a fault never maps a 2 MiB folio with one PMD;
//   - registers the range with a userfaultfd in write-protect, async mode
//     (Linux ≥ 6.7): the kernel disables fault-around on userfaultfd-armed
//     ranges, so a fault maps only the page faulted. The ranges are
//     read-only and async mode resolves any write-protect fault in the
//     kernel, so no handler thread exists and no fault ever waits on us;
//   - MADV_DONTNEED, dropping what start-up mapped. The pages are clean
//     copies of the file: any page still in use is refilled from the page
//     cache on its next access, so this changes what the process holds,
//     not what it can run.
//
// Writable mappings are never touched (discarding them would lose data).
// Each step is best effort: where userfaultfd is unavailable (an older
// kernel, a seccomp profile that forbids it, as Docker's default does) the
// process keeps working with fault-around, as before.
func releaseStartupPages() {
	ranges, err := executableReadOnlyRanges()
	if err != nil {
		return
	}
	for _, r := range ranges {
		_ = madvise(r, syscall.MADV_NOHUGEPAGE)
		_ = limitFaultAround(r)
		_ = madvise(r, syscall.MADV_DONTNEED)
	}
}

// addrRange is a page-aligned range of this process's address space.
type addrRange struct{ start, end uintptr }

// executableReadOnlyRanges lists the mappings of /proc/self/exe that are
// not writable and hold no private copy of a page. The second condition
// matters in a binary linked with cgo: the dynamic loader relocates the
// GOT and then makes it read-only (RELRO), so that mapping is "r--p" yet
// its pages differ from the file; dropping them would bring back the
// unrelocated entries and crash the process at its next call through one.
func executableReadOnlyRanges() ([]addrRange, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []addrRange
	var cur *addrRange // the current mapping, while it qualifies
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") { // a mapping's header line
			if cur != nil {
				out = append(out, *cur)
			}
			cur = nil
			if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
				continue
			}
			lo, hi, ok := strings.Cut(fields[0], "-")
			if !ok {
				continue
			}
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 != nil || err2 != nil || end <= start {
				continue
			}
			cur = &addrRange{uintptr(start), uintptr(end)}
			continue
		}
		if cur != nil && fields[0] == "Anonymous:" && (len(fields) < 2 || fields[1] != "0") {
			cur = nil // holds private copies: never drop them
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out, sc.Err()
}

func madvise(r addrRange, advice int) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, r.start, r.end-r.start, uintptr(advice)); e != 0 {
		return e
	}
	return nil
}

// userfaultfd ABI (include/uapi/linux/userfaultfd.h); amd64 and arm64
// share these values.
const (
	uffdAPI               = 0xAA
	uffdUserModeOnly      = 1       // UFFD_USER_MODE_ONLY: needs no privilege
	uffdFeatureWPAsync    = 1 << 15 // UFFD_FEATURE_WP_ASYNC (Linux 6.7)
	uffdRegisterModeWP    = 1 << 1  // UFFDIO_REGISTER_MODE_WP
	uffdioAPIRequest      = 0xc018aa3f
	uffdioRegisterRequest = 0xc020aa00
)

type uffdioAPIArgs struct{ api, features, ioctls uint64 }

type uffdioRegisterArgs struct{ start, length, mode, ioctls uint64 }

// faultAroundFD is the process's one userfaultfd. It stays open for the
// life of the process: closing it would unregister the ranges.
var faultAroundFD = sync.OnceValues(func() (uintptr, error) {
	fd, _, e := syscall.Syscall(sysUserfaultfd, uintptr(syscall.O_CLOEXEC|syscall.O_NONBLOCK|uffdUserModeOnly), 0, 0)
	if e != 0 {
		return 0, fmt.Errorf("userfaultfd: %w", e)
	}
	api := uffdioAPIArgs{api: uffdAPI, features: uffdFeatureWPAsync}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, uffdioAPIRequest, uintptr(unsafe.Pointer(&api))); e != 0 {
		syscall.Close(int(fd))
		return 0, fmt.Errorf("UFFDIO_API with WP_ASYNC: %w", e)
	}
	return fd, nil
})

// limitFaultAround makes the kernel map only the faulted page, not its
// neighbours, on later faults in r (see releaseStartupPages).
func limitFaultAround(r addrRange) error {
	if sysUserfaultfd == 0 {
		return errors.ErrUnsupported
	}
	fd, err := faultAroundFD()
	if err != nil {
		return err
	}
	reg := uffdioRegisterArgs{start: uint64(r.start), length: uint64(r.end - r.start), mode: uffdRegisterModeWP}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, uffdioRegisterRequest, uintptr(unsafe.Pointer(&reg))); e != 0 {
		return fmt.Errorf("UFFDIO_REGISTER: %w", e)
	}
	return nil
}
