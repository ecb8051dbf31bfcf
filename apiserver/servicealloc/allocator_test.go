package servicealloc

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Many creates at once, through two allocators on two etcd clients (two
// API servers sharing one etcd), never get the same cluster IP; once the
// range is full the rest get upstream's error, and what they had reserved
// is given back.
func TestConcurrentCreatesGetDistinctIPs(t *testing.T) {
	e, second := startServedEtcd(t)
	// A /26 has 62 usable addresses; 100 creates race for them.
	allocs := []*Allocator{
		newAllocator(t, e.Client(), "10.96.0.0/26", "30000-32767", nil),
		newAllocator(t, second, "10.96.0.0/26", "30000-32767", nil),
	}
	const creates = 100
	ctx := context.Background()
	var mu sync.Mutex
	got := map[string]string{}
	var failures []string
	var wg sync.WaitGroup
	for i := range creates {
		wg.Go(func() {
			svc := service(fmt.Sprintf("s%d", i), corev1.ServiceTypeClusterIP, 80)
			c, err := allocs[i%2].Create(ctx, svc, false)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
				return
			}
			c.Finish(ctx, true)
			if other, dup := got[svc.Spec.ClusterIP]; dup {
				t.Errorf("%s given to %s and %s", svc.Spec.ClusterIP, other, svc.Name)
			}
			got[svc.Spec.ClusterIP] = svc.Name
		})
	}
	wg.Wait()
	if len(got) != 62 || len(failures) != creates-62 {
		t.Fatalf("%d allocated, %d failed; want 62 and %d", len(got), len(failures), creates-62)
	}
	for _, f := range failures {
		if f != "Internal error occurred: failed to allocate a serviceIP: range is full" {
			t.Fatalf("failure %q", f)
		}
	}
	for ip := range got {
		if _, ok := allocs[0].ipr.offset(netip.MustParseAddr(ip)); !ok {
			t.Errorf("%s is outside the range", ip)
		}
	}
	if n := len(keys(t, allocs[0], allocs[0].ips)); n != 62 {
		t.Errorf("%d reservations, want 62", n)
	}
}

// Node ports likewise; a create that gets its IP but no node port gives
// the IP back.
func TestConcurrentCreatesGetDistinctNodePorts(t *testing.T) {
	e := startEtcd(t)
	a := newAllocator(t, e.Client(), "10.96.0.0/24", "30000-30039", nil)
	ctx := context.Background()
	var mu sync.Mutex
	got := map[int32]string{}
	var failures []string
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			svc := service(fmt.Sprintf("s%d", i), corev1.ServiceTypeNodePort, 80)
			c, err := a.Create(ctx, svc, false)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
				return
			}
			c.Finish(ctx, true)
			np := svc.Spec.Ports[0].NodePort
			if other, dup := got[np]; dup {
				t.Errorf("node port %d given to %s and %s", np, other, svc.Name)
			}
			got[np] = svc.Name
		})
	}
	wg.Wait()
	if len(got) != 40 || len(failures) != 20 {
		t.Fatalf("%d allocated, %d failed; want 40 and 20", len(got), len(failures))
	}
	for _, f := range failures {
		if f != "Internal error occurred: failed to allocate a nodePort: range is full" {
			t.Fatalf("failure %q", f)
		}
	}
	if n := len(keys(t, a, a.ips)); n != 40 {
		t.Errorf("%d IP reservations, want 40 (the failed creates' IPs given back)", n)
	}
}

// Dynamic allocation leaves the lower band to requested addresses while
// the upper band has room, as upstream (KEP-3070).
func TestDynamicAllocationPrefersTheUpperBand(t *testing.T) {
	e := startEtcd(t)
	a := newAllocator(t, e.Client(), "10.96.0.0/24", "30000-30099", nil) // IP band 16, port band 16
	ctx := context.Background()
	for i := range 254 - 16 {
		svc := service(fmt.Sprintf("s%d", i), corev1.ServiceTypeClusterIP, 80)
		if _, err := a.Create(ctx, svc, false); err != nil {
			t.Fatal(err)
		}
		if off, _ := a.ipr.offset(netip.MustParseAddr(svc.Spec.ClusterIP)); off < 16 {
			t.Fatalf("allocation %d took %s from the lower band while the upper had room", i, svc.Spec.ClusterIP)
		}
	}
	svc := service("lower", corev1.ServiceTypeClusterIP, 80)
	if _, err := a.Create(ctx, svc, false); err != nil {
		t.Fatal(err)
	}
	if off, _ := a.ipr.offset(netip.MustParseAddr(svc.Spec.ClusterIP)); off >= 16 {
		t.Fatalf("with the upper band full, got %s", svc.Spec.ClusterIP)
	}
}

// A release frees only the owner's reservation.
func TestReleaseChecksTheOwner(t *testing.T) {
	e := startEtcd(t)
	a := newAllocator(t, e.Client(), "10.96.0.0/24", "30000-30099", nil)
	ctx := context.Background()
	svc := service("web", corev1.ServiceTypeNodePort, 80)
	c, err := a.Create(ctx, svc, false)
	if err != nil {
		t.Fatal(err)
	}
	c.Finish(ctx, true)
	impostor := svc.DeepCopy()
	impostor.UID = types.UID("someone-else")
	a.Release(ctx, impostor)
	if len(keys(t, a, a.ips)) != 1 || len(keys(t, a, a.nodePorts)) != 1 {
		t.Fatal("another Service's release freed web's reservations")
	}
	a.Release(ctx, svc)
	if len(keys(t, a, a.ips)) != 0 || len(keys(t, a, a.nodePorts)) != 0 {
		t.Fatalf("after release: %v %v", keys(t, a, a.ips), keys(t, a, a.nodePorts))
	}
}
