package e2e

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
)

// gitopsWeb is a Deployment whose pods serve "<version> <pod name>" with
// busybox httpd on 8080, so every answer through the Service says which
// version and which pod gave it. The readiness probe keeps a pod out of
// the Service until httpd answers.
func gitopsWeb(image, version string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: gitops-web}
  template:
    metadata:
      labels: {app: gitops-web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        env:
        - {name: VERSION, value: %s}
        command: ["sh", "-c", "mkdir -p /www && echo \"$VERSION $(hostname)\" > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
`, image, version)
}

// The Service names its port's protocol; see gitsyncService.
const gitopsWebService = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector: {app: gitops-web}
  ports:
  - port: 80
    targetPort: 8080
    protocol: TCP
`

func gitopsCanary(image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: canary
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: gitops-canary}
  template:
    metadata:
      labels: {app: gitops-canary}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: sleep
        image: %s
        command: ["sleep", "3600"]
`, image)
}

// gitopsMalformed is not YAML: line 8's key is less indented than the
// map it follows on line 7.
const gitopsMalformed = `apiVersion: v1
kind: ConfigMap
metadata:
  name: bad
  namespace: default
data:
   v: one
  w: two
`

// gitopsRejected decodes, but the API server refuses it (422): a port
// out of range.
const gitopsRejected = `apiVersion: v1
kind: Service
metadata:
  name: bad
  namespace: default
spec:
  ports:
  - port: 99999
    protocol: TCP
`

// TestGitOpsDockerFileRepo is the acceptance 1 on the real Docker
// engine (`skiff up`): a file:// repository made with the git CLI, synced
// by the server's GitRepository and Kustomization controllers (fsnotify
// on the repository's refs; the Kustomization's interval is 2 s), its
// Deployment's pods serving through a ClusterIP Service, checked by
// traffic from the host. A new image and version roll out and the new
// version is served; a deleted file's Deployment is pruned with its pods;
// `kubectl scale` behind GitOps' back is undone at the next interval; a
// commit with malformed YAML in one file, and one with an object the API
// server rejects (422), apply nothing (their version change included):
// Ready=False names the file and line, and the same old pods keep serving
// the old version; the fix is applied and served.
func TestGitOpsDockerFileRepo(t *testing.T) {
	img := busybox(t)
	// A second image for the upgrade: another local tag of busybox, as
	// there is no registry. Its cleanup runs after startUp's (removing
	// the containers that use it).
	img2 := "busybox:" + uniqueName("gitops")
	docker(t, "tag", img, img2)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", img2).Run() })
	testStart := time.Now()
	s, cs, _ := startUp(t)
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &gitsyncEnv{t: t, s: s, cs: cs, dyn: dyn, k: newKubectl(t, s, "")}
	ctx := context.Background()

	repo := newGitRepo(t)
	head := repo.commit("v1", map[string]string{
		"deploy/web.yaml":    gitopsWeb(img, "v1"),
		"deploy/svc.yaml":    gitopsWebService,
		"deploy/canary.yaml": gitopsCanary(img),
	})
	rev := "master@sha1:" + head
	ks := kustomizationYAML("app", "app", "./deploy", "  wait: true\n")
	ks = strings.Replace(strings.Replace(ks, "interval: 10m", "interval: 2s", 1), "timeout: 30s", "timeout: 90s", 1)
	e.apply(gitRepositoryYAML("app", "file://"+repo.dir, "") + "---\n" + ks)

	// webPods returns the Ready pods of web, by name, with their VERSION.
	webPods := func() map[string]string {
		t.Helper()
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=gitops-web"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && podReady(&p) == nil {
				out[p.Name] = p.Spec.Containers[0].Env[0].Value
			}
		}
		return out
	}
	var url string
	// answers sends n requests through the Service from the host.
	answers := func(n int) []string {
		c := pxHTTPClient()
		var out []string
		for range n {
			got, err := pxGet(c, url)
			if err != nil {
				got = "ERROR " + err.Error()
			}
			out = append(out, got)
		}
		return out
	}
	// servedOnlyBy checks that every answer is "<version> <pod>" from one
	// of pods, all serving version.
	servedOnlyBy := func(got []string, version string, pods map[string]string) error {
		for _, a := range got {
			v, pod, _ := strings.Cut(a, " ")
			if v != version || pods[pod] != version {
				return fmt.Errorf("answer %q, want %s from one of %v (all answers: %q)", a, version, pods, got)
			}
		}
		return nil
	}
	// waitServed waits until the Deployment is rolled out at version and
	// the Service answers only from its pods; it returns them.
	waitServed := func(version string) map[string]string {
		t.Helper()
		var pods map[string]string
		eventually(t, 90*time.Second, func() error {
			d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if err := rolledOut(d); err != nil {
				return err
			}
			pods = webPods()
			if len(pods) != 2 {
				return fmt.Errorf("%d Ready pods: %v", len(pods), pods)
			}
			return servedOnlyBy(answers(10), version, pods)
		})
		return pods
	}
	step := time.Now()
	lap := func(what string) {
		t.Logf("FIGURE %s: %s", what, time.Since(step).Round(time.Millisecond))
		step = time.Now()
	}

	t.Run("first commit: pods running, served through the Service", func(t *testing.T) {
		e.waitApplied("app", rev, 120*time.Second)
		svc, err := cs.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		url = "http://" + svc.Spec.ClusterIP + "/"
		pods := waitServed("v1")
		t.Logf("v1 served by %v", slices.Sorted(maps.Keys(pods)))
		eventually(t, 60*time.Second, func() error {
			d, err := cs.AppsV1().Deployments("default").Get(ctx, "canary", metav1.GetOptions{})
			if err != nil {
				return err
			}
			return rolledOut(d)
		})
		lap("commit v1 -> serving (first sync, 3 pods started)")
	})

	t.Run("a new image and version: rolled out, new version served", func(t *testing.T) {
		head = repo.commit("v2", map[string]string{"deploy/web.yaml": gitopsWeb(img2, "v2")})
		rev = "master@sha1:" + head
		e.waitApplied("app", rev, 90*time.Second)
		pods := waitServed("v2")
		for name := range pods {
			p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Spec.Containers[0].Image != img2 || !strings.Contains(p.Status.ContainerStatuses[0].Image, img2) {
				t.Fatalf("pod %s runs %s (status %s), want %s", name, p.Spec.Containers[0].Image, p.Status.ContainerStatuses[0].Image, img2)
			}
		}
		lap("commit v2 (new image) -> rolled out and served")
	})

	t.Run("a deleted file: its Deployment and pods pruned", func(t *testing.T) {
		head = repo.commit("drop canary", map[string]string{"deploy/canary.yaml": ""})
		rev = "master@sha1:" + head
		e.waitApplied("app", rev, 60*time.Second)
		if _, err := cs.AppsV1().Deployments("default").Get(ctx, "canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("deployment canary not pruned: %v", err)
		}
		eventually(t, 60*time.Second, func() error {
			list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=gitops-canary"})
			if err != nil {
				return err
			}
			if len(list.Items) > 0 {
				return fmt.Errorf("%d canary pods left", len(list.Items))
			}
			return nil
		})
		lap("commit deleting a file -> Deployment and pods gone")
	})

	t.Run("kubectl scale behind GitOps' back: corrected at the next interval", func(t *testing.T) {
		before, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e.k.must("scale", "deployment/web", "--replicas=1")
		scaled := time.Now()
		// Back at git's 2, and through two spec changes (the scale and
		// its undoing): the scale did happen, GitOps reverted it.
		eventually(t, 30*time.Second, func() error {
			d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if *d.Spec.Replicas != 2 || d.Generation < before.Generation+2 {
				return fmt.Errorf("spec.replicas %d at generation %d (was %d), want git's 2 after the scale", *d.Spec.Replicas, d.Generation, before.Generation)
			}
			return nil
		})
		t.Logf("spec.replicas back to 2 after %s (interval 2s)", time.Since(scaled).Round(time.Millisecond))
		waitServed("v2")
		if got := str(e.get(ksGVR, "app"), "status", "lastAppliedRevision"); got != rev {
			t.Fatalf("lastAppliedRevision %q: the correction must come from the same revision %q", got, rev)
		}
		lap("kubectl scale -> corrected and served by 2 pods")
	})

	// broken commits a change of version together with a bad file, waits
	// for the Kustomization to report it, and proves nothing was applied:
	// the Deployment is untouched and the same pods serve the old version.
	broken := func(t *testing.T, bad, reason string, msgHas ...string) {
		t.Helper()
		before, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods := webPods()
		head = repo.commit("v3 with a bad file", map[string]string{"deploy/web.yaml": gitopsWeb(img2, "v3"), "deploy/bad.yaml": bad})
		badRev := "master@sha1:" + head
		eventually(t, 30*time.Second, func() error {
			ks := e.get(ksGVR, "app")
			st, rs, msg := cond(ks, "Ready")
			if st != "False" || rs != reason || str(ks, "status", "lastAttemptedRevision") != badRev {
				return fmt.Errorf("Ready=%s %s %q, lastAttemptedRevision %q", st, rs, msg, str(ks, "status", "lastAttemptedRevision"))
			}
			for _, want := range msgHas {
				if !regexp.MustCompile(want).MatchString(msg) {
					return fmt.Errorf("Ready message %q does not match %q", msg, want)
				}
			}
			t.Logf("Ready=False %s: %s", rs, msg)
			return nil
		})
		// Two more intervals: a retry must not apply part of it either.
		time.Sleep(4 * time.Second)
		after, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.Generation != before.Generation || after.Spec.Template.Spec.Containers[0].Env[0].Value != "v2" {
			t.Fatalf("deployment changed by a broken revision: generation %d -> %d, VERSION %s",
				before.Generation, after.Generation, after.Spec.Template.Spec.Containers[0].Env[0].Value)
		}
		if got := str(e.get(ksGVR, "app"), "status", "lastAppliedRevision"); got != rev {
			t.Fatalf("lastAppliedRevision %q, want the last good %q", got, rev)
		}
		// The old pods keep serving, every request answered.
		got := answers(20)
		if err := servedOnlyBy(got, "v2", pods); err != nil {
			t.Fatal(err)
		}
		if now := webPods(); !maps.Equal(now, pods) {
			t.Fatalf("pods changed: %v -> %v", pods, now)
		}
	}

	t.Run("malformed YAML in one file: nothing applied, file and line named, old pods serve", func(t *testing.T) {
		broken(t, gitopsMalformed, "BuildFailed", `deploy/bad\.yaml:8\b`)
		lap("malformed commit -> reported, old version still served")
	})

	t.Run("an object the server rejects (422): nothing applied, old pods serve", func(t *testing.T) {
		broken(t, gitopsRejected, "ReconciliationFailed", `deploy/bad\.yaml:1\b`, `Invalid`, `99999`)
		lap("rejected commit -> reported, old version still served")
	})

	t.Run("the fix is applied and served", func(t *testing.T) {
		head = repo.commit("fix", map[string]string{"deploy/bad.yaml": ""})
		rev = "master@sha1:" + head
		e.waitApplied("app", rev, 90*time.Second)
		waitServed("v3")
		if _, err := cs.CoreV1().Services("default").Get(ctx, "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("service bad exists: %v", err)
		}
		lap("fix commit -> v3 rolled out and served")
	})
	t.Logf("FIGURE whole test (cluster start included): %s", time.Since(testStart).Round(time.Millisecond))
}

// rolledOut is kstatus's check for a Deployment: the controller saw the
// latest spec and every replica is updated and available.
func rolledOut(d *appsv1.Deployment) error {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.AvailableReplicas != want || s.Replicas != want {
		return fmt.Errorf("deployment %s: generation %d observed %d, replicas %d updated %d available %d, want %d",
			d.Name, d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.AvailableReplicas, want)
	}
	return nil
}
