package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/e2e/images"
	"github.com/skiff-dev/skiff/nodeagent"
	"github.com/skiff-dev/skiff/nodeagent/proxy"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// busybox makes sure the busybox:local image exists.
func busybox(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img, err := images.Busybox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%06x", prefix, rand.IntN(1<<24))
}

// clusterIDOf reads the cluster identity from a server's node token.
func clusterIDOf(t *testing.T, s *cluster.Server) string {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(s.DataDir(), "node-token"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := nodeagent.ClusterIDOfToken(strings.TrimSpace(string(tok)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// removeClusterContainers removes every container of a cluster, so a test
// leaves the engine as it found it.
func removeClusterContainers(t *testing.T, id string) {
	rt, err := runtime.NewDocker(runtime.DockerOptions{})
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Twice: a create the killed agent had sent may still complete in
	// the engine after the first listing (a container left "Created"
	// was seen after a run).
	for pass := 0; pass < 2; pass++ {
		if pass > 0 {
			time.Sleep(time.Second)
		}
		cs, err := rt.ListContainers(ctx, map[string]string{runtime.LabelManaged: "true", runtime.LabelCluster: id})
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		for _, c := range cs {
			_ = rt.RemoveContainer(ctx, c.ID)
		}
	}
	// The agents' Service rules outlive them (so Services survive an
	// agent restart); the test's cluster is gone, so are they.
	if err := proxy.CleanupCluster(id); err != nil {
		t.Logf("cleanup: %v", err)
	}
}

// startUp runs `skiff up` (control plane and one node agent) with a
// unique node name, and removes its containers when the test ends.
func startUp(t *testing.T, args ...string) (*cluster.Server, *kubernetes.Clientset, string) {
	t.Helper()
	busybox(t)
	node := uniqueName("up")
	s, err := cluster.Start(cluster.Options{Bin: skiffBin, DataDir: filepath.Join(t.TempDir(), "data"), Subcommand: "up",
		Args: append([]string{"--node-name", node}, args...)})
	if err != nil {
		t.Fatal(err)
	}
	id := clusterIDOf(t, s)
	t.Cleanup(func() {
		s.Kill()
		removeClusterContainers(t, id)
		if t.Failed() {
			t.Logf("skiff up log:\n%s", tail(s.Log(), 6000))
		}
	})
	cs := clientset(t, s)
	waitNodeReady(t, cs, node)
	return s, cs, node
}

func waitNodeReady(t *testing.T, cs *kubernetes.Clientset, node string) {
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("node %s not Ready: %+v", node, n.Status.Conditions)
	})
}

// waitPod waits until cond holds for the pod and returns it.
func waitPod(t *testing.T, cs *kubernetes.Clientset, ns, name string, timeout time.Duration, cond func(*corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	eventually(t, timeout, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		last = p
		return cond(p)
	})
	return last
}

func podRunning(p *corev1.Pod) error {
	if p.Status.Phase != corev1.PodRunning {
		return fmt.Errorf("phase %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
	}
	return nil
}

func podReady(p *corev1.Pod) error {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("not Ready: phase %s, conditions %+v", p.Status.Phase, p.Status.Conditions)
}

func restartCount(p *corev1.Pod, container string) int32 {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == container {
			return s.RestartCount
		}
	}
	return -1
}

func containerID(p *corev1.Pod, container string) string {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == container {
			return strings.TrimPrefix(s.ContainerID, "docker://")
		}
	}
	return ""
}

func waitingReason(p *corev1.Pod, container string) string {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == container && s.State.Waiting != nil {
			return s.State.Waiting.Reason
		}
	}
	return ""
}

func sleeperPod(name, image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptrInt64(1),
			Containers:                    []corev1.Container{{Name: "main", Image: image, Command: []string{"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"}}},
		},
	}
}

func ptrInt64(n int64) *int64 { return &n }

// fakeNodes joins n simulated nodes (skiff agent --runtime fake) to a
// server: their pods turn Running (and Ready, without probes) at once, no
// Docker involved. It returns the node names once all are Ready.
func fakeNodes(t *testing.T, s *cluster.Server, n int) []string {
	t.Helper()
	cs := clientset(t, s)
	var names []string
	for i := 0; i < n; i++ {
		name := uniqueName(fmt.Sprintf("fake%d", i))
		a, err := cluster.StartAgent(cluster.AgentOptions{Bin: skiffBin, Server: s, NodeName: name,
			DataDir: filepath.Join(t.TempDir(), name), Args: []string{"--runtime", "fake", "--node-ip", "127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			a.Kill()
			if t.Failed() {
				t.Logf("fake agent %s log:\n%s", name, tail(a.Log(), 3000))
			}
		})
		names = append(names, name)
	}
	for _, name := range names {
		waitNodeReady(t, cs, name)
	}
	return names
}
