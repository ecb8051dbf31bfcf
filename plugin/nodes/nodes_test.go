package nodes

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-dev/skiff/plugin/output"
)

func readyNode(name string, created time.Time) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.33.0-skiff"},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}}}}
}

// fakeAgent starts a process whose command line looks like an agent's
// for name, and records it in a pid file as add would.
func fakeAgent(t *testing.T, local localAgents, name string) *exec.Cmd {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("process identity is checked through /proc")
	}
	cmd := exec.Command("sh", "-c", "sleep 30", "agent", "--node-name", name)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	if err := os.MkdirAll(local.dataDir(name), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local.pidFile(name), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local.logFile(name), []byte("log"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestList(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	local := localAgents{dir: t.TempDir()}
	cmd := fakeAgent(t, local, "a")
	cs := fake.NewSimpleClientset(readyNode("b", now.Add(-time.Hour)), readyNode("a", now.Add(-5*time.Minute)),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "p"}, Spec: corev1.PodSpec{NodeName: "a"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}})
	var b bytes.Buffer
	if err := list(context.Background(), &b, cs, local, output.Wide, now); err != nil {
		t.Fatal(err)
	}
	want := "NAME   STATUS   ROLES    PODS    AGE   VERSION         INTERNAL-IP   LOCAL-PID\n" +
		"a      Ready    <none>   1/110   5m    v1.33.0-skiff   10.0.0.5      " + strconv.Itoa(cmd.Process.Pid) + "\n" +
		"b      Ready    <none>   0/110   60m   v1.33.0-skiff   10.0.0.5      -\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestFreeNames(t *testing.T) {
	local := localAgents{dir: t.TempDir()}
	fakeAgent(t, local, "n-2") // started locally, its node not registered yet
	cs := fake.NewSimpleClientset(readyNode("n-1", time.Now()), readyNode("n-4", time.Now()))
	got, err := freeNames(context.Background(), cs, local, "n", 3)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "n-3,n-5,n-6" {
		t.Errorf("freeNames = %v, want n-3,n-5,n-6", got)
	}
}

func TestAddRefusesReservedAgentFlags(t *testing.T) {
	o := &addOptions{count: 1}
	if err := o.run(context.Background(), []string{"--runtime", "fake", "--node-name=x"}); err == nil || !strings.Contains(err.Error(), "--node-name") {
		t.Errorf("err = %v, want --node-name refused", err)
	}
	o.count = 0
	if err := o.run(context.Background(), nil); err == nil {
		t.Error("--count 0 accepted")
	}
}

func TestRemoveStopsOnlyItsAgents(t *testing.T) {
	local := localAgents{dir: t.TempDir()}
	cmd := fakeAgent(t, local, "a")
	exited := make(chan struct{})
	go func() { _, _ = cmd.Process.Wait(); close(exited) }()
	podOn := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{NodeName: node}}
	}
	cs := fake.NewSimpleClientset(readyNode("a", time.Now()), readyNode("foreign", time.Now()), podOn("on-a", "a"), podOn("on-foreign", "foreign"))
	var out bytes.Buffer
	o := &removeOptions{streams: genericiooptions.IOStreams{Out: &out, ErrOut: &out}, grace: 2 * time.Second, drainTimeout: 5 * time.Second}

	// A node add did not start is refused, and nothing is removed.
	if err := o.run(context.Background(), cs, local, []string{"a", "foreign"}); err == nil || !strings.Contains(err.Error(), "not started by kubectl skiff nodes add") {
		t.Fatalf("err = %v", err)
	}
	if _, ok := local.running("a"); !ok {
		t.Fatal("agent a stopped although the command was refused")
	}
	if err := o.run(context.Background(), cs, local, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("agent process still runs")
	}
	if _, err := cs.CoreV1().Nodes().Get(context.Background(), "a", metav1.GetOptions{}); err == nil {
		t.Error("node a not deleted")
	}
	if _, err := cs.CoreV1().Nodes().Get(context.Background(), "foreign", metav1.GetOptions{}); err != nil {
		t.Error("node foreign deleted")
	}
	// The node was drained before its agent stopped: its pod is gone, the
	// other node's pod stays.
	if _, err := cs.CoreV1().Pods("default").Get(context.Background(), "on-a", metav1.GetOptions{}); err == nil {
		t.Error("pod on-a not deleted")
	}
	if _, err := cs.CoreV1().Pods("default").Get(context.Background(), "on-foreign", metav1.GetOptions{}); err != nil {
		t.Error("pod on-foreign deleted")
	}
	if !strings.Contains(out.String(), "node a drained: 1 pod deleted") {
		t.Errorf("output does not report the drain:\n%s", out.String())
	}
	if _, err := os.Stat(local.logFile("a")); err != nil {
		t.Errorf("log not kept: %v", err)
	}
	for _, gone := range []string{local.pidFile("a"), local.dataDir("a")} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s not removed", gone)
		}
	}
}

func TestStalePidFileIsNotSignalled(t *testing.T) {
	local := localAgents{dir: t.TempDir()}
	if err := os.MkdirAll(local.nodeDir("a"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Our own pid: alive, but not an agent for node a.
	if err := os.WriteFile(local.pidFile("a"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		if _, ok := local.running("a"); ok {
			t.Error("a pid reused by another process counts as the agent")
		}
	}
	names, err := local.names()
	if err != nil || len(names) != 1 || names[0] != "a" {
		t.Errorf("names = %v, %v", names, err)
	}
}

func TestFindSkiff(t *testing.T) {
	if _, err := findSkiff(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("a missing --skiff-bin accepted")
	}
	bin := filepath.Join(t.TempDir(), "skiff")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findSkiff(bin); err != nil || got != bin {
		t.Errorf("findSkiff(%s) = %s, %v", bin, got, err)
	}
}
