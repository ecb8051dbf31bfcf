package deployment

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden rollout scenarios in testdata/")

// TestRolloutScenarios runs whole rollouts from busybox:v1 to busybox:v2
// against a simulated replicaset controller (pods appear at once and turn
// available readyAfter syncs later; a scale-down removes the youngest
// pods) and compares every step with testdata/<name>.golden. At every
// step the pods stay within replicas+maxSurge and, for a rolling update,
// at least replicas-maxUnavailable stay available; a Recreate never runs
// old and new pods together. Run with -rewrite to record a change.
func TestRolloutScenarios(t *testing.T) {
	for _, sc := range []struct {
		name       string
		replicas   int32
		strategy   appsv1.DeploymentStrategy
		readyAfter int
	}{
		{"rolling-ints", 5, rolling("2", "1"), 1},
		{"rolling-percent", 10, rolling("25%", "25%"), 1},
		{"rolling-percent-rounding", 3, rolling("25%", "25%"), 1},
		{"rolling-no-surge", 4, rolling("0", "2"), 1},
		{"rolling-slow-pods", 6, rolling("1", "0"), 3},
		{"recreate", 3, appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}, 2},
	} {
		t.Run(sc.name, func(t *testing.T) {
			d := testDeployment(sc.replicas, "busybox:v2", sc.strategy)
			d.Generation = 2
			v1 := rsFor(d, "busybox:v1", "1", sc.replicas, sc.replicas, t0.Add(-time.Hour))
			d.Annotations = map[string]string{revisionAnnotation: "1"}
			d.Status = calculateStatus([]*appsv1.ReplicaSet{v1}, v1, d, t0)
			d.Status.ObservedGeneration = 1
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable,
				fmt.Sprintf("ReplicaSet %q has successfully progressed.", v1.Name), t0.Add(-time.Hour)))
			f := newFixture(t, d, v1)
			sim := &rsSim{f: f, readyAfter: sc.readyAfter, born: map[string][]int{v1.Name: make([]int, sc.replicas)}}
			for i := range sim.born[v1.Name] {
				sim.born[v1.Name][i] = -sc.readyAfter
			}
			surge, unavail := maxSurge(d), maxUnavailable(d)
			var log strings.Builder
			fmt.Fprintf(&log, "# %d replicas, %s: maxSurge %d, maxUnavailable %d; new pods available %d sync(s) after creation\n",
				sc.replicas, describeStrategy(sc.strategy), surge, unavail, sc.readyAfter)
			fmt.Fprintf(&log, "%-4s %-9s %-9s %-5s %-5s %-22s %s\n", "sync", "old", "new", "pods", "avail", "progressing", "events")
			done := false
			for step := 1; step <= 40 && !done; step++ {
				f.resync()
				f.clock.Step(time.Second)
				f.mustReconcile()
				events := f.events()
				oldSt, newSt, pods, avail := sim.run(step, v1.Name)
				dep := f.deployment()
				for i, e := range events {
					events[i] = sim.rename(strings.TrimPrefix(e, "Normal ScalingReplicaSet "), v1.Name)
				}
				fmt.Fprintf(&log, "%-4d %-9s %-9s %-5d %-5d %-22s %s\n", step, oldSt, newSt, pods, avail,
					strings.TrimPrefix(condition(dep, appsv1.DeploymentProgressing), "True/"), strings.Join(events, "; "))
				if pods > sc.replicas+surge {
					t.Errorf("sync %d: %d pods, above %d+%d", step, pods, sc.replicas, surge)
				}
				if sc.strategy.Type == appsv1.RollingUpdateDeploymentStrategyType && avail < sc.replicas-unavail {
					t.Errorf("sync %d: %d available, below %d-%d", step, avail, sc.replicas, unavail)
				}
				if sc.strategy.Type == appsv1.RecreateDeploymentStrategyType && sim.count(v1.Name) > 0 && pods > sim.count(v1.Name) {
					t.Errorf("sync %d: old and new pods run together", step)
				}
				done = deploymentComplete(dep, &dep.Status) && condition(dep, appsv1.DeploymentProgressing) == "True/NewReplicaSetAvailable"
			}
			if !done {
				t.Errorf("rollout not complete after 40 syncs")
			}
			golden(t, filepath.Join("testdata", sc.name+".golden"), log.String())
		})
	}
}

func describeStrategy(s appsv1.DeploymentStrategy) string {
	if s.Type == appsv1.RecreateDeploymentStrategyType {
		return "Recreate"
	}
	return fmt.Sprintf("RollingUpdate maxSurge=%s maxUnavailable=%s", s.RollingUpdate.MaxSurge.String(), s.RollingUpdate.MaxUnavailable.String())
}

// rsSim plays the replicaset controller between syncs: it keeps each
// ReplicaSet's pods (by the sync they were born in) at spec.replicas and
// writes status.
type rsSim struct {
	f          *fixture
	readyAfter int
	born       map[string][]int
}

func (s *rsSim) count(name string) int32 { return int32(len(s.born[name])) }

func (s *rsSim) run(step int, oldName string) (oldSt, newSt string, pods, avail int32) {
	ctx := context.Background()
	for _, rs := range s.f.replicaSets() {
		b := s.born[rs.Name]
		for int32(len(b)) < *rs.Spec.Replicas {
			b = append(b, step)
		}
		// The youngest pods are the least available: they go first.
		if int32(len(b)) > *rs.Spec.Replicas {
			b = b[:*rs.Spec.Replicas]
		}
		s.born[rs.Name] = b
		var a int32
		for _, at := range b {
			if step-at >= s.readyAfter {
				a++
			}
		}
		rs.Status = appsv1.ReplicaSetStatus{Replicas: int32(len(b)), FullyLabeledReplicas: int32(len(b)), ReadyReplicas: a, AvailableReplicas: a, ObservedGeneration: rs.Generation}
		if _, err := s.f.client.AppsV1().ReplicaSets("default").UpdateStatus(ctx, &rs, metav1.UpdateOptions{}); err != nil {
			s.f.t.Fatal(err)
		}
		st := fmt.Sprintf("%d/%d", len(b), a)
		if rs.Name == oldName {
			oldSt = st
		} else {
			newSt = st
		}
		pods += int32(len(b))
		avail += a
	}
	if newSt == "" {
		newSt = "-"
	}
	return oldSt, newSt, pods, avail
}

// rename writes the ReplicaSets as "old" and "new": their hashes change
// with k8s.io/api versions, the steps do not.
func (s *rsSim) rename(e, oldName string) string {
	e = strings.ReplaceAll(e, oldName, "old")
	for name := range s.born {
		if name != oldName {
			e = strings.ReplaceAll(e, name, "new")
		}
	}
	return e
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to record it)\n%s", err, got)
	}
	if string(want) != got {
		t.Errorf("%s differs\n--- want\n%s--- got\n%s", path, want, got)
	}
}
