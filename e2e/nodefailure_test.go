package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// TestDeadNodesPodsMoveToTheLiveOne is issue 5's acceptance 4: kill -9 one
// of two agents (its containers keep running, as on a node that lost its
// network). The node goes Unknown and gets the unreachable taint, its
// pods are evicted when their (shortened) default toleration runs out,
// the Deployment's replacements run on the other node, and the old pods
// stay Terminating (nobody can confirm their containers stopped) until
// the agent comes back, kills the stale containers and lets them go.
func TestDeadNodesPodsMoveToTheLiveOne(t *testing.T) {
	img := busybox(t)
	s := startServer(t,
		"--node-monitor-period=500ms", "--node-monitor-grace-period=5s",
		"--default-unreachable-toleration-seconds=3", "--default-not-ready-toleration-seconds=3")
	id := clusterIDOf(t, s)
	t.Cleanup(func() { removeClusterContainers(t, id) })
	cs := clientset(t, s)
	ctx := context.Background()

	var agents []*cluster.Agent
	var nodes []string
	for i := 0; i < 2; i++ {
		node := uniqueName(fmt.Sprintf("n%d", i))
		a, err := cluster.StartAgent(cluster.AgentOptions{Bin: skiffBin, Server: s, NodeName: node,
			DataDir: filepath.Join(t.TempDir(), node), Args: []string{"--node-status-update-frequency=1s"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			a.Kill()
			if t.Failed() {
				t.Logf("agent %s log:\n%s", node, tail(a.Log(), 3000))
			}
		})
		agents, nodes = append(agents, a), append(nodes, node)
	}
	for _, n := range nodes {
		waitNodeReady(t, cs, n)
	}

	labels := map[string]string{"app": "survivor"}
	pod := sleeperPod("x", img).Spec
	_, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "survivor"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](4), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The scheduler spreads the four replicas two and two.
	var victims []corev1.Pod
	eventually(t, 90*time.Second, func() error {
		pods, err := livePods(cs, labels)
		if err != nil {
			return err
		}
		per := map[string]int{}
		victims = victims[:0]
		for _, p := range pods {
			if err := podRunning(&p); err != nil {
				return fmt.Errorf("%s: %v", p.Name, err)
			}
			per[p.Spec.NodeName]++
			if p.Spec.NodeName == nodes[0] {
				victims = append(victims, p)
			}
		}
		if len(pods) != 4 || per[nodes[0]] == 0 || per[nodes[1]] == 0 {
			return fmt.Errorf("want 4 Running pods on both nodes, have %v", per)
		}
		return nil
	})
	// Every pod got the default tolerations from admission.
	for _, p := range victims {
		if !hasToleration(p, corev1.TaintNodeUnreachable, 3) || !hasToleration(p, corev1.TaintNodeNotReady, 3) {
			t.Fatalf("pod %s tolerations %+v: want the not-ready and unreachable ones with 3 s", p.Name, p.Spec.Tolerations)
		}
	}
	staleContainers := nodeContainers(t, id, nodes[0])
	if len(staleContainers) == 0 {
		t.Fatalf("no containers labelled with node %s", nodes[0])
	}

	agents[0].Kill()
	killedAt := time.Now()

	// The silent node goes Unknown with the unreachable NoExecute taint.
	eventually(t, 30*time.Second, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, nodes[0], metav1.GetOptions{})
		if err != nil {
			return err
		}
		ready := ""
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ready = string(c.Status)
			}
		}
		tainted := slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
			return t.Key == corev1.TaintNodeUnreachable && t.Effect == corev1.TaintEffectNoExecute
		})
		if ready != string(corev1.ConditionUnknown) || !tainted {
			return fmt.Errorf("node %s Ready=%s taints %+v", nodes[0], ready, n.Spec.Taints)
		}
		return nil
	})
	unknownAfter := time.Since(killedAt)
	if unknownAfter < 4*time.Second {
		t.Fatalf("node went Unknown %s after its agent died; the grace period is 5 s", unknownAfter)
	}

	// Its pods are evicted (deleted: Terminating, since no agent can
	// confirm) and replaced on the live node.
	eventually(t, 60*time.Second, func() error {
		for _, v := range victims {
			p, err := cs.CoreV1().Pods("default").Get(ctx, v.Name, metav1.GetOptions{})
			if err != nil {
				continue // already gone is fine too
			}
			if p.DeletionTimestamp == nil {
				return fmt.Errorf("pod %s on the dead node not evicted yet", p.Name)
			}
		}
		pods, err := livePods(cs, labels)
		if err != nil {
			return err
		}
		running := 0
		for _, p := range pods {
			if p.Spec.NodeName != nodes[1] {
				return fmt.Errorf("live pod %s is on %q, want %s", p.Name, p.Spec.NodeName, nodes[1])
			}
			if podRunning(&p) == nil {
				running++
			}
		}
		if running != 4 {
			return fmt.Errorf("%d of 4 replicas Running on %s", running, nodes[1])
		}
		return nil
	})
	evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=TaintManagerEviction"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) == 0 {
		t.Errorf("no TaintManagerEviction events for the evicted pods")
	}
	// The dead node's containers are still there: nobody could stop them.
	if got := nodeContainers(t, id, nodes[0]); len(got) == 0 {
		t.Fatalf("the dead node's containers vanished while its agent was down")
	}

	// The agent comes back: it stops the stale containers, the Terminating
	// pods finish, the node is Ready again and its taint is gone.
	if err := agents[0].Restart(); err != nil {
		t.Fatal(err)
	}
	waitNodeReady(t, cs, nodes[0])
	eventually(t, 60*time.Second, func() error {
		for _, v := range victims {
			if _, err := cs.CoreV1().Pods("default").Get(ctx, v.Name, metav1.GetOptions{}); err == nil {
				return fmt.Errorf("evicted pod %s still exists", v.Name)
			}
		}
		if got := nodeContainers(t, id, nodes[0]); len(got) != 0 {
			return fmt.Errorf("stale containers still on %s: %v", nodes[0], got)
		}
		n, err := cs.CoreV1().Nodes().Get(ctx, nodes[0], metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, tn := range n.Spec.Taints {
			if tn.Key == corev1.TaintNodeUnreachable || tn.Key == corev1.TaintNodeNotReady {
				return fmt.Errorf("node %s still tainted %+v", nodes[0], n.Spec.Taints)
			}
		}
		return nil
	})
	t.Logf("node Unknown %s after kill; pods moved and stale containers removed", unknownAfter.Round(100*time.Millisecond))
}

// livePods are the pods matching labels that are not being deleted.
func livePods(cs *kubernetes.Clientset, labels map[string]string) ([]corev1.Pod, error) {
	var sel []string
	for k, v := range labels {
		sel = append(sel, k+"="+v)
	}
	l, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: strings.Join(sel, ",")})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

func hasToleration(p corev1.Pod, key string, seconds int64) bool {
	return slices.ContainsFunc(p.Spec.Tolerations, func(t corev1.Toleration) bool {
		return t.Key == key && t.Effect == corev1.TaintEffectNoExecute && t.TolerationSeconds != nil && *t.TolerationSeconds == seconds
	})
}

// nodeContainers lists the names of a node's containers in Docker.
func nodeContainers(t *testing.T, clusterID, node string) []string {
	t.Helper()
	rt, err := runtime.NewDocker(runtime.DockerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := rt.ListContainers(ctx, map[string]string{runtime.LabelManaged: "true", runtime.LabelCluster: clusterID, runtime.LabelNode: node})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}
