package statefulset

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.txt with the output the scenarios produce")

// TestScenarios replays the scripts in testdata/: each is a sequence of
// commands on one StatefulSet "web" and a simulated cluster, each
// followed by the steps the controller's decisions take, round by round,
// until nothing moves. In the simulation a created pod is Running and
// Ready one round later and a deleted pod is gone one round later. The
// scripts are the golden record of the update ordering.
//
// Commands:
//
//	set k=v …      change the set (replicas, image, partition, policy,
//	               strategy, maxUnavailable, start) and run
//	fail POD       the pod's containers exit with an error; run
//	unready POD    the pod stops being ready; run
//	ready POD      the pod is ready again; run
//	delete POD     the user deletes the pod; run
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			blocks := parseScript(t, file)
			s := newSim()
			var out strings.Builder
			for i, b := range blocks {
				got := s.do(t, b.cmd)
				if !*rewrite && got != b.want {
					t.Errorf("%s, block %d: %s\n got:\n%s\nwant:\n%s", file, i+1, b.cmd, got, b.want)
				}
				for _, c := range b.comments {
					out.WriteString(c + "\n")
				}
				fmt.Fprintf(&out, "%s\n----\n%s\n", b.cmd, got)
			}
			if *rewrite {
				if err := os.WriteFile(file, []byte(strings.TrimSuffix(out.String(), "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

type block struct {
	comments []string
	cmd      string
	want     string
}

func parseScript(t *testing.T, file string) []block {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []block
	var cur *block
	inOutput := false
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inOutput && line == "":
			cur.want = strings.Join(want, "\n") + "\n"
			blocks = append(blocks, *cur)
			cur, inOutput, want = nil, false, nil
		case inOutput:
			want = append(want, line)
		case strings.HasPrefix(line, "#") || line == "":
			if cur == nil {
				cur = &block{}
			}
			cur.comments = append(cur.comments, line)
		case line == "----":
			inOutput = true
		default:
			if cur == nil {
				cur = &block{}
			}
			cur.cmd = line
		}
	}
	if inOutput {
		cur.want = strings.Join(want, "\n") + "\n"
		blocks = append(blocks, *cur)
	}
	return blocks
}

// sim is a StatefulSet, its pods and the revisions it went through.
type sim struct {
	set      *appsv1.StatefulSet
	pods     map[string]*corev1.Pod
	images   map[string]string // revision → image
	starting []string
	leaving  []string
}

func newSim() *sim {
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "set-uid", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To[int32](0),
			ServiceName:         "web",
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "v1"}}},
			},
		},
	}
	return &sim{set: set, pods: map[string]*corev1.Pod{}, images: map[string]string{}}
}

func (s *sim) do(t *testing.T, cmd string) string {
	f := strings.Fields(cmd)
	switch f[0] {
	case "set":
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.Atoi(v)
			spec := &s.set.Spec
			switch k {
			case "replicas":
				spec.Replicas = ptr.To(int32(n))
			case "image":
				spec.Template.Spec.Containers[0].Image = v
			case "partition":
				spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(int32(n))
			case "maxUnavailable":
				spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.Parse(v))
			case "policy":
				spec.PodManagementPolicy = appsv1.PodManagementPolicyType(v)
			case "strategy":
				spec.UpdateStrategy.Type = appsv1.StatefulSetUpdateStrategyType(v)
				if v == string(appsv1.OnDeleteStatefulSetStrategyType) {
					spec.UpdateStrategy.RollingUpdate = nil
				} else if spec.UpdateStrategy.RollingUpdate == nil {
					spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}
				}
			case "start":
				spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: int32(n)}
			default:
				t.Fatalf("unknown setting %q", k)
			}
		}
		s.set.Generation++
	case "fail", "unready", "ready", "delete":
		p := s.pods[f[1]]
		if p == nil {
			t.Fatalf("%s: no pod %s", cmd, f[1])
		}
		switch f[0] {
		case "fail":
			p.Status.Phase = corev1.PodFailed
			setReady(p, false)
		case "unready":
			setReady(p, false)
		case "ready":
			setReady(p, true)
		case "delete":
			p.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
			s.leaving = append(s.leaving, p.Name)
		}
	default:
		t.Fatalf("unknown command %q", cmd)
	}
	return s.run(t)
}

func setReady(p *corev1.Pod, ready bool) {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.NewTime(t0)}}
}

// run plays rounds until a round takes no step and nothing is pending.
func (s *sim) run(t *testing.T) string {
	var out strings.Builder
	for round := 1; ; round++ {
		if round > 60 {
			t.Fatal("no steady state after 60 rounds")
		}
		// The cluster moves.
		for _, name := range s.starting {
			if p := s.pods[name]; p != nil && p.Status.Phase == corev1.PodPending {
				p.Status.Phase = corev1.PodRunning
				setReady(p, true)
			}
		}
		for _, name := range s.leaving {
			delete(s.pods, name)
		}
		pending := len(s.starting)+len(s.leaving) > 0
		s.starting, s.leaving = nil, nil

		// The controller looks. Revisions are named after the image.
		update := "web-" + s.set.Spec.Template.Spec.Containers[0].Image
		s.images[update] = s.set.Spec.Template.Spec.Containers[0].Image
		current := s.set.Status.CurrentRevision
		if current == "" {
			current = update
		}
		currentSet := s.set.DeepCopy()
		currentSet.Spec.Template.Spec.Containers[0].Image = s.images[current]
		var pods []*corev1.Pod
		for _, p := range s.pods {
			pods = append(pods, p)
		}
		p, err := decide(s.set, currentSet, s.set, revisionsInUse{current: current, update: update}, pods, t0)
		if err != nil {
			t.Fatal(err)
		}
		status := p.status
		completeRollingUpdate(s.set, &status)
		s.set.Status = status

		var steps []string
		for _, phase := range p.phases {
			for _, st := range phase {
				steps = append(steps, st.String())
				switch st.kind {
				case stepCreate:
					pod := st.pod.DeepCopy()
					pod.Status.Phase = corev1.PodPending
					s.pods[pod.Name] = pod
					s.starting = append(s.starting, pod.Name)
				case stepDelete, stepRecreate:
					s.pods[st.pod.Name].DeletionTimestamp = ptr.To(metav1.NewTime(t0))
					s.leaving = append(s.leaving, st.pod.Name)
				case stepRelabel:
					pod := s.pods[st.pod.Name]
					pod.Labels[appsv1.StatefulSetPodNameLabel] = pod.Name
					pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinalOf(pod))
				}
			}
		}
		if len(steps) > 0 {
			fmt.Fprintf(&out, "%d: %s\n", round, strings.Join(steps, ", "))
			continue
		}
		if pending {
			continue
		}
		if p.waiting != "" {
			fmt.Fprintf(&out, "stuck: %s\n", p.waiting)
		}
		break
	}
	st := s.set.Status
	fmt.Fprintf(&out, "status: replicas=%d ready=%d current=%d@%s updated=%d@%s\n",
		st.Replicas, st.ReadyReplicas, st.CurrentReplicas, st.CurrentRevision, st.UpdatedReplicas, st.UpdateRevision)
	var names []string
	for name, p := range s.pods {
		ready, _ := podReady(p)
		state := "ready"
		if !ready {
			state = strings.ToLower(string(p.Status.Phase))
		}
		names = append(names, fmt.Sprintf("%s@%s:%s", name, podRevision(p), state))
	}
	slices.SortFunc(names, func(a, b string) int {
		oa, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(a, "web-"), "@")[0])
		ob, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(b, "web-"), "@")[0])
		return oa - ob
	})
	fmt.Fprintf(&out, "pods: %s\n", strings.Join(names, " "))
	return out.String()
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
