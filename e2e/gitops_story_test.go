package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGitPushDeploys is issue 7's first user story end to end, with every
// piece real: the stock git client pushes to the server's built-in
// remote, the push creates the GitRepository and Kustomization, the
// GitOps controllers fetch, render and apply, and `git push` prints what
// was applied before it returns. A second push changes a field and drops
// a file: applied and pruned. Pods run on a simulated node, so no Docker
// is needed.
func TestGitPushDeploys(t *testing.T) {
	s := startServer(t)
	fakeNodes(t, s, 1)
	cs := clientset(t, s)
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	g := newGitCLI(t, s)
	auth := "http.extraHeader=Authorization: Bearer " + cfg.BearerToken
	work := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g.must(work, "init", "-q", "-b", "main")
	write("web.yaml", storyDeployment(2))
	write("settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n")
	g.must(work, "add", ".")
	g.must(work, "commit", "-q", "-m", "web")
	g.must(work, "remote", "add", "skiff", s.URL+"/git/default/shop.git")

	applied := regexp.MustCompile(`remote: .*Applied revision: main@sha1:([0-9a-f]{40})`)
	head := func() string { return strings.TrimSpace(g.must(work, "rev-parse", "HEAD")) }

	start := time.Now()
	out := g.must(work, "-c", auth, "push", "skiff", "main")
	t.Logf("first push, deployed, in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	if m := applied.FindStringSubmatch(out); m == nil || m[1] != head() {
		t.Fatalf("the push does not report revision main@sha1:%s applied:\n%s", head(), out)
	}
	ctx := context.Background()
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 2 {
		t.Fatalf("deployment after the push: %v %v", d, err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	k := newKubectl(t, s, "1.33")
	k.must("wait", "--for=condition=Ready", "kustomization/shop", "--timeout=60s")
	if out := k.must("get", "gitrepositories,kustomizations"); !strings.Contains(out, "main@sha1:"+head()) {
		t.Errorf("kubectl get gitrepositories,kustomizations does not show the revision:\n%s", out)
	}

	// A change and a removal, pushed: the replicas follow, the ConfigMap
	// whose file went is pruned.
	write("web.yaml", storyDeployment(3))
	g.must(work, "rm", "-q", "settings.yaml")
	g.must(work, "commit", "-q", "-am", "scale, drop settings")
	start = time.Now()
	out = g.must(work, "-c", auth, "push", "skiff", "main")
	t.Logf("second push, deployed, in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	if m := applied.FindStringSubmatch(out); m == nil || m[1] != head() {
		t.Fatalf("the second push does not report its revision applied:\n%s", out)
	}
	for _, want := range []string{"Deployment/default/web configured", "ConfigMap/default/settings deleted"} {
		if !strings.Contains(out, "remote:   "+want) {
			t.Errorf("the second push does not say %q:\n%s", want, out)
		}
	}
	if d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 3 {
		t.Errorf("deployment after the second push: %v", err)
	}
	eventually(t, 30*time.Second, func() error {
		_, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "settings", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("the removed ConfigMap is still there (%v)", err)
	})
	// The Deployment's pods run on the simulated node.
	eventually(t, 60*time.Second, func() error {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.AvailableReplicas != 3 {
			return fmt.Errorf("%d of 3 replicas available", d.Status.AvailableReplicas)
		}
		return nil
	})
}

func storyDeployment(replicas int) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ` + strconv.Itoa(replicas) + `
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: busybox:local
        command: ["sleep", "3600"]
`
}
