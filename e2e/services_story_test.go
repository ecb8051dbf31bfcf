package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestServicesUserStory is issue 6's user story, typed as a user types it
// with the stock kubectl 1.27, 1.32 and 1.33 against `skiff up` on the
// real Docker engine: create a Deployment whose three pods each serve
// their own hostname, expose it as a NodePort, then reach it from the
// host (NodePort on 127.0.0.1 and ClusterIP, 300 requests each, spread
// over the three pods, none failing), from a pod started with `kubectl
// run --rm -i` (cluster DNS + ClusterIP, through attach), through
// `kubectl port-forward svc/…`, and exec into a pod. Scaled to zero, the
// Service refuses at once; scaled back, it serves again as soon as the
// pods are Ready.
func TestServicesUserStory(t *testing.T) {
	s, cs, node := startUp(t)
	id := clusterIDOf(t, s)
	img := busybox(t)
	t.Run("the kubernetes Service reaches the API server", func(t *testing.T) {
		// What in-cluster clients use: 10.96.0.1:443, DNATed to the
		// listener the server opens on the pod network's gateway.
		cfg, err := s.RESTConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Host, cfg.TLSClientConfig.ServerName = "https://10.96.0.1:443", "kubernetes.default.svc"
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			_, err := c.Discovery().ServerVersion()
			return err
		})
	})
	for _, minor := range []string{"1.27", "1.32", "1.33"} {
		t.Run("kubectl "+minor, func(t *testing.T) {
			k := newKubectl(t, s, minor)
			servicesStory(t, k, cs, id, node, img, "web"+strings.ReplaceAll(minor, ".", ""))
		})
	}
}

func servicesStory(t *testing.T, k *kubectl, cs *kubernetes.Clientset, clusterID, node, img, name string) {
	ctx := context.Background()
	// busybox httpd serves files; each pod writes its hostname (the pod's
	// name) as the index, so an answer names the pod that gave it. The
	// shell stays PID 1 and exits on SIGTERM, as a real server does:
	// httpd as PID 1 would ignore SIGTERM and each scale-down would wait
	// out the 30 s grace period for the SIGKILL.
	kubectlOK(t, k, "create", "deployment", name, "--image="+img, "--replicas=3", "--",
		"sh", "-c", "mkdir -p /www && hostname > /www/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait")
	kubectlOK(t, k, "expose", "deploy/"+name, "--port=80", "--target-port=8080", "--type=NodePort")
	kubectlOK(t, k, "rollout", "status", "deploy/"+name, "--timeout=180s")

	podNames := storyPodNames(t, cs, name, 3)
	svc, err := cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodePortURL := fmt.Sprintf("http://127.0.0.1:%d/", svc.Spec.Ports[0].NodePort)
	clusterIPURL := fmt.Sprintf("http://%s/", svc.Spec.ClusterIP)
	// The rules follow the EndpointSlice a moment after the pods are
	// Ready: wait until they send to all three, so the spread is fair.
	var ips []string
	for _, p := range podNames {
		pod, err := cs.CoreV1().Pods("default").Get(ctx, p, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, pod.Status.PodIP)
	}
	pxWaitDNAT(t, clusterID, node, "default/"+name, ips, 8080)

	t.Run("NodePort on 127.0.0.1: 300 requests over the 3 pods", func(t *testing.T) {
		pxAssertSpread(t, "NodePort", pxFromHost(t, nodePortURL, 300), podNames, 300)
	})
	t.Run("ClusterIP from the host: 300 requests over the 3 pods", func(t *testing.T) {
		pxAssertSpread(t, "ClusterIP", pxFromHost(t, clusterIPURL, 300), podNames, 300)
	})
	t.Run("kubectl run --rm -i: the Service by its DNS name from a pod", func(t *testing.T) {
		out := kubectlOK(t, k, "run", "c"+name, "--rm", "-i", "--restart=Never", "--image="+img, "--",
			"wget", "-qO-", "http://"+name+".default.svc.cluster.local")
		if !storyNamesOnePod(out, podNames) {
			t.Fatalf("kubectl run printed %q, want one of the pods %v", out, podNames)
		}
	})
	t.Run("kubectl port-forward svc", func(t *testing.T) {
		port := startPortForward(t, k, "svc/"+name, ":80")
		got, err := httpGet("http://127.0.0.1:" + port + "/")
		if err != nil || !storyNamesOnePod(got, podNames) {
			t.Fatalf("through port-forward: %q %v, want one of %v", got, err, podNames)
		}
	})
	t.Run("kubectl exec: exit code", func(t *testing.T) {
		_, _, code := k.run("exec", podNames[0], "--", "sh", "-c", "exit 7")
		if code != 7 {
			t.Fatalf("kubectl exec … exit 7: exit %d", code)
		}
	})
	t.Run("scale to 0 refuses at once, scale back serves", func(t *testing.T) {
		kubectlOK(t, k, "scale", "deploy/"+name, "--replicas=0")
		addr := strings.TrimSuffix(strings.TrimPrefix(nodePortURL, "http://"), "/")
		eventually(t, 60*time.Second, func() error {
			start := time.Now()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err == nil {
				c.Close()
				return fmt.Errorf("NodePort still accepts connections")
			}
			// Until the pods are gone their endpoints are serving and
			// terminating, and the proxy still sends new connections
			// to them, as kube-proxy does; a connection the dying
			// listener had accepted is reset as its process exits.
			// That is the old endpoint, not the empty Service: wait on.
			if errors.Is(err, syscall.ECONNRESET) {
				return fmt.Errorf("NodePort reached a pod as it was killed: %v", err)
			}
			if !pxRefused(err) {
				t.Fatalf("NodePort without endpoints: %v after %v, want connection refused at once", err, time.Since(start))
			}
			return nil
		})
		kubectlOK(t, k, "scale", "deploy/"+name, "--replicas=3")
		kubectlOK(t, k, "rollout", "status", "deploy/"+name, "--timeout=180s")
		ready := time.Now()
		storyWaitServed(t, nodePortURL, 30*time.Second)
		// The issue asks for ≤ 2 s; timings are not asserted on shared
		// machines (the deadline above only bounds a broken test).
		t.Logf("served again %v after the rollout reported the pods Ready", time.Since(ready).Round(time.Millisecond))
	})
	kubectlOK(t, k, "delete", "deploy/"+name, "svc/"+name)
}

// storyPodNames waits for the Deployment's n pods to be Ready and returns
// their names (their hostnames).
func storyPodNames(t *testing.T, cs *kubernetes.Clientset, app string, n int) []string {
	t.Helper()
	var names []string
	eventually(t, 120*time.Second, func() error {
		list, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return err
		}
		names = names[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && podReady(&p) == nil {
				names = append(names, p.Name)
			}
		}
		if len(names) != n {
			return fmt.Errorf("%d of %d pods of %s Ready", len(names), n, app)
		}
		return nil
	})
	return names
}

// storyWaitServed waits until url answers 200.
func storyWaitServed(t *testing.T, url string, within time.Duration) {
	t.Helper()
	c := pxHTTPClient()
	eventually(t, within, func() error {
		_, err := pxGet(c, url)
		return err
	})
}

// storyNamesOnePod reports whether out (kubectl's output, which may carry
// a `pod "c" deleted` line) contains exactly one of the pods' names.
func storyNamesOnePod(out string, pods []string) bool {
	found := 0
	for _, p := range pods {
		if strings.Contains(out, p) {
			found++
		}
	}
	return found == 1
}
