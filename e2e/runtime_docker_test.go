package e2e

// Tests of the node agent's Docker runtime (nodeagent/runtime) against the
// real engine. They need Docker and Debian's busybox-static (for the
// busybox:local fixture). Everything a test makes carries the label
// skiff.dev/test=<test name> and is removed when the test ends.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/skiff-dev/skiff/e2e/cluster"
	"github.com/skiff-dev/skiff/e2e/images"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

const (
	testLabel = "skiff.dev/test"
	// testSubnet is reserved for these tests; nothing else on the test
	// machines uses 10.213.0.0/16.
	testSubnet = "10.213.0.0/24"
)

// dockerRT is one test's view of the engine: the runtime under test, a
// plain client to check what the runtime did, and the test's label.
type dockerRT struct {
	t        *testing.T
	ctx      context.Context
	rt       *runtime.Docker
	cli      *client.Client
	id       string // random, to keep names unique on a shared engine
	node     string
	pauseBin string
	busybox  string
	net      string
}

// newDockerRT gives the test a runtime whose pause image is built from a
// copy of the test's skiff binary with a random suffix, so the test always
// imports (and then removes) an image of its own.
func newDockerRT(t *testing.T) *dockerRT {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerRT{t: t, ctx: ctx, cli: cli, id: randomID()}
	d.node = "e2e-" + d.id
	t.Cleanup(d.cleanup)
	d.pauseBin = copyWithNonce(t, skiffBin)
	d.rt = d.newRuntime(d.pauseBin)
	if d.busybox, err = images.Busybox(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *dockerRT) newRuntime(pauseBin string) *runtime.Docker {
	d.t.Helper()
	rt, err := runtime.NewDocker(runtime.DockerOptions{
		NodeName:    d.node,
		PauseBinary: pauseBin,
		Labels:      map[string]string{testLabel: d.t.Name()},
	})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { rt.Close() })
	return rt
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// copyWithNonce copies a binary and appends random bytes: it still runs,
// and hashes (so tags) differently from every other copy.
func copyWithNonce(t *testing.T, src string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := t.TempDir() + "/skiff"
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if _, err := out.WriteString("\nskiff-e2e-nonce-" + randomID()); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// cleanup removes every container, network and image labelled with the
// test's name, in that order (each may hold on to the next).
func (d *dockerRT) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", testLabel+"="+d.t.Name()))
	cs, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		d.t.Errorf("cleanup: %v", err)
	}
	for _, c := range cs {
		if err := d.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			d.t.Errorf("cleanup: %v", err)
		}
	}
	ns, _ := d.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	for _, n := range ns {
		if err := d.cli.NetworkRemove(ctx, n.ID); err != nil {
			d.t.Errorf("cleanup: %v", err)
		}
	}
	ims, _ := d.cli.ImageList(ctx, image.ListOptions{All: true, Filters: f})
	for _, im := range ims {
		if _, err := d.cli.ImageRemove(ctx, im.ID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
			d.t.Errorf("cleanup: %v", err)
		}
	}
	d.cli.Close()
}

// labels are a pod's labels plus the test's.
func (d *dockerRT) labels(pod string, extra ...string) map[string]string {
	l := map[string]string{
		testLabel:                 d.t.Name(),
		runtime.LabelPodNamespace: "default",
		runtime.LabelPodName:      pod,
		runtime.LabelPodUID:       "uid-" + d.id + "-" + pod,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func (d *dockerRT) name(s string) string { return "skiff-test-" + d.id + "-" + s }

// network makes the test's pod network once.
func (d *dockerRT) network() string {
	d.t.Helper()
	if d.net == "" {
		name := d.name("net")
		if _, err := d.rt.EnsureNetwork(d.ctx, name, testSubnet); err != nil {
			d.t.Fatal(err)
		}
		d.net = name
	}
	return d.net
}

// sandbox runs a pod sandbox on the test's network.
func (d *dockerRT) sandbox(pod string) (string, string) {
	d.t.Helper()
	id, ip, err := d.rt.RunSandbox(d.ctx, runtime.SandboxConfig{
		Name: d.name(pod), Labels: d.labels(pod), Hostname: pod, Network: d.network(),
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return id, ip
}

// container creates a busybox container in a sandbox running sh -c script.
func (d *dockerRT) container(sandbox, pod, name, script string, mod func(*runtime.ContainerConfig)) string {
	d.t.Helper()
	cfg := runtime.ContainerConfig{
		Name:      d.name(pod + "-" + name),
		Labels:    d.labels(pod, runtime.LabelContainer, name, runtime.LabelKind, runtime.KindApp),
		Image:     d.busybox,
		Cmd:       []string{"sh", "-c", script},
		SandboxID: sandbox,
	}
	if mod != nil {
		mod(&cfg)
	}
	id, err := d.rt.CreateContainer(d.ctx, cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	return id
}

// run creates and starts a container.
func (d *dockerRT) run(sandbox, pod, name, script string, mod func(*runtime.ContainerConfig)) string {
	d.t.Helper()
	id := d.container(sandbox, pod, name, script, mod)
	if err := d.rt.StartContainer(d.ctx, id); err != nil {
		d.t.Fatal(err)
	}
	return id
}

// waitExit waits until a container has exited.
func (d *dockerRT) waitExit(id string) *runtime.Container {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := d.rt.InspectContainer(d.ctx, id)
		if err != nil {
			d.t.Fatal(err)
		}
		if c.State == runtime.StateExited {
			return c
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("container %s still %s after 60s", c.Name, c.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *dockerRT) logs(id string, opts runtime.LogOptions) string {
	d.t.Helper()
	var b bytes.Buffer
	if err := d.rt.Logs(d.ctx, id, opts, &b); err != nil {
		d.t.Fatal(err)
	}
	return b.String()
}

// waitLogs waits until a container's output contains want.
func (d *dockerRT) waitLogs(id, want string) {
	d.t.Helper()
	eventually(d.t, 30*time.Second, func() error {
		if out := d.logs(id, runtime.LogOptions{Tail: -1}); !strings.Contains(out, want) {
			return fmt.Errorf("logs %q lack %q", out, want)
		}
		return nil
	})
}

func sha12(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

func TestDockerRuntimePauseImage(t *testing.T) {
	d := newDockerRT(t)
	start := time.Now()
	ref, err := d.rt.EnsurePauseImage(d.ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pause image import (%s): %s", ref, time.Since(start).Round(time.Millisecond))
	if want := "skiff-pause:" + sha12(t, d.pauseBin); ref != want {
		t.Fatalf("pause image %s, want %s (tag from the binary's hash)", ref, want)
	}
	ii, err := d.cli.ImageInspect(d.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if cmd := strings.Join(ii.Config.Cmd, " "); cmd != "/skiff pause" {
		t.Fatalf("pause image command %q, want /skiff pause", cmd)
	}
	if ii.Config.Labels[runtime.LabelManaged] != "true" || ii.Config.Labels[testLabel] != t.Name() {
		t.Fatalf("pause image labels %v", ii.Config.Labels)
	}

	// Unchanged binary: the image is reused, by this agent and by another.
	for i, rt := range []*runtime.Docker{d.rt, d.newRuntime(d.pauseBin)} {
		again, err := rt.EnsurePauseImage(d.ctx)
		if err != nil {
			t.Fatal(err)
		}
		ii2, err := d.cli.ImageInspect(d.ctx, again)
		if err != nil {
			t.Fatal(err)
		}
		if again != ref || ii2.ID != ii.ID {
			t.Fatalf("call %d: %s (%s), want the existing %s (%s)", i+2, again, ii2.ID, ref, ii.ID)
		}
	}

	// A new binary makes a new image; three agents importing it at once
	// leave exactly one image behind.
	bin2 := copyWithNonce(t, skiffBin)
	var wg sync.WaitGroup
	refs := make([]string, 3)
	errs := make([]error, 3)
	for i := range refs {
		rt := d.newRuntime(bin2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			refs[i], errs[i] = rt.EnsurePauseImage(d.ctx)
		}()
	}
	wg.Wait()
	want2 := "skiff-pause:" + sha12(t, bin2)
	for i := range refs {
		if errs[i] != nil || refs[i] != want2 {
			t.Fatalf("concurrent import %d: %q, %v; want %s", i, refs[i], errs[i], want2)
		}
	}
	ims, err := d.cli.ImageList(d.ctx, image.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", testLabel+"="+t.Name()))})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, im := range ims {
		tags = append(tags, strings.Join(im.RepoTags, ",")+"="+im.ID[:19])
	}
	slices.Sort(tags)
	if len(ims) != 2 || !strings.Contains(strings.Join(tags, " "), want2) {
		t.Fatalf("images after the concurrent imports: %v; want exactly %s and %s", tags, ref, want2)
	}

	// The sandbox runs the binary's pause command (seen from a container
	// sharing its PID namespace), which exits 0 on SIGTERM.
	sb, _ := d.sandbox("pause")
	probe := d.run(sb, "pause", "ps", "tr '\\0' ' ' < /proc/1/cmdline", func(c *runtime.ContainerConfig) { c.ShareProcessNamespace = true })
	d.waitExit(probe)
	if out := d.logs(probe, runtime.LogOptions{Tail: -1}); out != "/skiff pause " {
		t.Fatalf("the sandbox's PID 1 is %q, want /skiff pause", out)
	}
	start = time.Now()
	if err := d.rt.StopContainer(d.ctx, sb, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if c := d.waitExit(sb); c.ExitCode != 0 || c.Image != ref || time.Since(start) > 20*time.Second {
		t.Fatalf("sandbox from %s stopped with %d after %s; want image %s and exit 0 on SIGTERM, without waiting for SIGKILL", c.Image, c.ExitCode, time.Since(start), ref)
	}

	// A dynamically linked binary cannot run in the empty image; say so.
	if _, err := d.newRuntime("/bin/ls").EnsurePauseImage(d.ctx); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("pause image from /bin/ls: %v; want advice to build statically", err)
	}
}

func TestDockerRuntimeNetwork(t *testing.T) {
	d := newDockerRT(t)
	name := d.name("net")
	for i := range 2 {
		gw, err := d.rt.EnsureNetwork(d.ctx, name, testSubnet)
		if err != nil || gw != "10.213.0.1" {
			t.Fatalf("EnsureNetwork call %d: %q, %v; want gateway 10.213.0.1", i+1, gw, err)
		}
	}
	n, err := d.cli.NetworkInspect(d.ctx, name, network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Driver != "bridge" || len(n.IPAM.Config) != 1 || n.IPAM.Config[0].Subnet != testSubnet || n.Labels[runtime.LabelManaged] != "true" {
		t.Fatalf("network: driver %s ipam %+v labels %v", n.Driver, n.IPAM.Config, n.Labels)
	}
	def, err := d.cli.NetworkInspect(d.ctx, "bridge", network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mtu := def.Options["com.docker.network.driver.mtu"]; n.Options["com.docker.network.driver.mtu"] != mtu {
		t.Fatalf("network MTU option %q, want the default bridge's %q", n.Options["com.docker.network.driver.mtu"], mtu)
	}

	_, err = d.rt.EnsureNetwork(d.ctx, name, "10.213.1.0/24")
	if err == nil || !strings.Contains(err.Error(), testSubnet) {
		t.Fatalf("EnsureNetwork with another subnet: %v; want an error naming the existing %s", err, testSubnet)
	}

	// Agents starting together race to create it; all must succeed, with one network.
	name2 := d.name("net2")
	var wg sync.WaitGroup
	gws := make([]string, 4)
	errs := make([]error, 4)
	for i := range gws {
		rt := d.newRuntime(d.pauseBin)
		wg.Add(1)
		go func() {
			defer wg.Done()
			gws[i], errs[i] = rt.EnsureNetwork(d.ctx, name2, "10.213.1.0/24")
		}()
	}
	wg.Wait()
	for i := range gws {
		if errs[i] != nil || gws[i] != "10.213.1.1" {
			t.Fatalf("concurrent EnsureNetwork %d: %q, %v", i, gws[i], errs[i])
		}
	}
	list, err := d.cli.NetworkList(d.ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name2))})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, n := range list {
		if n.Name == name2 {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d networks named %s, want 1", count, name2)
	}
}

// TestDockerRuntimePod runs a pod as the agent does: a sandbox, an httpd
// container in it, and a client container that reaches the httpd on
// localhost and reports what the pod looks like from inside.
func TestDockerRuntimePod(t *testing.T) {
	d := newDockerRT(t)
	if _, err := d.rt.EnsurePauseImage(d.ctx); err != nil {
		t.Fatal(err)
	}
	hostPort, err := cluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sb, ip, err := d.rt.RunSandbox(d.ctx, runtime.SandboxConfig{
		Name:     d.name("web"),
		Labels:   d.labels("web"),
		Hostname: "web-0",
		Network:  d.network(),
		DNS: runtime.DNSConfig{
			Servers:  []string{"10.213.0.10"},
			Searches: []string{"default.svc.cluster.local", "svc.cluster.local"},
			Options:  []string{"ndots:5"},
		},
		ExtraHosts: []string{"skiff-extra:10.213.0.99"},
		Ports:      []runtime.PortMapping{{ContainerPort: 8080, HostPort: int32(hostPort), HostIP: "127.0.0.1", Protocol: "TCP"}},
		Sysctls:    map[string]string{"net.ipv4.ip_local_port_range": "20000 30000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sandboxTook := time.Since(start)
	addr, err := netip.ParseAddr(ip)
	if err != nil || !netip.MustParsePrefix(testSubnet).Contains(addr) || ip == "10.213.0.1" {
		t.Fatalf("sandbox IP %q (%v), want a host address in %s", ip, err, testSubnet)
	}

	start = time.Now()
	httpd := d.run(sb, "web", "httpd", `mkdir -p /tmp/www && echo "hello from $(hostname)" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`, nil)
	t.Logf("sandbox create+start+inspect: %s; app container create+start: %s", sandboxTook.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// The published port reaches the httpd through the sandbox's namespace.
	eventually(t, 20*time.Second, func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", hostPort))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "hello from web-0\n" {
			return fmt.Errorf("published port answered %q", b)
		}
		return nil
	})

	client := d.run(sb, "web", "client", `
echo "http=$(timeout 10 wget -qO- http://127.0.0.1:8080/)"
echo "hostname=$(hostname)"
echo "ip=$(ip -4 -o addr show eth0 | awk '{print $4}')"
echo "uid=$(id -u) pwd=$(pwd) greeting=$GREETING"
echo "pid1=$(tr '\0' ' ' < /proc/1/cmdline)"
grep -q '^nameserver 10.213.0.10$' /etc/resolv.conf && echo dns=ok
grep -q '^search default.svc.cluster.local svc.cluster.local$' /etc/resolv.conf && echo search=ok
grep -q '^options ndots:5$' /etc/resolv.conf && echo options=ok
grep -q 127.0.0.11 /etc/resolv.conf || echo engine-resolver=absent
grep -q '^10.213.0.99[[:space:]]skiff-extra$' /etc/hosts && echo hosts=ok
echo "sysctl=$(cat /proc/sys/net/ipv4/ip_local_port_range)"
`, func(c *runtime.ContainerConfig) {
		c.ShareProcessNamespace = true
		c.Security.User = "65534"
		c.WorkingDir = "/tmp"
		c.Env = []string{"GREETING=hi there"}
	})
	if c := d.waitExit(client); c.ExitCode != 0 {
		t.Fatalf("client exited %d:\n%s", c.ExitCode, d.logs(client, runtime.LogOptions{Tail: -1}))
	}
	out := d.logs(client, runtime.LogOptions{Tail: -1})
	for _, want := range []string{
		"http=hello from web-0\n",
		"hostname=web-0\n",
		"ip=" + ip + "/24\n",
		"uid=65534 pwd=/tmp greeting=hi there\n",
		"pid1=/skiff pause \n",
		"dns=ok\n", "search=ok\n", "options=ok\n", "engine-resolver=absent\n", "hosts=ok\n",
		"sysctl=20000\t30000\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("client output lacks %q:\n%s", want, out)
		}
	}

	// What the agent finds when it lists and inspects.
	sc, err := d.rt.InspectContainer(d.ctx, sb)
	if err != nil {
		t.Fatal(err)
	}
	if sc.IP != ip || sc.State != runtime.StateRunning || sc.Labels[runtime.LabelKind] != runtime.KindSandbox || !strings.HasPrefix(sc.Image, "skiff-pause:") || !strings.HasPrefix(sc.ImageID, "sha256:") {
		t.Fatalf("sandbox inspect: %+v", sc)
	}
	hc, err := d.rt.InspectContainer(d.ctx, httpd)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := d.cli.ImageInspect(d.ctx, d.busybox)
	if err != nil {
		t.Fatal(err)
	}
	if hc.Image != d.busybox || hc.ImageID != bb.ID || hc.Name != d.name("web-httpd") || hc.StartedAt.IsZero() || !hc.FinishedAt.IsZero() {
		t.Fatalf("httpd inspect: %+v", hc)
	}
	uid := d.labels("web")[runtime.LabelPodUID]
	for _, tc := range []struct {
		match map[string]string
		want  []string
	}{
		{map[string]string{runtime.LabelPodUID: uid}, []string{"sandbox:running", "app:running", "app:exited"}},
		{map[string]string{runtime.LabelPodUID: uid, runtime.LabelKind: runtime.KindApp}, []string{"app:running", "app:exited"}},
		{map[string]string{runtime.LabelNode: d.node, runtime.LabelContainer: "client"}, []string{"app:exited"}},
		{map[string]string{runtime.LabelPodUID: "nobody"}, nil},
	} {
		list, err := d.rt.ListContainers(d.ctx, tc.match)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range list {
			got = append(got, c.Labels[runtime.LabelKind]+":"+string(c.State))
			if c.Labels[runtime.LabelKind] == runtime.KindSandbox && c.IP != ip {
				t.Errorf("listed sandbox has IP %q, want %s", c.IP, ip)
			}
		}
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("ListContainers(%v) = %v, want %v", tc.match, got, want)
		}
	}
}

// TestDockerRuntimeHostNetwork: a host-network sandbox has no pod IP, and
// its containers see the host's network and hostname.
func TestDockerRuntimeHostNetwork(t *testing.T) {
	d := newDockerRT(t)
	sb, ip, err := d.rt.RunSandbox(d.ctx, runtime.SandboxConfig{Name: d.name("host"), Labels: d.labels("host"), Hostname: "ignored", HostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	if ip != "" {
		t.Fatalf("host-network sandbox IP %q, want none", ip)
	}
	c := d.run(sb, "host", "probe", `hostname; ls /sys/class/net`, nil)
	if st := d.waitExit(c); st.ExitCode != 0 {
		t.Fatalf("exit %d", st.ExitCode)
	}
	host, _ := os.Hostname()
	out := d.logs(c, runtime.LogOptions{Tail: -1})
	if !strings.HasPrefix(out, host+"\n") || !strings.Contains(out, "docker0") {
		t.Fatalf("inside a host-network pod: %q; want hostname %s and the host's interfaces", out, host)
	}
}

// TestDockerRuntimeContainerConfig checks the parts of a container spec
// the engine applies: mounts, security, resources and the command.
func TestDockerRuntimeContainerConfig(t *testing.T) {
	d := newDockerRT(t)
	sb, _ := d.sandbox("cfg")

	dataDir, outDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(dataDir+"/data.txt", []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := d.run(sb, "cfg", "secure", `
cat /data/data.txt
touch /data/x 2>/dev/null && echo data=writable || echo data=readonly
echo written > /out/result && echo out=ok
touch /rootfile 2>/dev/null && echo root=writable || echo root=readonly
grep ' /scratch ' /proc/mounts | grep -o 'size=[0-9a-z]*'
touch /scratch/f && (chown 65534 /scratch/f 2>/dev/null && echo chown=allowed || echo chown=denied)
ip addr add 10.99.0.1/32 dev lo 2>/dev/null && echo netadmin=allowed || echo netadmin=denied
grep NoNewPrivs /proc/self/status
echo "groups=$(id -G)"
`, func(c *runtime.ContainerConfig) {
		c.Mounts = []runtime.Mount{
			{Source: dataDir, Target: "/data", ReadOnly: true},
			{Source: outDir, Target: "/out"},
			{Target: "/scratch", Tmpfs: true, SizeBytes: 16 << 20},
		}
		c.Security = runtime.Security{
			ReadOnlyRootFS:  true,
			CapDrop:         []string{"CHOWN"},
			CapAdd:          []string{"NET_ADMIN"},
			NoNewPrivileges: true,
			GroupAdd:        []string{"1234"},
		}
		c.Resources = runtime.Resources{NanoCPUs: 500_000_000, CPUShares: 512, MemoryBytes: 64 << 20}
	})
	if st := d.waitExit(c); st.ExitCode != 0 {
		t.Fatalf("exit %d: %s", st.ExitCode, d.logs(c, runtime.LogOptions{Tail: -1}))
	}
	want := "from-host\ndata=readonly\nout=ok\nroot=readonly\nsize=16384k\nchown=denied\nnetadmin=allowed\nNoNewPrivs:\t1\ngroups=0 1234\n"
	if out := d.logs(c, runtime.LogOptions{Tail: -1}); out != want {
		t.Fatalf("inside the container:\n%s\nwant:\n%s", out, want)
	}
	if b, err := os.ReadFile(outDir + "/result"); err != nil || string(b) != "written\n" {
		t.Fatalf("read-write bind mount: %q, %v", b, err)
	}
	ci, err := d.cli.ContainerInspect(d.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	hc := ci.HostConfig
	if hc.NanoCPUs != 500_000_000 || hc.CPUShares != 512 || hc.Memory != 64<<20 || hc.MemorySwap != 64<<20 {
		t.Errorf("resources: NanoCPUs %d CPUShares %d Memory %d MemorySwap %d", hc.NanoCPUs, hc.CPUShares, hc.Memory, hc.MemorySwap)
	}
	if hc.LogConfig.Type != "json-file" || hc.RestartPolicy.Name != "no" {
		t.Errorf("log driver %q, restart policy %q; want json-file and no", hc.LogConfig.Type, hc.RestartPolicy.Name)
	}

	// Command and args: Kubernetes' rules on an image with an ENTRYPOINT
	// and a CMD (the image's CMD is ignored once a command is given).
	src, err := d.cli.ContainerCreate(d.ctx, &container.Config{Image: d.busybox, Labels: map[string]string{testLabel: t.Name()}}, nil, nil, nil, d.name("ep-src"))
	if err != nil {
		t.Fatal(err)
	}
	epImage := "skiff-test-ep:" + d.id
	if _, err := d.cli.ContainerCommit(d.ctx, src.ID, container.CommitOptions{
		Reference: epImage,
		Changes:   []string{`ENTRYPOINT ["echo","entrypoint"]`, `CMD ["image-cmd"]`, `LABEL ` + testLabel + `=` + t.Name()},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		entrypoint, cmd []string
		want            string
	}{
		{"image", nil, nil, "entrypoint image-cmd\n"},
		{"args", nil, []string{"args"}, "entrypoint args\n"},
		{"command", []string{"echo", "command"}, nil, "command\n"},
		{"both", []string{"echo", "command"}, []string{"args"}, "command args\n"},
		{"cleared", []string{}, []string{"echo", "cleared"}, "cleared\n"},
	} {
		id := d.run(sb, "cfg", "ep-"+tc.name, "", func(c *runtime.ContainerConfig) {
			c.Image, c.Entrypoint, c.Cmd = epImage, tc.entrypoint, tc.cmd
		})
		d.waitExit(id)
		if out := d.logs(id, runtime.LogOptions{Tail: -1}); out != tc.want {
			t.Errorf("%s: printed %q, want %q", tc.name, out, tc.want)
		}
	}
}

func TestDockerRuntimeExitCodes(t *testing.T) {
	d := newDockerRT(t)
	events, _ := d.rt.Events(d.ctx, map[string]string{testLabel: t.Name()})
	sb, _ := d.sandbox("exit")
	// The sandbox's create event shows the subscription is live.
	eventually(t, 30*time.Second, func() error {
		if ev := <-events; ev.ContainerID != sb || ev.Action != "create" {
			return fmt.Errorf("event %+v before the sandbox's create", ev)
		}
		return nil
	})

	c := d.run(sb, "exit", "three", "echo bye; exit 3", nil)
	st := d.waitExit(c)
	// The engine stamps StartedAt once its start call returns; a process
	// that exits at once can have finished a moment before that (seen:
	// FinishedAt 1 ms before StartedAt). More than a second would be a
	// real mix-up of the two.
	if st.ExitCode != 3 || st.OOMKilled || st.Error != "" || st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt.Add(-time.Second)) {
		t.Fatalf("exit 3: %+v", st)
	}

	// A missing executable: the start fails and the container stays created.
	bad := d.container(sb, "exit", "noexec", "", func(c *runtime.ContainerConfig) { c.Entrypoint = []string{"/nonexistent"} })
	if err := d.rt.StartContainer(d.ctx, bad); err == nil {
		t.Fatal("starting /nonexistent succeeded")
	}
	st, err := d.rt.InspectContainer(d.ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != runtime.StateCreated || st.ExitCode != 127 || !strings.Contains(st.Error, "/nonexistent") {
		t.Fatalf("failed start: state %s exit %d error %q; want created, 127 and the engine's message", st.State, st.ExitCode, st.Error)
	}
	t.Logf("failed start looks like: state=%s exit=%d error=%q", st.State, st.ExitCode, st.Error)

	// A shell doubling a string until the 8 MiB limit kills it.
	oom := d.run(sb, "exit", "oom", `x=0123456789; while true; do x="$x$x"; done`, func(c *runtime.ContainerConfig) {
		c.Resources.MemoryBytes = 8 << 20
	})
	st = d.waitExit(oom)
	if !st.OOMKilled || st.ExitCode != 137 {
		t.Fatalf("over its memory limit: exit %d OOMKilled %v; want 137 and OOMKilled", st.ExitCode, st.OOMKilled)
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.ContainerID == oom && ev.Action == "oom" {
				return
			}
		case <-timeout:
			t.Fatal("no oom event for the OOM-killed container")
		}
	}
}

func TestDockerRuntimeExec(t *testing.T) {
	d := newDockerRT(t)
	sb, _ := d.sandbox("exec")
	c := d.run(sb, "exec", "sleeper", "exec sleep 3600", nil)

	var stdout, stderr bytes.Buffer
	code, err := d.rt.Exec(d.ctx, c, runtime.ExecOptions{Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}, Stdout: &stdout, Stderr: &stderr})
	if err != nil || code != 7 || stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Fatalf("exec: code %d err %v stdout %q stderr %q; want 7, out, err", code, err, stdout.String(), stderr.String())
	}

	stdout.Reset()
	code, err = d.rt.Exec(d.ctx, c, runtime.ExecOptions{Cmd: []string{"sh", "-c", "tr a-z A-Z"}, Stdin: strings.NewReader("piped in\n"), Stdout: &stdout})
	if err != nil || code != 0 || stdout.String() != "PIPED IN\n" {
		t.Fatalf("exec with stdin: code %d err %v stdout %q", code, err, stdout.String())
	}

	// With a TTY, the terminal takes the sizes sent on Resize.
	stdout.Reset()
	resize := make(chan runtime.TerminalSize, 1)
	resize <- runtime.TerminalSize{Width: 100, Height: 40}
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	code, err = d.rt.Exec(ctx, c, runtime.ExecOptions{
		Cmd:    []string{"sh", "-c", `while [ "$(stty size)" != "40 100" ]; do sleep 0.1; done; echo resized`},
		TTY:    true,
		Stdout: &stdout,
		Resize: resize,
	})
	if err != nil || code != 0 || !strings.Contains(stdout.String(), "resized\r\n") {
		t.Fatalf("TTY exec: code %d err %v output %q", code, err, stdout.String())
	}

	if _, err := d.rt.Exec(d.ctx, "skiff-test-no-such-container", runtime.ExecOptions{Cmd: []string{"true"}}); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("exec in a missing container: %v, want ErrNotFound", err)
	}
	if err := d.rt.StopContainer(d.ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.rt.Exec(d.ctx, c, runtime.ExecOptions{Cmd: []string{"true"}}); err == nil {
		t.Fatal("exec in a stopped container succeeded")
	}
}

// syncBuffer is written by Logs in one goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDockerRuntimeLogs(t *testing.T) {
	d := newDockerRT(t)
	sb, _ := d.sandbox("logs")
	// Pauses between writes keep the order across the two pipes certain.
	c := d.run(sb, "logs", "talker", `for i in 1 2 3; do echo out$i; usleep 100000; echo err$i >&2; usleep 100000; done; exec sleep 3600`, nil)
	d.waitLogs(c, "err3")

	if got := d.logs(c, runtime.LogOptions{Tail: -1}); got != "out1\nerr1\nout2\nerr2\nout3\nerr3\n" {
		t.Fatalf("all logs: %q; want stdout and stderr merged in order", got)
	}
	if got := d.logs(c, runtime.LogOptions{Tail: 2}); got != "out3\nerr3\n" {
		t.Fatalf("tail 2: %q", got)
	}
	if got := d.logs(c, runtime.LogOptions{Tail: 0}); got != "" {
		t.Fatalf("tail 0: %q", got)
	}
	if got := d.logs(c, runtime.LogOptions{Tail: -1, LimitBytes: 7}); got != "out1\ner" {
		t.Fatalf("limit 7 bytes: %q", got)
	}
	stamped := strings.Split(strings.TrimSuffix(d.logs(c, runtime.LogOptions{Tail: -1, Timestamps: true}), "\n"), "\n")
	if len(stamped) != 6 {
		t.Fatalf("timestamped logs: %q", stamped)
	}
	var times []time.Time
	for _, line := range stamped {
		ts, text, _ := strings.Cut(line, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || len(times) > 0 && tm.Before(times[len(times)-1]) {
			t.Fatalf("timestamped line %q: %v (times must parse and not go back)", line, err)
		}
		times = append(times, tm)
		_ = text
	}
	if got := d.logs(c, runtime.LogOptions{Tail: -1, Since: times[4]}); got != "out3\nerr3\n" {
		t.Fatalf("since the 5th line's time: %q", got)
	}

	// Follow ends with ctx.
	ctx, cancel := context.WithCancel(d.ctx)
	var buf syncBuffer
	done := make(chan error, 1)
	go func() { done <- d.rt.Logs(ctx, c, runtime.LogOptions{Tail: 1, Follow: true}, &buf) }()
	eventually(t, 10*time.Second, func() error {
		if buf.String() != "err3\n" {
			return fmt.Errorf("followed %q", buf.String())
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("follow after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end with its context")
	}

	// Follow from the start sees lines as they come and ends when the container exits.
	ticker := d.container(sb, "logs", "ticker", `for i in 1 2 3 4 5; do echo tick$i; usleep 200000; done`, nil)
	if err := d.rt.StartContainer(d.ctx, ticker); err != nil {
		t.Fatal(err)
	}
	var followed bytes.Buffer
	if err := d.rt.Logs(d.ctx, ticker, runtime.LogOptions{Tail: -1, Follow: true}, &followed); err != nil {
		t.Fatal(err)
	}
	if followed.String() != "tick1\ntick2\ntick3\ntick4\ntick5\n" {
		t.Fatalf("followed to the end: %q", followed.String())
	}

	// A TTY container's output is one raw stream (no frames to split).
	tty := d.run(sb, "logs", "tty", "echo tty-line", func(c *runtime.ContainerConfig) { c.TTY = true })
	d.waitExit(tty)
	if got := d.logs(tty, runtime.LogOptions{Tail: -1}); got != "tty-line\r\n" {
		t.Fatalf("TTY logs: %q", got)
	}

	if err := d.rt.Logs(d.ctx, "skiff-test-no-such-container", runtime.LogOptions{Tail: -1}, io.Discard); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("logs of a missing container: %v, want ErrNotFound", err)
	}
}

func TestDockerRuntimeStop(t *testing.T) {
	d := newDockerRT(t)
	sb, _ := d.sandbox("stop")
	for _, tc := range []struct {
		name, script, signal string
		grace                time.Duration
		exit                 int
		output               string
		minTook, maxTook     time.Duration
	}{
		// The process exits on SIGTERM: no waiting for the grace period.
		{"term", `trap "echo got-term; exit 0" TERM; echo ready; while true; do usleep 100000; done`, "", 30 * time.Second, 0, "got-term", 0, 20 * time.Second},
		// The process ignores SIGTERM: SIGKILL after the grace, rounded up to 2 s.
		{"ignore", `trap "" TERM; echo ready; while true; do usleep 100000; done`, "", 1500 * time.Millisecond, 137, "", 1900 * time.Millisecond, 20 * time.Second},
		// The image's (here the spec's) stop signal is the one sent.
		{"usr1", `trap "echo got-usr1; exit 0" USR1; echo ready; while true; do usleep 100000; done`, "SIGUSR1", 30 * time.Second, 0, "got-usr1", 0, 20 * time.Second},
		// No grace: killed at once.
		{"kill", `trap "echo got-term; exit 0" TERM; echo ready; while true; do usleep 100000; done`, "", 0, 137, "", 0, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := d.run(sb, "stop", tc.name, tc.script, func(c *runtime.ContainerConfig) { c.StopSignal = tc.signal })
			d.waitLogs(c, "ready")
			start := time.Now()
			if err := d.rt.StopContainer(d.ctx, c, tc.grace); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			st := d.waitExit(c)
			out := d.logs(c, runtime.LogOptions{Tail: -1})
			if st.ExitCode != tc.exit || !strings.Contains(out, tc.output) || took < tc.minTook || took > tc.maxTook {
				t.Fatalf("stop with grace %s: exit %d after %s, output %q; want exit %d, output %q, in [%s, %s]",
					tc.grace, st.ExitCode, took, out, tc.exit, tc.output, tc.minTook, tc.maxTook)
			}
			// Stopping or killing what has stopped is not an error.
			if err := d.rt.StopContainer(d.ctx, c, time.Second); err != nil {
				t.Fatalf("stop of a stopped container: %v", err)
			}
			if err := d.rt.StopContainer(d.ctx, c, 0); err != nil {
				t.Fatalf("kill of a stopped container: %v", err)
			}
		})
	}

	// Remove kills a running container; a second remove says it is gone.
	c := d.run(sb, "stop", "removed", "exec sleep 3600", nil)
	if err := d.rt.RemoveContainer(d.ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := d.rt.InspectContainer(d.ctx, c); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("inspect after remove: %v, want ErrNotFound", err)
	}
	if err := d.rt.RemoveContainer(d.ctx, c); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("second remove: %v, want ErrNotFound", err)
	}
	if err := d.rt.StopContainer(d.ctx, c, time.Second); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("stop of a removed container: %v, want ErrNotFound", err)
	}
}

func TestDockerRuntimeEvents(t *testing.T) {
	d := newDockerRT(t)
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	events, errs := d.rt.Events(ctx, map[string]string{testLabel: t.Name(), runtime.LabelPodName: "ev"})

	// The sandbox's own create event shows the subscription is live.
	sb, _ := d.sandbox("ev")
	next := func() runtime.Event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case err := <-errs:
			t.Fatalf("event stream failed: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("no event within 30s")
		}
		return runtime.Event{}
	}
	for _, want := range []string{"create", "start"} {
		if ev := next(); ev.ContainerID != sb || ev.Action != want {
			t.Fatalf("sandbox event %+v, want %s", ev, want)
		}
	}

	// Another pod's containers are not reported.
	otherSB, _ := d.sandbox("other")
	d.run(otherSB, "other", "app", "exit 0", nil)

	c := d.run(sb, "ev", "app", "exec sleep 3600", nil)
	// Execs (probes) are not reported: they change nothing the agent tracks.
	if _, err := d.rt.Exec(d.ctx, c, runtime.ExecOptions{Cmd: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.rt.StopContainer(d.ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.rt.RemoveContainer(d.ctx, c); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 4 {
		ev := next()
		if ev.ContainerID != c {
			t.Fatalf("unexpected event %+v", ev)
		}
		if ev.Labels[runtime.LabelContainer] != "app" || ev.Labels[runtime.LabelPodName] != "ev" || ev.Labels["name"] != "" || ev.Labels["image"] != "" {
			t.Fatalf("event labels %v: want the container's labels only", ev.Labels)
		}
		got = append(got, ev.Action)
	}
	if strings.Join(got, " ") != "create start die destroy" {
		t.Fatalf("events %v, want create start die destroy", got)
	}

	cancel()
	for range events {
	}
	if err, ok := <-errs; ok {
		t.Fatalf("error channel after cancel: %v; want it closed without an error", err)
	}
}

func TestDockerRuntimeImages(t *testing.T) {
	d := newDockerRT(t)
	name, version, err := d.rt.Version(d.ctx)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := d.cli.ServerVersion(d.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if name != "docker" || version != sv.Version {
		t.Fatalf("Version: %s %s, want docker %s", name, version, sv.Version)
	}

	img, err := d.rt.ImageStatus(d.ctx, d.busybox)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := d.cli.ImageInspect(d.ctx, d.busybox)
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != bb.ID || !slices.Contains(img.Tags, d.busybox) || img.Size == 0 {
		t.Fatalf("ImageStatus(%s) = %+v", d.busybox, img)
	}
	if byID, err := d.rt.ImageStatus(d.ctx, bb.ID); err != nil || byID.ID != bb.ID {
		t.Fatalf("ImageStatus by ID: %+v, %v", byID, err)
	}
	if _, err := d.rt.ImageStatus(d.ctx, "skiff-test-missing:"+d.id); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("ImageStatus of a missing image: %v, want ErrNotFound", err)
	}
	if _, err := d.rt.ImageStatus(d.ctx, "not a reference"); !errors.Is(err, runtime.ErrInvalidImageName) {
		t.Fatalf("ImageStatus of a bad reference: %v, want ErrInvalidImageName", err)
	}
	if _, err := d.rt.PullImage(d.ctx, "BusyBox:latest", nil, nil); !errors.Is(err, runtime.ErrInvalidImageName) {
		t.Fatalf("PullImage of a bad reference: %v, want ErrInvalidImageName", err)
	}

	// No registry is reachable here, so the engine's message is whatever it
	// says for this machine (with a registry: "pull access denied for
	// nosuch…"); the runtime must pass it on whole.
	engineMsg := rawPullError(t, d, "nosuch:tag")
	var lines []string
	_, err = d.rt.PullImage(d.ctx, "nosuch:tag", &runtime.Auth{Username: "u", Password: "p"}, func(s string) { lines = append(lines, s) })
	if !errors.Is(err, runtime.ErrImagePull) || !strings.Contains(err.Error(), engineMsg) {
		t.Fatalf("pull of nosuch:tag: %v; want ErrImagePull carrying the engine's %q", err, engineMsg)
	}
	t.Logf("pull error as the agent sees it: %v", err)
}

// rawPullError asks the engine itself to pull ref and returns its error.
func rawPullError(t *testing.T, d *dockerRT, ref string) string {
	t.Helper()
	body, err := d.cli.ImagePull(d.ctx, ref, image.PullOptions{})
	if err != nil {
		return err.Error()
	}
	defer body.Close()
	b, _ := io.ReadAll(body)
	if i := bytes.Index(b, []byte(`"message":"`)); i >= 0 {
		msg, _, _ := strings.Cut(string(b[i+len(`"message":"`):]), `"`)
		return msg
	}
	t.Fatalf("the engine pulled %s: %s", ref, b)
	return ""
}
