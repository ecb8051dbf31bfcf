package placement

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/skiff-dev/skiff/scheduler/filter"
	"github.com/skiff-dev/skiff/scheduler/framework"
	"github.com/skiff-dev/skiff/scheduler/score"
)

var update = flag.Bool("update", false, "rewrite the recorded part of the golden scenarios in testdata/")

// A scenario file is a YAML scenario, a line "----", and the recorded
// outcome. Nodes and pods use a shorthand (see nodeSpec and podSpec) so a
// scenario reads like the situation it describes.
type scenario struct {
	Nodes []nodeSpec `json:"nodes"`
	Pods  []podSpec  `json:"pods"`
	Pod   podSpec    `json:"pod"`
	// DefaultSpread is the selector of the pod's service or controller,
	// as the scheduler derives it from the API objects.
	DefaultSpread map[string]string `json:"defaultSpread"`
	// Namespaces maps namespace names to their labels.
	Namespaces map[string]map[string]string `json:"namespaces"`
}

// nodeSpec is a node: allocatable defaults to cpu 4, memory 8Gi, pods 110
// (entries given override those), kubernetes.io/hostname is set to the
// name, and Ready is "True" unless ready says "False", "Unknown" or ""
// (no Ready condition at all).
type nodeSpec struct {
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels"`
	Allocatable   map[string]string `json:"allocatable"`
	Taints        []v1.Taint        `json:"taints"`
	Unschedulable bool              `json:"unschedulable"`
	Ready         *string           `json:"ready"`
	// OmitHostname leaves out the kubernetes.io/hostname label.
	OmitHostname bool `json:"omitHostname"`
	// Conditions are added after Ready (MemoryPressure and so on).
	Conditions []v1.NodeCondition `json:"conditions"`
}

// podSpec is a pod in namespace "default" unless namespace says otherwise.
// requests become the requests of a container "app" added to spec;
// node binds an existing pod.
type podSpec struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Node        string            `json:"node"`
	Labels      map[string]string `json:"labels"`
	Requests    map[string]string `json:"requests"`
	Terminating bool              `json:"terminating"`
	Spec        v1.PodSpec        `json:"spec"`
}

func (n nodeSpec) node(t *testing.T) *v1.Node {
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{v1.LabelHostname: n.Name}}}
	if n.OmitHostname {
		delete(node.Labels, v1.LabelHostname)
	}
	for k, v := range n.Labels {
		node.Labels[k] = v
	}
	alloc := map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"}
	for k, v := range n.Allocatable {
		alloc[k] = v
	}
	node.Status.Allocatable = resourceList(t, alloc)
	node.Status.Capacity = node.Status.Allocatable
	node.Spec.Taints = n.Taints
	node.Spec.Unschedulable = n.Unschedulable
	ready := "True"
	if n.Ready != nil {
		ready = *n.Ready
	}
	if ready != "" {
		node.Status.Conditions = append(node.Status.Conditions, v1.NodeCondition{Type: v1.NodeReady, Status: v1.ConditionStatus(ready)})
	}
	node.Status.Conditions = append(node.Status.Conditions, n.Conditions...)
	return node
}

func (p podSpec) pod(t *testing.T) *v1.Pod {
	ns := p.Namespace
	if ns == "" {
		ns = "default"
	}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: ns, Labels: p.Labels},
		Spec:       *p.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = p.Node
	if p.Requests != nil || len(pod.Spec.Containers) == 0 {
		pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{
			Name:      "app",
			Resources: v1.ResourceRequirements{Requests: resourceList(t, p.Requests)},
		})
	}
	if p.Terminating {
		now := metav1.Now()
		pod.DeletionTimestamp = &now
	}
	return pod
}

func resourceList(t *testing.T, m map[string]string) v1.ResourceList {
	if m == nil {
		return nil
	}
	rl := v1.ResourceList{}
	for k, v := range m {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			t.Fatalf("quantity %s=%q: %v", k, v, err)
		}
		rl[v1.ResourceName(k)] = q
	}
	return rl
}

// build turns a scenario into the decision's input.
func (s *scenario) build(t *testing.T) Input {
	pods := map[string][]*framework.PodInfo{}
	for _, p := range s.Pods {
		pod := p.pod(t)
		if pod.Spec.NodeName == "" {
			t.Fatalf("existing pod %s has no node", p.Name)
		}
		pods[pod.Spec.NodeName] = append(pods[pod.Spec.NodeName], framework.NewPodInfo(pod))
	}
	var infos []*framework.NodeInfo
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].Name < s.Nodes[j].Name })
	for _, n := range s.Nodes {
		infos = append(infos, framework.NewNodeInfo(n.node(t), pods[n.Name]...))
	}
	namespaces := map[string]labels.Set{}
	for name, l := range s.Namespaces {
		namespaces[name] = l
	}
	in := Input{
		Pod:      framework.NewPodInfo(s.Pod.pod(t)),
		Snapshot: framework.NewSnapshot(infos, namespaces),
	}
	if s.DefaultSpread != nil {
		in.DefaultSpread = labels.SelectorFromSet(s.DefaultSpread)
	}
	return in
}

// outcome renders the decision, every node's filter verdict and the
// scores, so a golden file documents why the pod went where it went.
func outcome(t *testing.T, in Input) string {
	var b strings.Builder
	res, err := (&Placer{}).Place(context.Background(), in)
	var fe *filter.FitError
	switch {
	case errors.As(err, &fe):
		fmt.Fprintf(&b, "unschedulable: %s\n", fe.Error())
		fmt.Fprintf(&b, "rejected by: %s\n", fe.RejectedBy)
	case err != nil:
		fmt.Fprintf(&b, "error: %v\n", err)
		return b.String()
	default:
		fmt.Fprintf(&b, "node: %s\n", res.Node)
	}
	fmt.Fprintf(&b, "evaluated: %d feasible: %d\n", res.Evaluated, res.Feasible)
	fc, err := filter.Prepare(in.Pod, in.Snapshot)
	if err != nil {
		t.Fatalf("prepare filters: %v", err)
	}
	b.WriteString("filters:\n")
	for _, n := range in.Snapshot.Nodes() {
		verdict := "fits"
		if st := fc.Check(n); st != nil {
			verdict = st.String()
		}
		fmt.Fprintf(&b, "  %s: %s\n", n.Name(), verdict)
	}
	if len(res.Scores) > 0 {
		b.WriteString("scores:\n")
		for _, s := range res.Scores {
			fmt.Fprintf(&b, "  %s: total=%d", s.Name, s.Total)
			for p := score.Plugin(0); p < score.NumPlugins; p++ {
				fmt.Fprintf(&b, " %s=%d", p, s.Plugins[p])
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

const separator = "----\n"

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in testdata/: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, found := strings.Cut(string(data), "\n"+separator)
			if !found {
				t.Fatalf("%s: no %q line between scenario and outcome", file, strings.TrimSpace(separator))
			}
			var s scenario
			if err := yaml.UnmarshalStrict([]byte(input), &s); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got := outcome(t, s.build(t))
			if *update {
				if err := os.WriteFile(file, []byte(input+"\n"+separator+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s: outcome differs (go test ./scheduler/placement -update rewrites it)\n--- want\n%s--- got\n%s", file, want, got)
			}
		})
	}
}
