package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/reconcile/gitsync/fluxobj"
)

// gitops500Kinds are the kinds of the 500-object revision, with how many
// of each: one Namespace and a mix of ConfigMaps, Services and
// Deployments, the bulk of a typical application repository.
var gitops500Kinds = []struct {
	gvr  schema.GroupVersionResource
	kind string
	n    int
}{
	{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "ConfigMap", 200},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "Service", 150},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment", 149},
}

// benchGitOps500 is a revision of 500 objects: the first sync (commit to
// a file:// repo → Kustomization Ready at that commit) and the no-op
// resync (a requestedAt annotation → handled, nothing changed in git or
// in the cluster): its server CPU (the skiff server process runs the API
// server and the controller; CPU over a fixed window after the trigger
// minus the median idle window's), its latency and the writes it makes.
// The baseline, in the same run, is `kubectl apply --server-side -f` of
// the same 500 objects into another namespace: the first apply's time,
// and the second (no-op) apply's time and server CPU. No nodes: the
// Deployments' pods stay Pending, which is all the Kustomization (wait:
// false) needs.
func benchGitOps500(e *env) ([]Result, error) {
	resyncs := 20
	if e.quick {
		resyncs = 8
	}
	const window = 700 * time.Millisecond
	ctx := context.Background()
	kubectl, err := cluster.Kubectl("")
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(e.tmp, "gitops500")
	s, err := cluster.Start(cluster.Options{Bin: e.skiffBin, DataDir: dataDir})
	if err != nil {
		return nil, err
	}
	defer s.Kill()
	pid, err := serverPID(dataDir)
	if err != nil {
		return nil, err
	}
	cfg, err := s.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = unthrottled(cfg)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	gitEnv := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+e.tmp, "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=b@example.com", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=b@example.com")
	run := func(dir, name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, gitEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}

	// Baseline: kubectl apply --server-side, first and no-op.
	applyDir := filepath.Join(e.tmp, "gitops500-kubectl")
	if err := writeObjects500(applyDir, "kubectl500"); err != nil {
		return nil, err
	}
	kubectlApply := func() (time.Duration, error) {
		start := time.Now()
		_, err := run(applyDir, kubectl, "--kubeconfig", s.Kubeconfig(), "apply", "--server-side", "-f", applyDir)
		return time.Since(start), err
	}
	kFirst, err := kubectlApply()
	if err != nil {
		return nil, err
	}
	idleRate := settle(pid)
	kBefore, err := objectVersions(ctx, dyn, "kubectl500", "")
	if err != nil {
		return nil, err
	}
	c0 := cpuNanos(pid)
	kNoop, err := kubectlApply()
	if err != nil {
		return nil, err
	}
	kNoopCPU := time.Duration(cpuNanos(pid)-c0) - time.Duration(float64(kNoop)*idleRate)
	kAfter, err := objectVersions(ctx, dyn, "kubectl500", "")
	if err != nil {
		return nil, err
	}
	kWrites := changed(kBefore, kAfter)

	// GitOps: a repo holding only the Namespace first, then a commit of
	// the other 499 objects.
	repo := filepath.Join(e.tmp, "gitops500-repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(repo, "00-namespace.yaml"), []byte(namespace500("gitops500")), 0o644); err != nil {
		return nil, err
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "namespace"}} {
		if _, err := run(repo, "git", args...); err != nil {
			return nil, err
		}
	}
	head, err := run(repo, "git", "rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	sources := fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: gitops500, namespace: default}
spec: {url: "file://%s", ref: {branch: main}, interval: 10m}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: gitops500, namespace: default}
spec: {sourceRef: {kind: GitRepository, name: gitops500}, path: ./, prune: true, wait: false, interval: 10m, timeout: 2m}
`, repo)
	srcFile := filepath.Join(e.tmp, "gitops500-sources.yaml")
	if err := os.WriteFile(srcFile, []byte(sources), 0o644); err != nil {
		return nil, err
	}
	if _, err := run(e.tmp, kubectl, "--kubeconfig", s.Kubeconfig(), "apply", "-f", srcFile); err != nil {
		return nil, err
	}
	ks := dyn.Resource(fluxobj.Kustomizations).Namespace("default")
	if _, err := waitKustomization(ctx, ks, "gitops500", time.Minute, func(u *unstructured.Unstructured) bool {
		return applied(u) == "main@sha1:"+head
	}); err != nil {
		return nil, err
	}
	if err := writeObjects500(repo, "gitops500"); err != nil {
		return nil, err
	}
	if _, err := run(repo, "git", "add", "."); err != nil {
		return nil, err
	}
	settle(pid)
	start := time.Now()
	if _, err := run(repo, "git", "commit", "-q", "-m", "500 objects"); err != nil {
		return nil, err
	}
	head, err = run(repo, "git", "rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	rev := "main@sha1:" + head
	if _, err := waitKustomization(ctx, ks, "gitops500", 5*time.Minute, func(u *unstructured.Unstructured) bool {
		return applied(u) == rev
	}); err != nil {
		return nil, err
	}
	firstSync := time.Since(start)

	// No-op resyncs, each in its own window after an idle window of the
	// same length.
	settle(pid)
	gBefore, err := objectVersions(ctx, dyn, "gitops500", "kustomize.toolkit.fluxcd.io/name=gitops500")
	if err != nil {
		return nil, err
	}
	if len(gBefore) != 500 {
		return nil, fmt.Errorf("the Kustomization applied %d objects, want 500", len(gBefore))
	}
	m0, err := requestCounts(ctx, cs)
	if err != nil {
		return nil, err
	}
	w, err := ks.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=gitops500"})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var idle, cost []float64
	var lat []time.Duration
	for i := 0; i < resyncs; i++ {
		c0 := cpuNanos(pid)
		time.Sleep(window)
		idle = append(idle, float64(cpuNanos(pid)-c0))
		stamp := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
		c0, t0 := cpuNanos(pid), time.Now()
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, fluxobj.RequestedAtAnnotation, stamp)
		if _, err := ks.Patch(ctx, "gitops500", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return nil, err
		}
		if err := waitHandled(w, stamp, time.Minute); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
		if rest := window - time.Since(t0); rest > 0 {
			time.Sleep(rest)
		}
		cost = append(cost, float64(cpuNanos(pid)-c0))
	}
	idleMedian := median(idle)
	perResync := make([]float64, len(cost))
	for i, c := range cost {
		perResync[i] = c - idleMedian
	}
	m1, err := requestCounts(ctx, cs)
	if err != nil {
		return nil, err
	}
	gAfter, err := objectVersions(ctx, dyn, "gitops500", "kustomize.toolkit.fluxcd.io/name=gitops500")
	if err != nil {
		return nil, err
	}
	gWrites := changed(gBefore, gAfter)
	final, err := ks.Get(ctx, "gitops500", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if applied(final) != rev {
		return nil, fmt.Errorf("after the resyncs lastAppliedRevision is %q, want %q", applied(final), rev)
	}
	cpuP50 := time.Duration(median(perResync))
	latP50 := percentile(lat, 50)
	mutating, reads := requestSummary(m0, m1, resyncs)

	// Interval resyncs: spec.interval 1s (one reconcile of the new
	// generation renders again), then a stretch of resyncs nobody asked
	// for, which must write nothing at all, status included. How many
	// ran is read from the drift check's LISTs of ConfigMaps.
	if _, err := ks.Patch(ctx, "gitops500", types.MergePatchType, []byte(`{"spec":{"interval":"1s"}}`), metav1.PatchOptions{}); err != nil {
		return nil, err
	}
	if _, err := waitKustomization(ctx, ks, "gitops500", time.Minute, func(u *unstructured.Unstructured) bool {
		og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		return og == u.GetGeneration() && applied(u) == rev
	}); err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second) // the new generation's reconcile and its status write settle
	iBefore, err := objectVersions(ctx, dyn, "gitops500", "kustomize.toolkit.fluxcd.io/name=gitops500")
	if err != nil {
		return nil, err
	}
	kBeforeRV, err := ks.Get(ctx, "gitops500", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	i0, err := requestCounts(ctx, cs)
	if err != nil {
		return nil, err
	}
	stretch := 10 * time.Second
	c0, t0 := cpuNanos(pid), time.Now()
	time.Sleep(stretch)
	intervalCPU := float64(cpuNanos(pid)-c0) - idleMedian*float64(time.Since(t0))/float64(window)
	i1, err := requestCounts(ctx, cs)
	if err != nil {
		return nil, err
	}
	iAfter, err := objectVersions(ctx, dyn, "gitops500", "kustomize.toolkit.fluxcd.io/name=gitops500")
	if err != nil {
		return nil, err
	}
	kAfterRV, err := ks.Get(ctx, "gitops500", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	intervalResyncs := i1["LIST configmaps"] - i0["LIST configmaps"]
	if intervalResyncs < 1 {
		return nil, fmt.Errorf("no interval resync ran in %s", stretch)
	}
	intervalWrites := changed(iBefore, iAfter)
	if kAfterRV.GetResourceVersion() != kBeforeRV.GetResourceVersion() {
		intervalWrites++
	}
	iMutating, _ := requestSummary(i0, i1, 1)
	perInterval := time.Duration(intervalCPU / intervalResyncs)

	return []Result{
		{
			Scenario: "gitops/500-objects", Metric: "first sync: commit to a file:// repo → Kustomization Ready at it, 500 objects", Unit: "ms",
			Ours: ms(firstSync), Baseline: ms(kFirst), BaselineName: "kubectl apply --server-side", Ratio: float64(firstSync) / float64(kFirst),
			Target: "report", Met: true,
			Note: "200 ConfigMaps, 150 Services, 149 Deployments and their Namespace; no nodes (wait: false)",
		},
		{
			Scenario: "gitops/500-objects", Metric: "no-op resync (requestedAt): skiff server CPU per resync, p50", Unit: "ms",
			Ours: ms(cpuP50), Baseline: ms(kNoopCPU), BaselineName: "server CPU of a no-op kubectl apply --server-side", Ratio: float64(cpuP50) / float64(max(kNoopCPU, time.Microsecond)),
			Target: "< 50 ms", Met: cpuP50 < 50*time.Millisecond,
			Note: fmt.Sprintf("API server and controller together (one process), %s window after the trigger minus the median idle window (%.1f ms); p90 %.1f ms; %d resyncs; requests per resync: %s",
				window, idleMedian/1e6, percentileF(perResync, 90)/1e6, resyncs, reads),
		},
		{
			Scenario: "gitops/500-objects", Metric: "no-op resync (requestedAt): annotation → lastHandledReconcileAt, p50", Unit: "ms",
			Ours: ms(latP50), Baseline: ms(kNoop), BaselineName: "no-op kubectl apply --server-side", Ratio: float64(latP50) / float64(kNoop),
			Target: "report", Met: true,
			Note: fmt.Sprintf("p99 %.0f ms", ms(percentile(lat, 99))),
		},
		{
			Scenario: "gitops/500-objects", Metric: "no-op resync (interval): skiff server CPU per resync, mean", Unit: "ms",
			Ours: ms(perInterval), Target: "< 50 ms", Met: perInterval < 50*time.Millisecond,
			Note: fmt.Sprintf("%.0f resyncs at interval 1s in %s, CPU beyond the idle rate divided by them", intervalResyncs, stretch),
		},
		{
			Scenario: "gitops/500-objects", Metric: "no-op resyncs (interval): writes, the Kustomization's status included", Unit: "writes",
			Ours: float64(intervalWrites), Target: "0", Met: intervalWrites == 0,
			Note: fmt.Sprintf("%.0f resyncs; requests with a writing verb meanwhile: %s", intervalResyncs, iMutating),
		},
		{
			Scenario: "gitops/500-objects", Metric: "no-op resyncs (requestedAt): writes to the 500 applied objects", Unit: "writes",
			Ours: float64(gWrites), Baseline: float64(kWrites), BaselineName: "no-op kubectl apply --server-side",
			Target: "0", Met: gWrites == 0,
			Note: fmt.Sprintf("objects whose resourceVersion moved over %d resyncs (each also records lastHandledReconcileAt in the status, as Flux does); requests with a writing verb meanwhile (dry runs count as PATCH): %s", resyncs, mutating),
		},
	}, nil
}

// namespace500 is the revision's Namespace.
func namespace500(ns string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
}

// writeObjects500 writes the Namespace and the 499 other objects of the
// revision, ten to a file, into dir.
func writeObjects500(dir, ns string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "00-namespace.yaml"), []byte(namespace500(ns)), 0o644); err != nil {
		return err
	}
	var docs []string
	for _, k := range gitops500Kinds {
		for i := 0; i < k.n; i++ {
			name := fmt.Sprintf("%s-%03d", strings.ToLower(k.kind), i)
			switch k.kind {
			case "ConfigMap":
				docs = append(docs, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  namespace: %s
  labels: {app: shop, part: config}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
  index: "%d"
`, name, ns, i))
			case "Service":
				docs = append(docs, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
  labels: {app: shop}
spec:
  selector: {app: %[1]s}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP}
`, name, ns))
			case "Deployment":
				docs = append(docs, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
  labels: {app: shop}
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: web
        image: registry.example/shop/web:1.0.%[3]d
        ports: [{containerPort: 8080}]
        env: [{name: MODE, value: production}]
        resources:
          requests: {cpu: 100m, memory: 64Mi}
`, name, ns, i))
			}
		}
	}
	for f := 0; f*10 < len(docs); f++ {
		end := min(f*10+10, len(docs))
		body := "---\n" + strings.Join(docs[f*10:end], "---\n")
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("objects-%02d.yaml", f)), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// serverPID finds the skiff server process started on dataDir (the
// cluster package does not expose it; its command line names the data
// directory, which is unique to this scenario).
func serverPID(dataDir string) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if i := slices.Index(args, "--data-dir"); i >= 0 && i+1 < len(args) && args[i+1] == dataDir && slices.Contains(args, "server") {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no skiff server process on %s", dataDir)
}

// cpuNanos is the CPU time of every thread of pid, in nanoseconds, from
// /proc/PID/task/*/schedstat (nanosecond resolution, where
// /proc/PID/stat's utime+stime counts 10 ms ticks). A Go process rarely
// ends threads, so the sum does not go backwards in practice.
func cpuNanos(pid int) int64 {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			sum += n
		}
	}
	return sum
}

// settle waits until the server is quiet (less than 5 % of a CPU over a
// second, or 30 s have passed), so one phase's background work (the
// Deployment controller creating ReplicaSets and Pods) is not measured
// in the next; it returns the last second's CPU rate (CPU ns per ns).
func settle(pid int) float64 {
	var rate float64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		c0, t0 := cpuNanos(pid), time.Now()
		time.Sleep(time.Second)
		rate = float64(cpuNanos(pid)-c0) / float64(time.Since(t0))
		if rate < 0.05 {
			break
		}
	}
	return rate
}

// objectVersions maps every object of the revision's kinds in ns
// (matching selector) to its resourceVersion, the Namespace included.
func objectVersions(ctx context.Context, dyn dynamic.Interface, ns, selector string) (map[string]string, error) {
	out := map[string]string{}
	nsObj, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	out["Namespace/"+ns] = nsObj.GetResourceVersion()
	for _, k := range gitops500Kinds {
		l, err := dyn.Resource(k.gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			out[k.kind+"/"+o.GetName()] = o.GetResourceVersion()
		}
	}
	return out, nil
}

// changed counts the objects whose resourceVersion moved or that went.
func changed(before, after map[string]string) int {
	n := 0
	for k, v := range before {
		if after[k] != v {
			n++
		}
	}
	return n
}

func applied(u *unstructured.Unstructured) string {
	rev, _, _ := unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	return rev
}

// waitKustomization polls a Kustomization until done says so.
func waitKustomization(ctx context.Context, ks dynamic.ResourceInterface, name string, timeout time.Duration, done func(*unstructured.Unstructured) bool) (*unstructured.Unstructured, error) {
	var last *unstructured.Unstructured
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		u, err := ks.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		if last = u; done(u) {
			return u, nil
		}
	}
	status := ""
	if last != nil {
		conds, _, _ := unstructured.NestedSlice(last.Object, "status", "conditions")
		status = fmt.Sprint(conds)
	}
	return nil, fmt.Errorf("kustomization %s not done after %s: %s", name, timeout, status)
}

// waitHandled reads the watch until the Kustomization's
// status.lastHandledReconcileAt is stamp.
func waitHandled(w watch.Interface, stamp string, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed waiting for lastHandledReconcileAt %s", stamp)
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			if got, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt"); got == stamp {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("lastHandledReconcileAt never became %s", stamp)
		}
	}
}

var requestLine = regexp.MustCompile(`^apiserver_request_total\{(.*)\} ([0-9.e+]+)$`)

// requestCounts reads the API server's apiserver_request_total, by
// "VERB resource[/subresource]".
func requestCounts(ctx context.Context, cs kubernetes.Interface) (map[string]float64, error) {
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := requestLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(m[1], ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		key := labels["verb"] + " " + labels["resource"]
		if labels["subresource"] != "" {
			key += "/" + labels["subresource"]
		}
		n, _ := strconv.ParseFloat(m[2], 64)
		out[key] += n
	}
	return out, sc.Err()
}

// requestSummary describes the requests between two readings: every
// mutating one (total), and the reads per resync.
func requestSummary(before, after map[string]float64, resyncs int) (mutating, reads string) {
	var mut, rd []string
	keys := make([]string, 0, len(after))
	for k := range after {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d := after[k] - before[k]
		if d <= 0 {
			continue
		}
		verb := strings.SplitN(k, " ", 2)[0]
		switch verb {
		case "WATCH":
		case "GET", "LIST":
			rd = append(rd, fmt.Sprintf("%s %.1f", k, d/float64(resyncs)))
		default:
			mut = append(mut, fmt.Sprintf("%s %.0f", k, d))
		}
	}
	if len(mut) == 0 {
		mut = []string{"none"}
	}
	return strings.Join(mut, ", "), strings.Join(rd, ", ")
}

func percentileF(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	return s[int(p/100*float64(len(s)-1)+0.5)]
}
