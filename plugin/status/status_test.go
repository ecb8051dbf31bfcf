package status

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/fluxapi/fluxtest"
	"github.com/skiff-dev/skiff/plugin/output"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// The bodies the embedded etcd's server answers with.
const (
	readyzOK  = "[+]ping ok\n[+]etcd ok\n[+]bootstrap ok\nreadyz check passed\n"
	metricsOK = `# HELP etcd_server_has_leader Whether or not a leader exists.
# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
etcd_server_is_leader 1
etcd_server_id{server_id="8e9e05c52164694d"} 1
etcd_server_version{server_version="3.7.3"} 1
etcd_network_known_peers{Local="8e9e05c52164694d",Remote="8e9e05c52164694d"} 1
etcd_mvcc_db_total_size_in_bytes 1.048576e+06
etcd_mvcc_db_total_size_in_use_in_bytes 524288
apiserver_request_total{code="200"} 5
`
)

type fakeServer map[string]struct {
	code int
	body string
}

func (f fakeServer) get(_ context.Context, path string) (int, []byte, error) {
	r, ok := f[path]
	if !ok {
		return http.StatusNotFound, []byte("404 page not found"), nil
	}
	return r.code, []byte(r.body), nil
}

func healthyServer() fakeServer {
	return fakeServer{
		"/readyz?verbose": {200, readyzOK},
		"/version":        {200, `{"major":"1","minor":"33","gitVersion":"v1.33.0-skiff.0.1.0"}`},
		"/metrics":        {200, metricsOK},
	}
}

func lease(name string, renewedAgo time.Duration) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("host_1"), LeaseDurationSeconds: ptr.To[int32](15),
			RenewTime: ptr.To(metav1.NewMicroTime(now.Add(-renewedAgo)))}}
}

func node(name string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
}

func pod(name, nodeName string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PodSpec{NodeName: nodeName}, Status: corev1.PodStatus{Phase: phase}}
}

func readyKs(name string, status metav1.ConditionStatus, msg string) *flux.Kustomization {
	return &flux.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: flux.KustomizationSpec{SourceRef: flux.CrossNamespaceSourceReference{Kind: "GitRepository", Name: name}},
		Status: flux.KustomizationStatus{LastAppliedRevision: "main@sha1:abc",
			Conditions: []metav1.Condition{{Type: "Ready", Status: status, Reason: "X", Message: msg}}}}
}

func gatherWith(t *testing.T, srv fakeServer, kube []runtime.Object, fluxObjs ...runtime.Object) *Report {
	t.Helper()
	g := &gatherer{get: srv.get, kube: fake.NewSimpleClientset(kube...),
		flux: fluxapi.Client{Dynamic: fluxtest.NewClient(t, fluxObjs...)}, now: now}
	return g.gather(context.Background(), "https://127.0.0.1:6443")
}

func healthyKube() []runtime.Object {
	return []runtime.Object{lease(controllersLeaseName, 2*time.Second), lease(schedulerLeaseName, 3*time.Second),
		node("n1", corev1.ConditionTrue), pod("a", "n1", corev1.PodRunning), pod("b", "n1", corev1.PodSucceeded)}
}

func TestHealthyCluster(t *testing.T) {
	r := gatherWith(t, healthyServer(), healthyKube(), readyKs("shop", metav1.ConditionTrue, "Applied revision: main@sha1:abc"))
	if !r.Healthy() {
		t.Fatalf("problems: %v", r.Problems)
	}
	byName := map[string]Check{}
	for _, c := range r.ControlPlane {
		byName[c.Name] = c
	}
	for name, want := range map[string]string{
		"api server":  "ready (3 checks passed), v1.33.0-skiff.0.1.0",
		"etcd":        "1 member, leader 8e9e05c52164694d (this server), db 1.0 MiB (512.0 KiB in use), v3.7.3",
		"controllers": "leader host_1, renewed 2s ago",
		"scheduler":   "leader host_1, renewed 3s ago",
	} {
		if got := byName[name]; got.State != OK || got.Detail != want {
			t.Errorf("%s = %s %q, want ok %q", name, got.State, got.Detail, want)
		}
	}
	if len(r.Nodes) != 1 || r.Nodes[0].Pods != 1 || r.Nodes[0].Capacity != 110 || r.Nodes[0].Status != "Ready" {
		t.Errorf("nodes = %+v, want n1 Ready with 1/110 pods (the Succeeded pod does not count)", r.Nodes)
	}
}

func TestUnhealthy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		srv      func(fakeServer)
		kube     func([]runtime.Object) []runtime.Object
		flux     []runtime.Object
		problems []string
	}{
		{name: "api not ready", srv: func(s fakeServer) {
			s["/readyz?verbose"] = struct {
				code int
				body string
			}{500, "[+]ping ok\n[+]etcd ok\n[-]bootstrap failed: the server is still starting\nreadyz check failed\n"}
		}, problems: []string{"api server: not ready: bootstrap failed: the server is still starting, v1.33.0-skiff.0.1.0"}},
		{name: "etcd failing", srv: func(s fakeServer) {
			s["/readyz?verbose"] = struct {
				code int
				body string
			}{500, "[+]ping ok\n[-]etcd failed: context deadline exceeded\nreadyz check failed\n"}
		}, problems: []string{"api server: not ready: etcd failed: context deadline exceeded, v1.33.0-skiff.0.1.0", "etcd: etcd failed: context deadline exceeded"}},
		{name: "etcd without leader", srv: func(s fakeServer) {
			s["/metrics"] = struct {
				code int
				body string
			}{200, strings.Replace(metricsOK, "etcd_server_has_leader 1", "etcd_server_has_leader 0", 1)}
		}, problems: []string{"etcd: 1 member, no leader, db 1.0 MiB (512.0 KiB in use), v3.7.3"}},
		{name: "stale lease", kube: func(o []runtime.Object) []runtime.Object {
			return append(o[1:], lease(controllersLeaseName, 40*time.Second))
		}, problems: []string{"controllers: leader host_1, renewed 40s ago (stale: lease duration 15s)"}},
		{name: "missing lease", kube: func(o []runtime.Object) []runtime.Object { return o[1:] },
			problems: []string{"controllers: no leader: lease kube-system/skiff-controller-manager not found"}},
		{name: "node not ready", kube: func(o []runtime.Object) []runtime.Object {
			return append(o, node("n2", corev1.ConditionFalse))
		}, problems: []string{"node n2 is NotReady"}},
		{name: "source not ready", flux: []runtime.Object{readyKs("shop", metav1.ConditionFalse, "deploy/app.yaml:3: bad")},
			problems: []string{"Kustomization default/shop is not Ready: deploy/app.yaml:3: bad"}},
		{name: "source never reconciled", flux: []runtime.Object{&flux.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop"}}},
			problems: []string{"GitRepository default/shop is not Ready: waiting to be reconciled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := healthyServer()
			if tc.srv != nil {
				tc.srv(srv)
			}
			kube := healthyKube()
			if tc.kube != nil {
				kube = tc.kube(kube)
			}
			r := gatherWith(t, srv, kube, tc.flux...)
			if strings.Join(r.Problems, "|") != strings.Join(tc.problems, "|") {
				t.Errorf("problems = %q, want %q", r.Problems, tc.problems)
			}
		})
	}
}

func TestWarningsAreHealthy(t *testing.T) {
	suspended := readyKs("shop", metav1.ConditionFalse, "old failure")
	suspended.Spec.Suspend = true
	srv := healthyServer()
	delete(srv, "/metrics") // an external etcd's gauges are not served
	r := gatherWith(t, srv, healthyKube()[:2], suspended)
	if !r.Healthy() {
		t.Fatalf("problems: %v", r.Problems)
	}
	var warned []string
	for _, c := range r.ControlPlane {
		if c.State == Warning {
			warned = append(warned, c.Name)
		}
		if c.Name == "etcd" && !strings.Contains(c.Detail, "unknown (/metrics: HTTP 404)") {
			t.Errorf("etcd detail without metrics: %q", c.Detail)
		}
	}
	if len(warned) != 1 || warned[0] != "nodes" {
		t.Errorf("warnings = %v, want [nodes] (no nodes)", warned)
	}
	if r.Sources[0].State != Warning {
		t.Errorf("suspended source state = %s, want warning", r.Sources[0].State)
	}
}

func TestMembersFromPeers(t *testing.T) {
	m := parseMetrics([]byte(`etcd_server_id{server_id="a"} 1
etcd_network_known_peers{Local="a",Remote="b"} 1
etcd_network_known_peers{Local="a",Remote="c"} 1
etcd_server_has_leader 1
etcd_server_is_leader 0
`))
	if got := m.members(); strings.Join(got, ",") != "a,b,c" {
		t.Errorf("members = %v, want a,b,c", got)
	}
}

func TestRenderColoursOnlyWhenAsked(t *testing.T) {
	r := gatherWith(t, healthyServer(), healthyKube(), readyKs("shop", metav1.ConditionFalse, "line one\nline two"))
	var plain, coloured bytes.Buffer
	if err := render(&plain, r, output.ForcePalette(false)); err != nil {
		t.Fatal(err)
	}
	if err := render(&coloured, r, output.ForcePalette(true)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("plain output has escape codes:\n%s", plain.String())
	}
	if !strings.Contains(coloured.String(), "\x1b[31m✗\x1b[0m") {
		t.Errorf("coloured output does not mark the failure red:\n%q", coloured.String())
	}
	for _, want := range []string{"✗ unhealthy (1 problem)", "line one (+1 lines)", "✓ n1", "1/110"} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, plain.String())
		}
	}
	// Colour codes must not shift the columns: stripped, both agree.
	stripped := strings.NewReplacer("\x1b[31m", "", "\x1b[32m", "", "\x1b[33m", "", "\x1b[1m", "", "\x1b[0m", "").Replace(coloured.String())
	if stripped != plain.String() {
		t.Errorf("coloured layout differs from plain:\n%s\n---\n%s", stripped, plain.String())
	}
}
