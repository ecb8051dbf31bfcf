package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePod runs a sandbox and one started app container of a pod.
func fakePod(t *testing.T, f *Fake, node, pod string) (sandbox, app string) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.EnsureNetwork(ctx, "skiff", "10.244.0.0/16"); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{LabelNode: node, LabelPodName: pod, LabelPodUID: "uid-" + node + "-" + pod}
	sandbox, _, err := f.RunSandbox(ctx, SandboxConfig{Name: node + "_" + pod + "_sandbox", Labels: labels, Network: "skiff"})
	if err != nil {
		t.Fatal(err)
	}
	appLabels := map[string]string{LabelContainer: "app", LabelKind: KindApp}
	for k, v := range labels {
		appLabels[k] = v
	}
	app, err = f.CreateContainer(ctx, ContainerConfig{Name: node + "_" + pod + "_app", Labels: appLabels, Image: "busybox:local", SandboxID: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.StartContainer(ctx, app); err != nil {
		t.Fatal(err)
	}
	return sandbox, app
}

func inspect(t *testing.T, f *Fake, id string) *Container {
	t.Helper()
	c, err := f.InspectContainer(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFakeContainerLifecycle(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := NewFake(FakeOptions{NodeName: "n1", Now: func() time.Time { return now }})
	sandbox, app := fakePod(t, f, "n1", "web")

	sb := inspect(t, f, sandbox)
	if sb.State != StateRunning || sb.Labels[LabelKind] != KindSandbox || sb.Labels[LabelManaged] != "true" {
		t.Fatalf("sandbox: state %s labels %v; want running, kind sandbox, managed", sb.State, sb.Labels)
	}
	c := inspect(t, f, app)
	if c.State != StateRunning || !c.StartedAt.Equal(now) || c.Labels[LabelNode] != "n1" {
		t.Fatalf("app: %+v; want running since %s on n1", c, now)
	}

	now = now.Add(time.Minute)
	if err := f.StopContainer(ctx, app, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	c = inspect(t, f, app)
	if c.State != StateExited || c.ExitCode != 143 || !c.FinishedAt.Equal(now) {
		t.Fatalf("after a graceful stop: %+v; want exited 143 at %s", c, now)
	}
	if err := f.StopContainer(ctx, app, 0); err != nil {
		t.Fatalf("stopping a stopped container: %v", err)
	}
	if c := inspect(t, f, app); c.ExitCode != 143 {
		t.Fatalf("a second stop changed the exit code to %d", c.ExitCode)
	}
	// A restart of the same container (docker start) runs it again.
	if err := f.StartContainer(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := f.StopContainer(ctx, app, 0); err != nil {
		t.Fatal(err)
	}
	if c := inspect(t, f, app); c.ExitCode != 137 {
		t.Fatalf("stop without grace: exit %d, want 137 (SIGKILL)", c.ExitCode)
	}

	if err := f.RemoveContainer(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, err := f.InspectContainer(ctx, app); !errors.Is(err, ErrNotFound) {
		t.Fatalf("inspect after remove: %v, want ErrNotFound", err)
	}
	if err := f.RemoveContainer(ctx, app); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v, want ErrNotFound", err)
	}
	for name, op := range map[string]func() error{
		"start": func() error { return f.StartContainer(ctx, app) },
		"stop":  func() error { return f.StopContainer(ctx, app, time.Second) },
		"exec":  func() error { _, err := f.Exec(ctx, app, ExecOptions{Cmd: []string{"true"}}); return err },
		"logs":  func() error { return f.Logs(ctx, app, LogOptions{Tail: -1}, &bytes.Buffer{}) },
	} {
		if err := op(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of a removed container: %v, want ErrNotFound", name, err)
		}
	}
}

func TestFakeNamesAreUnique(t *testing.T) {
	ctx := context.Background()
	f := NewFake(FakeOptions{})
	sandbox, _ := fakePod(t, f, "n1", "web")
	if _, err := f.CreateContainer(ctx, ContainerConfig{Name: "n1_web_app", Image: "busybox:local", SandboxID: sandbox}); err == nil {
		t.Fatal("a second container named n1_web_app was created")
	}
	// Once removed, the name is free again (the agent recreates containers under their name).
	list, _ := f.ListContainers(ctx, map[string]string{LabelContainer: "app"})
	if len(list) != 1 {
		t.Fatalf("listed %d app containers, want 1", len(list))
	}
	if err := f.RemoveContainer(ctx, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateContainer(ctx, ContainerConfig{Name: "n1_web_app", Image: "busybox:local", SandboxID: sandbox}); err != nil {
		t.Fatalf("reusing a removed container's name: %v", err)
	}
}

func TestFakeAppNeedsRunningSandbox(t *testing.T) {
	ctx := context.Background()
	f := NewFake(FakeOptions{})
	if _, err := f.CreateContainer(ctx, ContainerConfig{Name: "orphan", Image: "busybox:local", SandboxID: "nosuch"}); err == nil {
		t.Fatal("created a container in a sandbox that does not exist")
	}
	sandbox, app := fakePod(t, f, "n1", "web")
	if err := f.StopContainer(ctx, app, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := f.StopContainer(ctx, sandbox, time.Second); err != nil {
		t.Fatal(err)
	}
	id, err := f.CreateContainer(ctx, ContainerConfig{Name: "late", Image: "busybox:local", SandboxID: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.StartContainer(ctx, id); err == nil {
		t.Fatal("started a container whose sandbox is not running")
	}
	c := inspect(t, f, id)
	if c.State != StateCreated || c.ExitCode != 128 || !strings.Contains(c.Error, "non running") {
		t.Fatalf("after the failed start: %+v; want created, exit 128 and the engine's error", c)
	}
}

func TestFakeExitAndOOMHooks(t *testing.T) {
	ctx := context.Background()
	f := NewFake(FakeOptions{})
	events, _ := f.Events(ctx, map[string]string{LabelPodName: "web"})
	_, app := fakePod(t, f, "n1", "web")

	if err := f.Exit(app, 3); err != nil {
		t.Fatal(err)
	}
	if c := inspect(t, f, app); c.State != StateExited || c.ExitCode != 3 || c.OOMKilled {
		t.Fatalf("after Exit(3): %+v", c)
	}
	if err := f.Exit(app, 1); err == nil {
		t.Fatal("Exit of an exited container succeeded")
	}
	if err := f.StartContainer(ctx, app); err != nil {
		t.Fatal(err)
	}
	if c := inspect(t, f, app); c.State != StateRunning || c.ExitCode != 0 || !c.FinishedAt.IsZero() {
		t.Fatalf("restarted container still shows its last exit: %+v", c)
	}
	if err := f.OOMKill(app); err != nil {
		t.Fatal(err)
	}
	if c := inspect(t, f, app); c.State != StateExited || c.ExitCode != 137 || !c.OOMKilled {
		t.Fatalf("after OOMKill: %+v; want exited 137 OOMKilled", c)
	}

	var got []string
	for len(got) < 8 {
		select {
		case ev := <-events:
			if ev.ContainerID == app {
				got = append(got, ev.Action)
			} else {
				got = append(got, "sandbox-"+ev.Action)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("events so far %v; want 8", got)
		}
	}
	want := "sandbox-create sandbox-start create start die start oom die"
	if strings.Join(got, " ") != want {
		t.Fatalf("events %v, want %s", got, want)
	}
}

func TestFakeListHasOnlyWhatTheEngineLists(t *testing.T) {
	ctx := context.Background()
	f := NewFake(FakeOptions{})
	_, app := fakePod(t, f, "n1", "web")
	fakePod(t, f, "n2", "db")
	if err := f.OOMKill(app); err != nil {
		t.Fatal(err)
	}
	list, err := f.ListContainers(ctx, map[string]string{LabelNode: "n1", LabelKind: KindApp})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != app {
		t.Fatalf("listed %+v, want only %s", list, app)
	}
	if c := list[0]; c.State != StateExited || c.ExitCode != 0 || c.OOMKilled || !c.StartedAt.IsZero() {
		t.Fatalf("list entry %+v: want state only, exit details left to InspectContainer as Docker does", c)
	}
	all, _ := f.ListContainers(ctx, nil)
	if len(all) != 4 {
		t.Fatalf("listed %d containers with no match, want 4", len(all))
	}
}

func TestFakeSandboxAddresses(t *testing.T) {
	ctx := context.Background()
	f := NewFake(FakeOptions{CIDR: "10.9.0.0/29"}) // .2 to .6 are usable
	gw, err := f.EnsureNetwork(ctx, "skiff", "10.9.0.0/29")
	if err != nil || gw != "10.9.0.1" {
		t.Fatalf("gateway %q, %v; want 10.9.0.1", gw, err)
	}
	if _, _, err := f.RunSandbox(ctx, SandboxConfig{Name: "early", Network: "other"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sandbox on a network never ensured: %v, want ErrNotFound", err)
	}
	if _, err := f.EnsureNetwork(ctx, "skiff", "10.8.0.0/16"); err == nil {
		t.Fatal("EnsureNetwork accepted another subnet for an existing network")
	}
	var ids []string
	seen := map[string]bool{}
	for i := range 5 {
		id, ip, err := f.RunSandbox(ctx, SandboxConfig{Name: fmt.Sprint("sb", i), Network: "skiff"})
		if err != nil {
			t.Fatal(err)
		}
		a := netip.MustParseAddr(ip)
		if seen[ip] || !netip.MustParsePrefix("10.9.0.0/29").Contains(a) || ip == "10.9.0.1" || ip == "10.9.0.7" {
			t.Fatalf("sandbox %d got %s (seen before: %v)", i, ip, seen[ip])
		}
		seen[ip] = true
		ids = append(ids, id)
	}
	if _, _, err := f.RunSandbox(ctx, SandboxConfig{Name: "one-too-many", Network: "skiff"}); err == nil {
		t.Fatal("a sixth sandbox got an address in a /29")
	}
	if err := f.RemoveContainer(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	_, ip, err := f.RunSandbox(ctx, SandboxConfig{Name: "one-too-many", Network: "skiff"})
	if err != nil || !seen[ip] {
		t.Fatalf("after a removal: %q, %v; want the freed address back", ip, err)
	}
	if _, ip, err := f.RunSandbox(ctx, SandboxConfig{Name: "host", HostNetwork: true}); err != nil || ip != "" {
		t.Fatalf("host-network sandbox: ip %q, %v; want no pod address", ip, err)
	}
}

func TestFakeImages(t *testing.T) {
	ctx := context.Background()
	f := NewFake(FakeOptions{MissingImages: []string{"docker.io/library/nginx:latest"}})
	if _, err := f.EnsureNetwork(ctx, "skiff", "10.244.0.0/16"); err != nil {
		t.Fatal(err)
	}
	if img, err := f.ImageStatus(ctx, "busybox:local"); err != nil || !strings.HasPrefix(img.ID, "sha256:") {
		t.Fatalf("present image: %+v, %v", img, err)
	}
	// "nginx" is the same reference as docker.io/library/nginx:latest.
	if _, err := f.ImageStatus(ctx, "nginx"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing image: %v, want ErrNotFound", err)
	}
	sandbox, _, err := f.RunSandbox(ctx, SandboxConfig{Name: "sb", Network: "skiff"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateContainer(ctx, ContainerConfig{Name: "c", Image: "nginx", SandboxID: sandbox}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("create from a missing image: %v, want ErrNotFound", err)
	}
	if _, err := f.ImageStatus(ctx, "Not A Ref"); !errors.Is(err, ErrInvalidImageName) {
		t.Fatalf("ImageStatus of a bad reference: %v, want ErrInvalidImageName", err)
	}
	if _, err := f.PullImage(ctx, "BusyBox:latest", nil, nil); !errors.Is(err, ErrInvalidImageName) {
		t.Fatalf("PullImage of a bad reference: %v, want ErrInvalidImageName", err)
	}

	f.SetPullError(func(ref string) error {
		return fmt.Errorf("pull access denied for %s, repository does not exist", ref)
	})
	_, err = f.PullImage(ctx, "nginx", nil, nil)
	if !errors.Is(err, ErrImagePull) || !strings.Contains(err.Error(), "pull access denied for nginx") {
		t.Fatalf("failed pull: %v; want ErrImagePull with the hook's message", err)
	}
	f.SetPullError(nil)
	var progress []string
	img, err := f.PullImage(ctx, "nginx", &Auth{Username: "u"}, func(s string) { progress = append(progress, s) })
	if err != nil || len(progress) == 0 {
		t.Fatalf("pull: %+v, %v, progress %v", img, err, progress)
	}
	if _, err := f.ImageStatus(ctx, "docker.io/library/nginx:latest"); err != nil {
		t.Fatalf("after the pull: %v", err)
	}
	if err := f.SetImageMissing("nginx", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ImageStatus(ctx, "nginx:latest"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after SetImageMissing: %v, want ErrNotFound", err)
	}
}

func TestFakeExec(t *testing.T) {
	ctx := context.Background()
	f := NewFake(FakeOptions{})
	_, app := fakePod(t, f, "n1", "web")
	probe := ExecOptions{Cmd: []string{"cat", "/tmp/healthy"}}
	if code, err := f.Exec(ctx, app, probe); err != nil || code != 0 {
		t.Fatalf("exec: %d, %v; want 0", code, err)
	}
	if err := f.SetExecExitCode(app, 1); err != nil {
		t.Fatal(err)
	}
	if code, err := f.Exec(ctx, app, probe); err != nil || code != 1 {
		t.Fatalf("exec after SetExecExitCode(1): %d, %v", code, err)
	}
	if err := f.Exit(app, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Exec(ctx, app, probe); err == nil {
		t.Fatal("exec in an exited container succeeded")
	}
}

func TestFakeLogs(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	f := NewFake(FakeOptions{LogLine: "hello", Now: func() time.Time { return start }})
	_, app := fakePod(t, f, "n1", "web")
	for _, tc := range []struct {
		name string
		opts LogOptions
		want string
	}{
		{"all", LogOptions{Tail: -1}, "hello\n"},
		{"tail 0", LogOptions{Tail: 0}, ""},
		{"tail 10", LogOptions{Tail: 10}, "hello\n"},
		{"timestamps", LogOptions{Tail: -1, Timestamps: true}, "2026-01-02T03:04:05.000000006Z hello\n"},
		{"limit", LogOptions{Tail: -1, LimitBytes: 3}, "hel"},
		{"since before start", LogOptions{Tail: -1, Since: start.Add(-time.Second)}, "hello\n"},
		{"since after start", LogOptions{Tail: -1, Since: start.Add(time.Second)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := f.Logs(context.Background(), app, tc.opts, &b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got %q, want %q", b.String(), tc.want)
			}
		})
	}

	t.Run("follow ends when the container stops", func(t *testing.T) {
		done := make(chan error, 1)
		var b bytes.Buffer
		go func() { done <- f.Logs(context.Background(), app, LogOptions{Tail: -1, Follow: true}, &b) }()
		select {
		case err := <-done:
			t.Fatalf("follow of a running container returned at once: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if err := f.Exit(app, 0); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil || b.String() != "hello\n" {
				t.Fatalf("follow: %q, %v", b.String(), err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("follow did not end when the container exited")
		}
	})
	t.Run("follow ends with ctx", func(t *testing.T) {
		_, app := fakePod(t, f, "n1", "web2")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Logs(ctx, app, LogOptions{Tail: -1, Follow: true}, &bytes.Buffer{}) }()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("follow after cancel: %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("follow did not end with its context")
		}
	})
}

func TestFakeEventsFilterAndEnd(t *testing.T) {
	f := NewFake(FakeOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	events, errs := f.Events(ctx, map[string]string{LabelNode: "n2"})
	fakePod(t, f, "n1", "web")
	sb2, app2 := fakePod(t, f, "n2", "db")
	if err := f.RemoveContainer(context.Background(), app2); err != nil {
		t.Fatal(err)
	}
	want := []string{sb2 + " create", sb2 + " start", app2 + " create", app2 + " start", app2 + " die", app2 + " destroy"}
	for i, w := range want {
		select {
		case ev := <-events:
			if got := ev.ContainerID + " " + ev.Action; got != w {
				t.Fatalf("event %d: %s, want %s", i, got, w)
			}
			if ev.Labels[LabelNode] != "n2" {
				t.Fatalf("event %d labels %v", i, ev.Labels)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d (%s) never came", i, w)
		}
	}
	cancel()
	for range events {
	}
	if err, ok := <-errs; ok || err != nil {
		t.Fatalf("error channel after the end: %v, %v; want closed", err, ok)
	}
}

// TestFakeManyNodes runs 1,000 pods on 100 simulated nodes sharing one
// fake, concurrently, as the scale tests do, and checks that each node
// sees exactly its own pods and that every pod IP is unique.
func TestFakeManyNodes(t *testing.T) {
	ctx := context.Background()
	f := NewFake(FakeOptions{})
	if _, err := f.EnsureNetwork(ctx, "skiff", "10.244.0.0/16"); err != nil {
		t.Fatal(err)
	}
	const nodes, pods = 100, 10
	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	for n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprint("node-", n)
			for p := range pods {
				labels := map[string]string{LabelNode: node, LabelPodName: fmt.Sprint("pod-", p)}
				sb, _, err := f.RunSandbox(ctx, SandboxConfig{Name: node + fmt.Sprint("-sb-", p), Labels: labels, Network: "skiff"})
				if err != nil {
					errs <- err
					return
				}
				id, err := f.CreateContainer(ctx, ContainerConfig{Name: node + fmt.Sprint("-app-", p), Labels: labels, Image: "busybox:local", SandboxID: sb})
				if err == nil {
					err = f.StartContainer(ctx, id)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ips := map[string]bool{}
	for n := range nodes {
		list, err := f.ListContainers(ctx, map[string]string{LabelNode: fmt.Sprint("node-", n)})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2*pods {
			t.Fatalf("node-%d lists %d containers, want %d", n, len(list), 2*pods)
		}
		for _, c := range list {
			if c.State != StateRunning {
				t.Fatalf("%s is %s", c.Name, c.State)
			}
			if c.Labels[LabelKind] == KindSandbox {
				if ips[c.IP] {
					t.Fatalf("pod IP %s given twice", c.IP)
				}
				ips[c.IP] = true
			}
		}
	}
	if len(ips) != nodes*pods {
		t.Fatalf("%d distinct pod IPs, want %d", len(ips), nodes*pods)
	}
}

func TestLimitLogWriter(t *testing.T) {
	for _, tc := range []struct {
		limit  int64
		writes []string
		want   string
	}{
		{0, []string{"abc", "def"}, "abcdef"},
		{4, []string{"abc", "def"}, "abcd"},
		{3, []string{"abc", "def"}, "abc"},
		{10, []string{"abc", "def"}, "abcdef"},
	} {
		var b bytes.Buffer
		w := limitLogWriter(&b, tc.limit)
		var stopped bool
		for _, s := range tc.writes {
			if _, err := w.Write([]byte(s)); err != nil {
				if !errors.Is(err, errLimitReached) {
					t.Fatal(err)
				}
				stopped = true
				break
			}
		}
		if b.String() != tc.want {
			t.Errorf("limit %d: wrote %q, want %q", tc.limit, b.String(), tc.want)
		}
		if wantStop := tc.limit > 0 && tc.limit <= 6; stopped != wantStop {
			t.Errorf("limit %d: stopped %v, want %v", tc.limit, stopped, wantStop)
		}
	}
}
