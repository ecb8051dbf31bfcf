package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubectlVersions are the stock kubectl releases the control plane is
// proven with: the oldest supported, the PATH's default, the newest.
var kubectlVersions = []string{"1.27", "1.32", "1.33"}

// TestKubectlCommands drives the stock kubectl through what a user does
// with a cluster, for each supported kubectl version, and records every
// command's output (acceptance 1 of the control-plane issue).
func TestKubectlCommands(t *testing.T) {
	// The recorded outputs prove the API's wire behaviour; ReplicaSets and
	// pods appearing at controller speed would make them timing-dependent.
	// kubectl against live controllers is in deployment_test.go.
	s := startServer(t, "--controllers=*,-deployment,-replicaset")
	for _, minor := range kubectlVersions {
		t.Run(minor, func(t *testing.T) {
			k := newKubectl(t, s, minor)
			kubectlSuite(t, k)
		})
	}
}

// manifest copies a file from testdata/manifests with SUITE replaced.
func manifest(t *testing.T, dir, name, suite string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "manifests", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "SUITE", suite)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func kubectlSuite(t *testing.T, k *kubectl) {
	ns := "kubectl-" + strings.ReplaceAll(k.minor, ".", "-")
	dir := t.TempDir()
	m := func(name string) string { return manifest(t, dir, name, k.minor) }
	r := newRecorder(t, k)
	r.strip = []string{dir + string(filepath.Separator)}
	n := []string{"-n", ns}
	with := func(args ...string) []string { return append(append([]string{}, args...), n...) }

	r.run("create-namespace", "create", "namespace", ns)
	r.run("api-resources", "api-resources")
	r.run("create", with("create", "-f", m("app.yaml"))...)
	r.run("create-again", with("create", "-f", m("app.yaml"))...)

	// apply: create, change a field, remove a field.
	r.run("apply-create", with("apply", "-f", m("settings-v1.yaml"))...)
	r.run("apply-change", with("apply", "-f", m("settings-v2.yaml"))...)
	r.run("apply-unchanged", with("apply", "-f", m("settings-v2.yaml"))...)
	r.run("apply-remove-field", with("apply", "-f", m("settings-v3.yaml"))...)
	if got := k.must(with("get", "cm", "settings", "-o", "jsonpath={.data}")...); got != `{"color":"green"}` {
		t.Errorf("after removing size from the manifest and re-applying, data is %s", got)
	}

	// get, in every output format users reach for.
	r.run("get", with("get", "deploy,svc,cm")...)
	r.run("get-wide", with("get", "deploy", "-o", "wide")...)
	r.run("get-yaml", with("get", "cm", "settings", "-o", "yaml")...)
	r.run("get-json", with("get", "cm", "web-config", "-o", "json")...)
	r.run("get-name", with("get", "deploy,svc,cm", "-o", "name")...)
	r.run("get-all-namespaces", "get", "cm", "-A", "-l", "suite="+k.minor)
	r.run("get-label-selector", with("get", "cm", "-l", "app=web")...)
	r.run("get-field-selector", with("get", "cm", "--field-selector", "metadata.name=settings")...)
	r.run("get-show-labels", with("get", "cm", "--show-labels")...)
	r.run("get-missing", with("get", "cm", "nope")...)

	// get -w prints later changes and stays open.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	w := exec.CommandContext(watchCtx, k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "get", "cm", "settings", "-w"}, n...)...)
	stdout, err := w.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	readLine := func(what string) string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl get -w exited before printing %s", what)
			}
			return l
		case <-time.After(15 * time.Second):
			t.Fatalf("kubectl get -w printed no %s within 15s", what)
		}
		return ""
	}
	header, first := readLine("header"), readLine("initial row")
	k.must(with("label", "cm", "settings", "watched=yes")...)
	change := readLine("row for the change")
	time.Sleep(300 * time.Millisecond)
	if w.ProcessState != nil {
		t.Fatal("kubectl get -w exited after the change; it must stay open")
	}
	stopWatch()
	_ = w.Wait()
	r.record("get-watch", []string{"get", "cm", "settings", "-w"}, header+"\n"+first+"\n"+change+"\n", "", 0)

	r.run("describe-deployment", with("describe", "deployment", "web")...)
	r.run("describe-configmap", with("describe", "cm", "settings")...)

	// edit with a scripted editor.
	editor := filepath.Join(dir, "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/color: green/color: purple/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	k.env = []string{"EDITOR=" + editor, "KUBE_EDITOR=" + editor}
	r.run("edit", with("edit", "cm", "settings")...)
	k.env = nil
	if got := k.must(with("get", "cm", "settings", "-o", "jsonpath={.data.color}")...); got != "purple" {
		t.Errorf("after edit, color is %q", got)
	}

	r.run("patch-strategic", with("patch", "deploy", "web", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:v2"}]}}}}`)...)
	r.run("patch-merge", with("patch", "cm", "settings", "--type", "merge", "-p", `{"data":{"mode":"fast"}}`)...)
	r.run("patch-json", with("patch", "deploy", "web", "--type", "json", "-p", `[{"op":"replace","path":"/spec/replicas","value":2}]`)...)
	r.run("patch-result", with("get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.metadata.generation}")...)
	r.run("label", with("label", "cm", "settings", "tier=gold")...)
	r.run("annotate", with("annotate", "cm", "settings", "note=hello")...)
	r.run("label-remove", with("label", "cm", "settings", "tier-")...)
	r.run("labels-result", with("get", "cm", "settings", "-o", "jsonpath={.metadata.labels} {.metadata.annotations.note}")...)
	r.run("replace", with("replace", "-f", m("replaced.yaml"))...)
	r.run("replace-result", with("get", "cm", "web-config", "-o", "jsonpath={.data.greeting}")...)
	r.run("scale", with("scale", "deployment", "web", "--replicas=3")...)
	r.run("scale-result", with("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}")...)

	r.run("run-pod", "run", "p1", "-n", ns, "--image=busybox:local", "--restart=Never", "--labels=suite="+k.minor, "--", "sleep", "3600")
	r.run("get-all", with("get", "all")...)
	r.run("delete-pod", with("delete", "pod", "p1")...)
	r.run("delete-file", with("delete", "-f", m("replaced.yaml"))...)

	// wait --for=delete returns once another client deletes the object.
	k.must(with("create", "configmap", "doomed", "--from-literal=a=b")...)
	go func() {
		time.Sleep(time.Second)
		k.run(with("delete", "cm", "doomed")...)
	}()
	r.run("wait-for-delete", with("wait", "--for=delete", "cm/doomed", "--timeout=30s")...)

	r.run("explain", "explain", "deployment.spec.strategy")
	r.run("delete-all", with("delete", "deploy/web", "svc/web", "cm/settings")...)
	r.run("get-empty", with("get", "deploy,svc,cm")...)
}
