package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// assertHostIs checks that the fake host holds exactly rs under the
// prefix, and each jump rule exactly once, with Docker's rules intact.
func assertHostIs(t *testing.T, f *fakeIPTables, p ruleParams, rs *Ruleset) {
	t.Helper()
	got, want := f.chainsUnder(p.Prefix), rs.chains()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("chain %s missing on the host", k)
			continue
		}
		if !slices.Equal(g, w) {
			t.Errorf("chain %s:\n got %q\nwant %q", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("stale chain %s left on the host", k)
		}
	}
	for _, j := range jumpRules(p.Prefix) {
		n := 0
		for _, r := range f.rulesOf(j.Table, j.Chain) {
			if r == j.Spec {
				n++
			}
		}
		if n != 1 {
			t.Errorf("jump %s/%s %q found %d times", j.Table, j.Chain, j.Spec, n)
		}
	}
	if r := f.rulesOf(tableNAT, "DOCKER"); !slices.Equal(r, []string{"-i docker0 -j RETURN"}) {
		t.Errorf("Docker's chain changed: %q", r)
	}
	if r := f.rulesOf(tableNAT, "PREROUTING"); !slices.Contains(r, "-m addrtype --dst-type LOCAL -j DOCKER") {
		t.Errorf("Docker's jump is gone: %q", r)
	}
}

func newTestBackend(f *fakeIPTables, p ruleParams) *iptablesBackend {
	return newIPTablesBackend(f, p, nil, slog.New(slog.DiscardHandler))
}

// randomPorts makes n service ports with random endpoints.
func randomPorts(r *rand.Rand, n int) []servicePort {
	var out []servicePort
	for i := 0; i < n; i++ {
		if r.IntN(4) == 0 {
			continue // this Service is deleted in this round
		}
		sp := servicePort{
			Name:      servicePortName{NamespacedName: types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("svc%d", i)}, Protocol: corev1.ProtocolTCP},
			ClusterIP: fmt.Sprintf("10.96.0.%d", i+1),
			Port:      80,
		}
		if i%3 == 0 {
			sp.NodePort = int32(30000 + i)
		}
		for e := 0; e < 4; e++ {
			if r.IntN(2) == 0 {
				sp.Endpoints = append(sp.Endpoints, endpoint{IP: fmt.Sprintf("10.42.%d.%d", i, e), Port: 8080, Ready: true, Serving: true, Local: e == 0})
			}
		}
		out = append(out, sp)
	}
	return out
}

// TestIPTablesBackendConverges applies a random sequence of changes with
// incremental syncs: after each, the host holds exactly the rules of a
// fresh render — incremental syncs never drift from full ones.
func TestIPTablesBackendConverges(t *testing.T) {
	ctx := context.Background()
	f := newFakeIPTables()
	p := testParams()
	b := newTestBackend(f, p)
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 40; round++ {
		ports := randomPorts(r, 12)
		st, err := b.sync(ctx, ports, false)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if st.Full != (round == 0) {
			t.Fatalf("round %d: full=%v", round, st.Full)
		}
		assertHostIs(t, f, p, buildRuleset(p, ports))
		if err := b.check(ctx); err != nil {
			t.Fatalf("round %d: check after sync: %v", round, err)
		}
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}

func TestIPTablesBackendWritesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	f := newFakeIPTables()
	p := testParams()
	b := newTestBackend(f, p)
	ports := loadPorts(t, "clusterip")
	if _, err := b.sync(ctx, ports, false); err != nil {
		t.Fatal(err)
	}
	// Nothing changed: no iptables-restore at all.
	before := len(f.restores)
	if _, err := b.sync(ctx, ports, false); err != nil {
		t.Fatal(err)
	}
	if len(f.restores) != before {
		t.Fatalf("a sync without changes ran iptables-restore:\n%s", f.restores[len(f.restores)-1])
	}
	// One endpoint goes: its chain is deleted and the service chain
	// rewritten; the other endpoints' chains and the filter table are
	// not touched.
	next := slices.Clone(ports)
	next[0].Endpoints = slices.DeleteFunc(slices.Clone(next[0].Endpoints), func(e endpoint) bool { return e.IP == "10.42.0.7" })
	st, err := b.sync(ctx, next, false)
	if err != nil {
		t.Fatal(err)
	}
	text := string(f.restores[len(f.restores)-1])
	checkGolden(t, "incremental.golden", []byte(text))
	if st.Full || st.Chains != 1 {
		t.Errorf("stats %+v, want one chain written incrementally", st)
	}
	names := chainNames{prefix: p.Prefix}
	kept := names.sep(next[0].Name, next[0].Endpoints[0])
	if strings.Contains(text, ":"+kept) || strings.Contains(text, "*filter") {
		t.Errorf("unchanged chains rewritten:\n%s", text)
	}
	assertHostIs(t, f, p, buildRuleset(p, next))
}

// TestIPTablesBackendRestartCleansUp starts a new backend (an agent
// restarted) on a host holding an older state of its rules, a duplicated
// jump, a jump of an older layout, and another node's rules: the first
// sync leaves exactly the wanted rules and does not touch the other
// node's.
func TestIPTablesBackendRestartCleansUp(t *testing.T) {
	ctx := context.Background()
	f := newFakeIPTables()
	p := testParams()
	other := ruleParams{Prefix: NodeChainPrefix(testCluster, "node-b"), ClusterCIDR: p.ClusterCIDR, ServiceCIDR: p.ServiceCIDR}
	old := newTestBackend(f, p)
	if _, err := old.sync(ctx, loadPorts(t, "nodeport"), false); err != nil {
		t.Fatal(err)
	}
	ob := newTestBackend(f, other)
	if _, err := ob.sync(ctx, loadPorts(t, "nodeport"), false); err != nil {
		t.Fatal(err)
	}
	j := jumpRules(p.Prefix)[0]
	names := chainNames{prefix: p.Prefix}
	messy := fmt.Sprintf("*nat\n-A %s %s\n:%s-OLD-LAYOUT - [0:0]\n-I POSTROUTING 1 -j %s-OLD-LAYOUT\nCOMMIT\n", j.Chain, j.Spec, p.Prefix, p.Prefix)
	if err := f.Restore(ctx, []byte(messy)); err != nil {
		t.Fatal(err)
	}
	otherBefore := f.chainsUnder(other.Prefix)

	restarted := newTestBackend(f, p)
	ports := loadPorts(t, "clusterip")
	st, err := restarted.sync(ctx, ports, false)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Full {
		t.Error("the first sync after a restart was not full")
	}
	assertHostIs(t, f, p, buildRuleset(p, ports))
	if _, ok := f.chainsUnder(p.Prefix)[tableNAT+"/"+names.ext(loadPorts(t, "nodeport")[0].Name)]; ok {
		t.Error("the NodePort chain of the old state survived")
	}
	otherAfter := f.chainsUnder(other.Prefix)
	if fmt.Sprint(otherBefore) != fmt.Sprint(otherAfter) {
		t.Errorf("another node's rules changed:\nbefore %v\nafter  %v", otherBefore, otherAfter)
	}
	if err := ob.check(ctx); err != nil {
		t.Errorf("the other node's check fails after our restart: %v", err)
	}
}

func TestIPTablesBackendRecoversFromDriftAndFailures(t *testing.T) {
	ctx := context.Background()
	f := newFakeIPTables()
	p := testParams()
	b := newTestBackend(f, p)
	ports := loadPorts(t, "affinity")
	if _, err := b.sync(ctx, ports, false); err != nil {
		t.Fatal(err)
	}
	// Someone deletes a jump rule: check notices, a full sync repairs.
	j := jumpRules(p.Prefix)[1]
	if err := f.Restore(ctx, []byte(fmt.Sprintf("*%s\n-D %s %s\nCOMMIT\n", j.Table, j.Chain, j.Spec))); err != nil {
		t.Fatal(err)
	}
	if err := b.check(ctx); err == nil {
		t.Fatal("check did not notice a missing jump rule")
	}
	if st, err := b.sync(ctx, ports, true); err != nil || !st.Full {
		t.Fatalf("forced sync: %+v %v", st, err)
	}
	assertHostIs(t, f, p, buildRuleset(p, ports))

	// A failed restore leaves the state unknown: the next sync is full.
	f.failNext = true
	next := loadPorts(t, "udp")
	if _, err := b.sync(ctx, next, false); err == nil {
		t.Fatal("sync reported success on a failed restore")
	}
	if st, err := b.sync(ctx, next, false); err != nil || !st.Full {
		t.Fatalf("sync after a failure: %+v %v", st, err)
	}
	assertHostIs(t, f, p, buildRuleset(p, next))

	// The hourly full sync.
	b.now = func() time.Time { return time.Now().Add(2 * fullSyncPeriod) }
	if st, err := b.sync(ctx, next, false); err != nil || !st.Full {
		t.Fatalf("sync after fullSyncPeriod: %+v %v", st, err)
	}
}

func TestCleanupRemovesOneNodeOrAll(t *testing.T) {
	ctx := context.Background()
	f := newFakeIPTables()
	a, b := testParams(), ruleParams{Prefix: NodeChainPrefix(testCluster, "node-b"), ClusterCIDR: "10.42.0.0/16"}
	for _, p := range []ruleParams{a, b} {
		if _, err := newTestBackend(f, p).sync(ctx, loadPorts(t, "local-policy"), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := cleanupWith(ctx, f, a.Prefix); err != nil {
		t.Fatal(err)
	}
	if left := f.chainsUnder(a.Prefix); len(left) != 0 {
		t.Errorf("node-a chains left: %v", left)
	}
	assertHostIs(t, f, b, buildRuleset(b, loadPorts(t, "local-policy")))
	for _, table := range []string{tableNAT, tableFilter} {
		for _, c := range []string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"} {
			for _, r := range f.rulesOf(table, c) {
				if strings.Contains(r, a.Prefix) {
					t.Errorf("jump left: %s %s", c, r)
				}
			}
		}
	}
	// Again: nothing left to do, and no error.
	n := len(f.restores)
	if err := cleanupWith(ctx, f, a.Prefix); err != nil || len(f.restores) != n {
		t.Errorf("second cleanup: %v, %d restores", err, len(f.restores)-n)
	}
	// Another cluster on the same host, whose node has the same name (the
	// host's, as `skiff up` names it): its chains are its own, and
	// removing one cluster's rules leaves the other's whole.
	c := ruleParams{Prefix: NodeChainPrefix("other-cluster", "node-b"), ClusterCIDR: "10.42.0.0/16"}
	if c.Prefix == b.Prefix {
		t.Fatalf("two clusters' nodes of one name share the prefix %s", c.Prefix)
	}
	if _, err := newTestBackend(f, c).sync(ctx, loadPorts(t, "local-policy"), false); err != nil {
		t.Fatal(err)
	}
	if err := cleanupWith(ctx, f, ClusterChainPrefix(testCluster)); err != nil {
		t.Fatal(err)
	}
	if left := f.chainsUnder(b.Prefix); len(left) != 0 {
		t.Errorf("chains of the cleaned cluster left: %v", left)
	}
	assertHostIs(t, f, c, buildRuleset(c, loadPorts(t, "local-policy")))
	if err := cleanupWith(ctx, f, strings.TrimSuffix(ChainPrefix, "-")); err != nil {
		t.Fatal(err)
	}
	if left := f.chainsUnder("SKIFF"); len(left) != 0 {
		t.Errorf("chains left after cleaning all: %v", left)
	}
	if r := f.rulesOf(tableFilter, "FORWARD"); !slices.Equal(r, []string{"-j DOCKER-USER"}) {
		t.Errorf("FORWARD after cleanup: %q", r)
	}
}
