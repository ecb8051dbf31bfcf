package servicealloc

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// storeService writes a Service where the API server keeps it.
func storeService(t *testing.T, a *Allocator, svc *corev1.Service) {
	t.Helper()
	b, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.etcd.Put(context.Background(), a.servicesPrefix+svc.Namespace+"/"+svc.Name, string(b)); err != nil {
		t.Fatal(err)
	}
}

func deleteStoredService(t *testing.T, a *Allocator, svc *corev1.Service) {
	t.Helper()
	if _, err := a.etcd.Delete(context.Background(), a.servicesPrefix+svc.Namespace+"/"+svc.Name); err != nil {
		t.Fatal(err)
	}
}

func repair(t *testing.T, a *Allocator) RepairResult {
	t.Helper()
	res, err := a.Repair(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRepair(t *testing.T) {
	e := startEtcd(t)
	clk := &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := newAllocator(t, e.Client(), "10.96.0.0/24", "30000-30099", clk)
	ctx := context.Background()
	createStored := func(svc *corev1.Service) *corev1.Service {
		t.Helper()
		c, err := a.Create(ctx, svc, false)
		if err != nil {
			t.Fatal(err)
		}
		storeService(t, a, svc)
		c.Finish(ctx, true)
		return svc
	}

	// A healthy Service: nothing to do.
	healthy := createStored(service("healthy", corev1.ServiceTypeNodePort, 80))
	// Crash after the reservation, before the Service was stored.
	inFlight := service("in-flight", corev1.ServiceTypeNodePort, 80)
	if _, err := a.Create(ctx, inFlight, false); err != nil {
		t.Fatal(err)
	}
	// Crash after the Service was deleted, before the release.
	deleted := createStored(service("deleted", corev1.ServiceTypeLoadBalancer, 80))
	deleteStoredService(t, a, deleted)
	// Reservations lost (etcd restored from an older backup).
	restored := service("restored", corev1.ServiceTypeNodePort, 80)
	restored.Spec.ClusterIP, restored.Spec.ClusterIPs = "10.96.0.7", []string{"10.96.0.7"}
	restored.Spec.Ports[0].NodePort = 30007
	storeService(t, a, restored)
	// A reservation naming a Service that no longer holds the address,
	// while another does.
	ghost := service("ghost", corev1.ServiceTypeClusterIP, 80)
	ghost.Spec.ClusterIP, ghost.Spec.ClusterIPs = "10.96.0.8", []string{"10.96.0.8"}
	if _, err := a.Create(ctx, ghost, false); err != nil {
		t.Fatal(err)
	}
	holder := service("holder", corev1.ServiceTypeClusterIP, 80)
	holder.Spec.ClusterIP, holder.Spec.ClusterIPs = "10.96.0.8", []string{"10.96.0.8"}
	storeService(t, a, holder)
	// Two Services holding one address: the older keeps the reservation.
	older := service("older", corev1.ServiceTypeClusterIP, 80)
	older.CreationTimestamp = metav1.NewTime(clk.Now().Add(-time.Hour))
	older.Spec.ClusterIP, older.Spec.ClusterIPs = "10.96.0.9", []string{"10.96.0.9"}
	newer := older.DeepCopy()
	newer.Name, newer.UID, newer.CreationTimestamp = "newer", "uid-newer", metav1.NewTime(clk.Now())
	storeService(t, a, newer)
	storeService(t, a, older)
	// An address outside today's range (the flag changed).
	moved := service("moved", corev1.ServiceTypeClusterIP, 80)
	moved.Spec.ClusterIP, moved.Spec.ClusterIPs = "10.200.0.1", []string{"10.200.0.1"}
	storeService(t, a, moved)

	got := repair(t, a)
	want := RepairResult{Services: 6, Restored: 3, Transferred: 1, Pending: 4, Duplicates: 1, OutOfRange: 1}
	if got != want {
		t.Fatalf("first pass: %+v\nwant %+v", got, want)
	}
	ips := keys(t, a, a.ips)
	if ips["10.96.0.7"] != "restored" || ips["10.96.0.8"] != "holder" || ips["10.96.0.9"] != "older" {
		t.Fatalf("reservations %v", ips)
	}
	if keys(t, a, a.nodePorts)["30007"] != "restored" {
		t.Fatalf("node ports %v", keys(t, a, a.nodePorts))
	}
	// The in-flight create's and the deleted Service's reservations are
	// young: a create may still store its Service. Past the grace period
	// they go.
	if ips[inFlight.Spec.ClusterIP] != "in-flight" || ips[deleted.Spec.ClusterIP] != "deleted" {
		t.Fatalf("young reservations released: %v", ips)
	}
	clk.Add(2 * time.Minute)
	got = repair(t, a)
	want = RepairResult{Services: 6, Released: 4, Duplicates: 1, OutOfRange: 1}
	if got != want {
		t.Fatalf("second pass: %+v\nwant %+v", got, want)
	}
	ips, ports := keys(t, a, a.ips), keys(t, a, a.nodePorts)
	for _, gone := range []*corev1.Service{inFlight, deleted} {
		if _, held := ips[gone.Spec.ClusterIP]; held {
			t.Errorf("%s's IP still reserved", gone.Name)
		}
		if _, held := ports[strconvItoa(int(gone.Spec.Ports[0].NodePort))]; held {
			t.Errorf("%s's node port still reserved", gone.Name)
		}
	}
	if ips[healthy.Spec.ClusterIP] != "healthy" || ports[strconvItoa(int(healthy.Spec.Ports[0].NodePort))] != "healthy" {
		t.Errorf("healthy lost its reservations: %v %v", ips, ports)
	}
	// Idempotent: nothing left to do.
	if got := repair(t, a); got != (RepairResult{Services: 6, Duplicates: 1, OutOfRange: 1}) {
		t.Fatalf("third pass: %+v", got)
	}
}
