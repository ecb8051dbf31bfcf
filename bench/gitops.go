package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/e2e/images"
)

// benchGitOpsLoop is the local git loop: a change committed (to a file://
// repo the cluster watches) or pushed (to the built-in remote) until the
// new version serves through its Service, against `kubectl apply -f` of
// the same change in the same run. Each way has its own Deployment and
// Service (one replica of busybox httpd answering its VERSION), and the
// three are interleaved, so load on the machine falls on all alike. The
// clock stops at the first answer with the new version through the
// ClusterIP: the new pod is Ready and the proxy routes to it.
func benchGitOpsLoop(e *env) ([]Result, error) {
	runs := 20
	if e.quick {
		runs = 5
	}
	ctx := context.Background()
	img, err := images.Busybox(ctx)
	if err != nil {
		return nil, err
	}
	kubectl, err := cluster.Kubectl("1.33")
	if err != nil {
		return nil, err
	}
	c, err := startUp(e, "gitops")
	if err != nil {
		return nil, err
	}
	defer c.close()
	kubeconfig := c.s.Kubeconfig()
	gitEnv := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+e.tmp, "GIT_TERMINAL_PROMPT=0",
		"GIT_SSL_CAINFO="+filepath.Join(c.s.DataDir(), "tls", "ca.crt"),
		"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=b@example.com", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=b@example.com")
	run := func(dir, name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, gitEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	writeApp := func(dir, name, version string) error {
		return os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(gitopsApp(name, img, version)), 0o644)
	}

	// The three ways, each with its own working copy.
	applyDir := filepath.Join(e.tmp, "gitops-apply")
	fileRepo := filepath.Join(e.tmp, "gitops-file")
	pushRepo := filepath.Join(e.tmp, "gitops-push")
	for _, d := range []string{applyDir, fileRepo, pushRepo} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, d := range []struct{ dir, name string }{{fileRepo, "web-file"}, {pushRepo, "web-push"}} {
		if err := writeApp(d.dir, d.name, "v0"); err != nil {
			return nil, err
		}
		for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "v0"}} {
			if err := run(d.dir, "git", args...); err != nil {
				return nil, err
			}
		}
	}
	sources := fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: web-file, namespace: default}
spec: {url: "file://%s", ref: {branch: main}, interval: 10m}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: web-file, namespace: default}
spec: {sourceRef: {kind: GitRepository, name: web-file}, path: ./, prune: true, interval: 10m, targetNamespace: default}
`, fileRepo)
	if err := os.WriteFile(filepath.Join(e.tmp, "gitops-sources.yaml"), []byte(sources), 0o644); err != nil {
		return nil, err
	}
	if err := run(e.tmp, kubectl, "--kubeconfig", kubeconfig, "apply", "-f", filepath.Join(e.tmp, "gitops-sources.yaml")); err != nil {
		return nil, err
	}
	auth := "http.extraHeader=Authorization: Bearer " + c.cfg.BearerToken
	if err := run(pushRepo, "git", "remote", "add", "skiff", c.s.URL+"/git/default/web-push.git"); err != nil {
		return nil, err
	}
	if err := run(pushRepo, "git", "-c", auth, "push", "-q", "skiff", "main"); err != nil {
		return nil, err
	}
	if err := writeApp(applyDir, "web-apply", "v0"); err != nil {
		return nil, err
	}
	if err := run(applyDir, kubectl, "--kubeconfig", kubeconfig, "apply", "-f", "app.yaml"); err != nil {
		return nil, err
	}
	urls := map[string]string{}
	for _, name := range []string{"web-apply", "web-file", "web-push"} {
		var ip string
		for deadline := time.Now().Add(2 * time.Minute); ip == ""; time.Sleep(100 * time.Millisecond) {
			if svc, err := c.cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{}); err == nil {
				ip = svc.Spec.ClusterIP
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("service %s never appeared", name)
			}
		}
		urls[name] = "http://" + ip + "/"
		if _, err := waitVersion(urls[name], "v0", 2*time.Minute); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}

	type way struct {
		name   string
		change func(version string) error
	}
	ways := []way{
		{"web-apply", func(v string) error {
			if err := writeApp(applyDir, "web-apply", v); err != nil {
				return err
			}
			return run(applyDir, kubectl, "--kubeconfig", kubeconfig, "apply", "-f", "app.yaml")
		}},
		{"web-file", func(v string) error {
			if err := writeApp(fileRepo, "web-file", v); err != nil {
				return err
			}
			return run(fileRepo, "git", "commit", "-q", "-am", v)
		}},
		{"web-push", func(v string) error {
			if err := writeApp(pushRepo, "web-push", v); err != nil {
				return err
			}
			if err := run(pushRepo, "git", "commit", "-q", "-am", v); err != nil {
				return err
			}
			return run(pushRepo, "git", "-c", auth, "push", "-q", "-o", "skiff.wait=false", "skiff", "main")
		}},
	}
	took := map[string][]time.Duration{}
	for i := 1; i <= runs; i++ {
		for j := range ways {
			w := ways[(i+j)%len(ways)]
			v := fmt.Sprintf("v%d", i)
			start := time.Now()
			if err := w.change(v); err != nil {
				return nil, fmt.Errorf("%s: %w", w.name, err)
			}
			if _, err := waitVersion(urls[w.name], v, time.Minute); err != nil {
				return nil, fmt.Errorf("%s run %d: %w", w.name, i, err)
			}
			took[w.name] = append(took[w.name], time.Since(start))
		}
	}
	base := percentile(took["web-apply"], 50)
	var out []Result
	for _, w := range []struct{ name, what string }{{"web-file", "commit to a file:// repo"}, {"web-push", "git push to the built-in remote"}} {
		p50, p99 := percentile(took[w.name], 50), percentile(took[w.name], 99)
		overhead := p50 - base
		out = append(out, Result{
			Scenario: "gitops/commit-to-serving", Metric: w.what + " → new version serving through its Service, p50", Unit: "ms",
			Ours: ms(p50), Baseline: ms(base), BaselineName: "kubectl apply -f", Ratio: float64(p50) / float64(base),
			Target: "p50 ≤ 2000 ms, ≤ 500 ms over kubectl apply (Argo CD polls every 120–180 s, Flux 1 min, Fleet 15 s)",
			Met:    p50 <= 2*time.Second && overhead <= 500*time.Millisecond,
			Note: fmt.Sprintf("p99 %.0f ms (kubectl apply p99 %.0f ms); overhead over apply p50 %+.0f ms; %d runs each, interleaved; a 1-replica Deployment rolling to a new pod",
				ms(p99), ms(percentile(took["web-apply"], 99)), ms(overhead), runs),
		})
	}
	return out, nil
}

// gitopsApp is a Deployment answering version over HTTP, and its Service.
func gitopsApp(name, image, version string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %[2]s
        env: [{name: VERSION, value: "%[3]s"}]
        command: ["sh", "-c", "mkdir -p /www && echo $VERSION > /www/index.html && exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector: {app: %[1]s}
  ports:
  - {port: 80, targetPort: 8080, protocol: TCP}
`, name, image, version)
}

// waitVersion polls url until it answers version.
func waitVersion(url, version string, timeout time.Duration) (time.Duration, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	last := ""
	for time.Since(start) < timeout {
		if resp, err := c.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = strings.TrimSpace(string(b))
			if last == version {
				return time.Since(start), nil
			}
		} else {
			last = err.Error()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s did not answer %s within %s (last: %s)", url, version, timeout, last)
}
