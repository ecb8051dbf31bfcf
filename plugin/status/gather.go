package status

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/nodeinfo"
	"github.com/skiff-dev/skiff/plugin/output"
)

// The leader leases of the control plane's elected parts.
const (
	leaseNamespace       = "kube-system"
	controllersLeaseName = "skiff-controller-manager"
	schedulerLeaseName   = "kube-scheduler"
)

// rawGetter fetches a non-resource path of the API server (with the
// kubeconfig's credentials) and returns the status code and body even
// when the code is not 2xx: /readyz explains its failures in a 500.
type rawGetter func(ctx context.Context, path string) (int, []byte, error)

// httpGetter is the rawGetter of a configured client (rest.HTTPClientFor).
func httpGetter(c *http.Client, host string) rawGetter {
	return func(ctx context.Context, path string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(host, "/")+path, nil)
		if err != nil {
			return 0, nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, fmt.Errorf("GET %s: %w", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		if err != nil {
			return 0, nil, fmt.Errorf("GET %s: %w", path, err)
		}
		return resp.StatusCode, b, nil
	}
}

type gatherer struct {
	get  rawGetter
	kube kubernetes.Interface
	flux fluxapi.Client
	now  time.Time
}

func (g *gatherer) gather(ctx context.Context, server string) *Report {
	r := &Report{Server: server}
	api, etcdCheck := g.apiServer(ctx)
	r.ControlPlane = append(r.ControlPlane, api, g.etcd(ctx, etcdCheck),
		g.lease(ctx, "controllers", controllersLeaseName), g.lease(ctx, "scheduler", schedulerLeaseName))
	var nodesCheck *Check
	r.Nodes, nodesCheck = g.nodes(ctx)
	if nodesCheck != nil {
		r.ControlPlane = append(r.ControlPlane, *nodesCheck)
	}
	var sourcesCheck *Check
	r.Sources, sourcesCheck = g.sources(ctx)
	if sourcesCheck != nil {
		r.ControlPlane = append(r.ControlPlane, *sourcesCheck)
	}
	r.collectProblems()
	return r
}

// apiServer reads /readyz?verbose and /version. It returns the readyz
// line of etcd ("" when the server did not list one) for the etcd check.
func (g *gatherer) apiServer(ctx context.Context) (Check, string) {
	c := Check{Name: "api server"}
	code, body, err := g.get(ctx, "/readyz?verbose")
	if err != nil {
		c.State, c.Detail = Failed, fmt.Sprintf("unreachable: %v", err)
		return c, ""
	}
	checks := parseReadyz(body)
	var failed []string
	var etcdLine string
	for _, rc := range checks {
		if rc.name == "etcd" {
			etcdLine = rc.line
		}
		if !rc.ok {
			failed = append(failed, rc.line)
		}
	}
	ver := ""
	if vcode, vbody, verr := g.get(ctx, "/version"); verr == nil && vcode == http.StatusOK {
		var info version.Info
		if json.Unmarshal(vbody, &info) == nil {
			ver = info.GitVersion
		}
	}
	switch {
	case code == http.StatusOK:
		c.State = OK
		c.Detail = fmt.Sprintf("ready (%d checks passed)", len(checks))
	case len(failed) > 0:
		c.State, c.Detail = Failed, "not ready: "+strings.Join(failed, "; ")
	default:
		c.State, c.Detail = Failed, fmt.Sprintf("not ready: /readyz answered %d: %s", code, strings.TrimSpace(string(body)))
	}
	if ver != "" {
		c.Detail += ", " + ver
	}
	return c, etcdLine
}

type readyzCheck struct {
	name string
	ok   bool
	line string
}

// parseReadyz reads kube-apiserver's verbose health format:
// "[+]etcd ok" and "[-]etcd failed: reason".
func parseReadyz(body []byte) []readyzCheck {
	var out []readyzCheck
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		var ok bool
		switch {
		case strings.HasPrefix(l, "[+]"):
			ok = true
		case strings.HasPrefix(l, "[-]"):
		default:
			continue
		}
		rest := l[3:]
		name, _, _ := strings.Cut(rest, " ")
		out = append(out, readyzCheck{name: name, ok: ok, line: rest})
	}
	return out
}

// etcd combines readyz's etcd check with etcd's own gauges from /metrics.
func (g *gatherer) etcd(ctx context.Context, readyzLine string) Check {
	c := Check{Name: "etcd", State: OK}
	switch {
	case readyzLine == "":
		c.State, c.Detail = Failed, "no etcd check in /readyz"
		return c
	case !strings.HasSuffix(readyzLine, " ok"):
		c.State, c.Detail = Failed, readyzLine
		return c
	}
	code, body, err := g.get(ctx, "/metrics")
	if err != nil || code != http.StatusOK {
		why := fmt.Sprintf("HTTP %d", code)
		if err != nil {
			why = err.Error()
		}
		c.Detail = "healthy; members, leader and size unknown (/metrics: " + why + ")"
		return c
	}
	m := parseMetrics(body)
	hasLeader, ok := m.value("etcd_server_has_leader", nil)
	if !ok {
		c.Detail = "healthy; members, leader and size not exposed (external etcd)"
		return c
	}
	var parts []string
	members := m.members()
	parts = append(parts, plural(len(members), "member"))
	isLeader, _ := m.value("etcd_server_is_leader", nil)
	switch {
	case hasLeader != 1:
		c.State = Failed
		parts = append(parts, "no leader")
	case isLeader == 1:
		parts = append(parts, "leader "+m.label("etcd_server_id", "server_id")+" (this server)")
	default:
		parts = append(parts, "leader elsewhere")
	}
	if size, ok := m.value("etcd_mvcc_db_total_size_in_bytes", nil); ok {
		d := "db " + bytesHuman(size)
		if inUse, ok := m.value("etcd_mvcc_db_total_size_in_use_in_bytes", nil); ok {
			d += " (" + bytesHuman(inUse) + " in use)"
		}
		parts = append(parts, d)
	}
	if v := m.label("etcd_server_version", "server_version"); v != "" {
		parts = append(parts, "v"+v)
	}
	c.Detail = strings.Join(parts, ", ")
	return c
}

// lease judges a leader lease: held, and renewed within its duration.
func (g *gatherer) lease(ctx context.Context, what, name string) Check {
	c := Check{Name: what, State: Failed}
	l, err := g.kube.CoordinationV1().Leases(leaseNamespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.Detail = fmt.Sprintf("no leader: lease %s/%s not found", leaseNamespace, name)
		return c
	case err != nil:
		c.Detail = fmt.Sprintf("lease %s/%s: %v", leaseNamespace, name, err)
		return c
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	if holder == "" {
		c.Detail = "no leader: lease released"
		return c
	}
	if l.Spec.RenewTime == nil {
		c.Detail = "leader " + holder + ", never renewed"
		return c
	}
	age := g.now.Sub(l.Spec.RenewTime.Time)
	if age < 0 {
		age = 0 // clocks of this host and the server's may differ slightly
	}
	c.Detail = fmt.Sprintf("leader %s, renewed %s ago", holder, duration.HumanDuration(age))
	dur := time.Duration(15) * time.Second
	if l.Spec.LeaseDurationSeconds != nil {
		dur = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	if age > dur {
		c.Detail += fmt.Sprintf(" (stale: lease duration %s)", dur)
		return c
	}
	c.State = OK
	return c
}

// nodes lists nodes with their non-terminated pod counts. The returned
// check is a warning when there is no node at all.
func (g *gatherer) nodes(ctx context.Context) ([]Node, *Check) {
	nl, err := g.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, &Check{Name: "nodes", State: Failed, Detail: fmt.Sprintf("list nodes: %v", err)}
	}
	var counts map[string]int
	if pl, err := g.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err == nil {
		counts = nodeinfo.PodCounts(pl.Items)
	}
	out := make([]Node, 0, len(nl.Items))
	for i := range nl.Items {
		n := &nl.Items[i]
		st, ready := nodeinfo.Status(n)
		state := OK
		if !ready {
			state = Failed
		}
		out = append(out, Node{Name: n.Name, Status: st, Roles: nodeinfo.Roles(n), Pods: counts[n.Name],
			Capacity: n.Status.Allocatable.Pods().Value(), Age: output.Age(n.CreationTimestamp, g.now), State: state})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		return out, &Check{Name: "nodes", State: Warning, Detail: "no nodes: pods cannot run (kubectl skiff nodes add)"}
	}
	return out, nil
}

// sources lists GitRepositories and Kustomizations. The returned check
// reports a failure to list them.
func (g *gatherer) sources(ctx context.Context) ([]Source, *Check) {
	var out []Source
	repos, _, err := g.flux.ListGitRepositories(ctx, "")
	if err != nil {
		return nil, &Check{Name: "sources", State: Failed, Detail: err.Error()}
	}
	for _, r := range repos {
		rev := ""
		if r.Status.Artifact != nil {
			rev = r.Status.Artifact.Revision
		}
		out = append(out, source("GitRepository", r.Namespace, r.Name, rev, r.Spec.Suspend, r.Status.Conditions))
	}
	kss, _, err := g.flux.ListKustomizations(ctx, "")
	if err != nil {
		return nil, &Check{Name: "sources", State: Failed, Detail: err.Error()}
	}
	for _, k := range kss {
		out = append(out, source("Kustomization", k.Namespace, k.Name, k.Status.LastAppliedRevision, k.Spec.Suspend, k.Status.Conditions))
	}
	return out, nil
}

func source(kind, ns, name, rev string, suspended bool, conds []metav1.Condition) Source {
	s := Source{Kind: kind, Namespace: ns, Name: name, Revision: rev, Ready: fluxapi.ReadyColumn(conds),
		Message: fluxapi.ReadyMessage(conds), Suspended: suspended, State: OK}
	switch {
	case suspended:
		s.State = Warning
	case s.Ready != string(metav1.ConditionTrue):
		s.State = Failed
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func bytesHuman(v float64) string {
	const unit = 1024
	if v < unit {
		return fmt.Sprintf("%.0f B", v)
	}
	exp, div := 0, float64(unit)
	for n := v / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v/div, "KMGTP"[exp])
}
