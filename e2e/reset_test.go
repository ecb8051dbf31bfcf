package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

func TestResetRemovesOnlySkiffData(t *testing.T) {
	s := startServer(t)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "precious"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := cluster.Run(ctx, nil, "", skiffBin, "reset", "--data-dir", other)
	if code == 0 || !strings.Contains(errOut, "does not look like a Skiff data directory") {
		t.Fatalf("reset of a foreign directory: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(other, "precious")); err != nil {
		t.Fatal("reset removed a directory that is not Skiff's")
	}
	if out, errOut, code := cluster.Run(ctx, nil, "", skiffBin, "reset", "--data-dir", s.DataDir()); code != 0 {
		t.Fatalf("reset: exit %d: %s %s", code, out, errOut)
	}
	if _, err := os.Stat(s.DataDir()); !os.IsNotExist(err) {
		t.Fatalf("data directory still there after reset: %v", err)
	}
}

func TestResetRemovesTheClustersContainers(t *testing.T) {
	s, cs, _ := startUp(t)
	img := busybox(t)
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), sleeperPod("keeper", img), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, cs, "default", "keeper", 60*time.Second, podRunning)
	id := clusterIDOf(t, s)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// Pods keep running when skiff up stops, as on a real node.
	if out := docker(t, "ps", "-q", "--filter", "label=skiff.dev/cluster="+id); len(strings.Fields(out)) != 2 {
		t.Fatalf("after stopping skiff up, running containers: %q, want the pod's 2", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, code := cluster.Run(ctx, nil, "", skiffBin, "reset", "--data-dir", s.DataDir())
	if code != 0 || !strings.Contains(out, "removed 2 containers") {
		t.Fatalf("reset: exit %d\n%s%s", code, out, errOut)
	}
	if left := docker(t, "ps", "-aq", "--filter", "label=skiff.dev/cluster="+id); left != "" {
		t.Fatalf("containers left after reset: %s", left)
	}
}
