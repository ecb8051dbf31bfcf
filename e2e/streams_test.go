package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// streamsWebPod serves two things: its hostname on 127.0.0.1:8080 only (a
// port-forward must reach the pod's loopback, as with the kubelet), and
// the same files on every address at 8081, behind the Service.
func streamsWebPod(image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "streams-web"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptrInt64(1),
			Containers: []corev1.Container{{Name: "main", Image: image, Command: []string{"sh", "-c",
				"mkdir -p /www && hostname > /www/hostname && httpd -p 127.0.0.1:8080 -h /www && httpd -f -p 8081 -h /www"}}},
		},
	}
}

// attachPod's container reads lines from its stdin and answers them, then
// exits: what `kubectl attach` talks to.
func attachPod(name, image string, tty bool) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptrInt64(1),
			Containers: []corev1.Container{{Name: "main", Image: image, Stdin: true, StdinOnce: true, TTY: tty,
				Command: []string{"sh", "-c", "read a; echo got:$a; read b; echo got:$b"}}},
		},
	}
}

// TestStreamsKubectl is acceptance 3 of the Services-and-streams issue:
// kubectl exec (with and without -it, exit codes, stdin, stderr), attach,
// cp both ways, port-forward to a pod (to its loopback) and to a Service,
// for each supported kubectl, through the API server to the node agent
// and real Docker.
func TestStreamsKubectl(t *testing.T) {
	s, cs, _ := startUp(t)
	img := busybox(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, streamsWebPod(img), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "streams-web"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8081)}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, minor := range kubectlVersions {
		for _, tty := range []bool{false, true} {
			name := fmt.Sprintf("attach-%s-tty-%v", strings.ReplaceAll(minor, ".", "-"), tty)
			if _, err := cs.CoreV1().Pods("default").Create(ctx, attachPod(name, img, tty), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitPod(t, cs, "default", "web", 60*time.Second, podReady)

	t.Run("node-credentials-refused", func(t *testing.T) {
		// A node agent's token may not open streams (as with the
		// Node authorizer); only the message's words are checked,
		// as each client-go prints a refused upgrade its own way.
		tok, err := os.ReadFile(filepath.Join(s.DataDir(), "node-token"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := s.RESTConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfg = rest.AnonymousClientConfig(cfg)
		cfg.BearerToken = strings.TrimSpace(string(tok))
		u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("web").SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Command: []string{"true"}, Stdout: true}, scheme.ParameterCodec).URL()
		e, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
		if err != nil {
			t.Fatal(err)
		}
		err = e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
		if err == nil || !strings.Contains(err.Error(), `User "system:node-bootstrap" cannot create resource "pods/exec" in API group "" in the namespace "default"`) {
			t.Errorf("exec with the node token: %v", err)
		}
	})

	for _, minor := range kubectlVersions {
		t.Run(minor, func(t *testing.T) {
			k := newKubectl(t, s, minor)
			v := strings.ReplaceAll(minor, ".", "-")

			t.Run("exec", func(t *testing.T) {
				if out := k.must("exec", "web", "--", "echo", "hi"); out != "hi\n" {
					t.Errorf("exec echo: %q", out)
				}
				out, errOut, code := k.run("exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
				if code != 7 || out != "out\n" || !strings.HasPrefix(errOut, "err\n") {
					t.Errorf("exit 7: code %d, stdout %q, stderr %q", code, out, errOut)
				}
				// stdin reaches the process, and its end closes the process's stdin.
				out, errOut, code = k.runIn("line one\nline two\n", "exec", "-i", "web", "--", "sh", "-c", "cat; echo done")
				if code != 0 || out != "line one\nline two\ndone\n" {
					t.Errorf("exec -i: code %d, stdout %q, stderr %q", code, out, errOut)
				}
				_, errOut, code = k.run("exec", "web", "-c", "nope", "--", "true")
				if code != 1 || !strings.Contains(errOut, "container nope is not valid for pod web") {
					t.Errorf("unknown container: code %d, stderr %q", code, errOut)
				}
			})

			t.Run("exec-tty", func(t *testing.T) {
				term := startInTerminal(t, k, 33, 101, "exec", "-it", "web", "--", "sh")
				// kubectl sends the window's size as the session opens; the
				// shell may read its first command before the size lands.
				term.askUntil("stty size\r", "33 101")
				// A new window size reaches the process. It travels on the
				// resize stream, the next command on stdin: either may
				// arrive first, so ask until the answer changes.
				term.resize(40, 120)
				term.askUntil("stty size\r", "40 120")
				term.send("exit 3\r")
				if code := term.wait(); code != 3 {
					t.Errorf("exec -it exit 3: kubectl exited %d; screen:\n%s", code, term.screen())
				}
			})

			t.Run("attach", func(t *testing.T) {
				name := "attach-" + v + "-tty-false"
				waitPod(t, cs, "default", name, 60*time.Second, podRunning)
				out, errOut, code := k.runIn("hello\nworld\n", "attach", "-i", name)
				if code != 0 || !strings.Contains(out, "got:hello\ngot:world\n") {
					t.Errorf("attach -i: code %d, stdout %q, stderr %q", code, out, errOut)
				}
				name = "attach-" + v + "-tty-true"
				waitPod(t, cs, "default", name, 60*time.Second, podRunning)
				term := startInTerminal(t, k, 24, 80, "attach", "-it", name)
				term.send("hello\r")
				term.waitFor("got:hello")
				term.send("world\r")
				term.waitFor("got:world")
				if code := term.wait(); code != 0 {
					t.Errorf("attach -it: kubectl exited %d; screen:\n%s", code, term.screen())
				}
			})

			t.Run("run -i keeps what was written before the attach", func(t *testing.T) {
				// kubectl run -i attaches once the pod is running and
				// ready; the readiness probe passes only after the first
				// line is written, so that line always precedes the
				// attach. The engine's attach streams only later output:
				// the line was lost while kubectl exited 0 (in CI, the
				// whole output of a quick wget was).
				name := "early-" + v
				overrides := fmt.Sprintf(`{"spec":{"containers":[{"name":%q,"readinessProbe":{"exec":{"command":["cat","/tmp/ready"]},"initialDelaySeconds":1,"periodSeconds":1}}]}}`, name)
				out, errOut, code := k.runIn("", "run", name, "--rm", "-i", "--restart=Never", "--image="+img, "--override-type=strategic", "--overrides="+overrides, "--",
					"sh", "-c", "echo early; echo err >&2; touch /tmp/ready; sleep 3; echo late")
				if code != 0 || !strings.Contains(out, "early\nlate\n") || !strings.Contains(errOut, "err\n") {
					t.Errorf("run -i: code %d, stdout %q, stderr %q; want early, late and err", code, out, errOut)
				}
			})

			t.Run("cp", func(t *testing.T) {
				dir := t.TempDir()
				content := make([]byte, 256<<10)
				_, _ = rand.Read(content)
				local := filepath.Join(dir, "up.bin")
				if err := os.WriteFile(local, content, 0o644); err != nil {
					t.Fatal(err)
				}
				k.must("cp", local, "web:/tmp/cp-"+v+".bin")
				sum := sha256.Sum256(content)
				if out := k.must("exec", "web", "--", "sha256sum", "/tmp/cp-"+v+".bin"); !strings.HasPrefix(out, hex.EncodeToString(sum[:])) {
					t.Errorf("copied to the pod: sha256sum %q, want %x", out, sum)
				}
				back := filepath.Join(dir, "down.bin")
				k.must("cp", "web:/tmp/cp-"+v+".bin", back)
				got, err := os.ReadFile(back)
				if err != nil || !bytes.Equal(got, content) {
					t.Errorf("copied back: %d bytes, %v; want the %d bytes sent", len(got), err, len(content))
				}
			})

			t.Run("port-forward", func(t *testing.T) {
				// The pod's loopback-only listener.
				port := startPortForward(t, k, "pod/web", "0:8080")
				if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%s/hostname", port)); err != nil || body != "web\n" {
					t.Errorf("port-forward pod/web 0:8080: %q, %v", body, err)
				}
				// A Service: kubectl picks a pod and the target port itself.
				port = startPortForward(t, k, "svc/web", "0:80")
				for i := 0; i < 3; i++ {
					if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%s/hostname", port)); err != nil || body != "web\n" {
						t.Errorf("port-forward svc/web 0:80, request %d: %q, %v", i, body, err)
					}
				}
			})
		})
	}
}

// TestStreamsOnFakeNode: a node of the fake runtime answers exec with
// the few commands it can simulate truthfully and refuses the rest,
// attach and port-forward with a clear error; never a pretended success.
func TestStreamsOnFakeNode(t *testing.T) {
	s := startServer(t)
	node := fakeNodes(t, s, 1)[0]
	cs := clientset(t, s)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sim"},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "main", Image: "busybox:local",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, cs, "default", "sim", 30*time.Second, podRunning)
	for _, minor := range []string{"1.27", "1.33"} {
		k := newKubectl(t, s, minor)
		if out := k.must("exec", "sim", "--", "echo", "simulated"); out != "simulated\n" {
			t.Errorf("%s exec echo: %q", minor, out)
		}
		if out, _, code := k.runIn("in\n", "exec", "-i", "sim", "--", "cat"); code != 0 || out != "in\n" {
			t.Errorf("%s exec -i cat: %q, exit %d", minor, out, code)
		}
		if _, _, code := k.run("exec", "sim", "--", "false"); code != 1 {
			t.Errorf("%s exec false: exit %d, want 1", minor, code)
		}
		_, errOut, code := k.run("exec", "sim", "--", "ls", "/")
		if code == 0 || !strings.Contains(errOut, `command "ls" is not supported by the fake runtime`) {
			t.Errorf("%s exec ls: exit %d, stderr %q", minor, code, errOut)
		}
		_, errOut, code = k.runIn("x\n", "attach", "-i", "sim")
		if code == 0 || !strings.Contains(errOut, "a container of the fake runtime runs no process") {
			t.Errorf("%s attach: exit %d, stderr %q", minor, code, errOut)
		}
		port := startPortForward(t, k, "pod/sim", "0:80")
		if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%s/", port)); err == nil {
			t.Errorf("%s port-forward to a simulated pod answered %q", minor, body)
		}
	}
}

// terminal runs kubectl in a pseudo-terminal, as a user at a shell does.
type terminal struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func startInTerminal(t *testing.T, k *kubectl, rows, cols uint16, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command(k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), k.env...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, cmd: cmd, ptmx: ptmx, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			term.mu.Lock()
			term.buf.Write(b[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		ptmx.Close()
	})
	return term
}

func (term *terminal) screen() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.buf.String()
}

func (term *terminal) send(s string) {
	term.t.Helper()
	if _, err := io.WriteString(term.ptmx, s); err != nil {
		term.t.Fatalf("type %q: %v", s, err)
	}
}

func (term *terminal) resize(rows, cols uint16) {
	term.t.Helper()
	if err := pty.Setsize(term.ptmx, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		term.t.Fatal(err)
	}
}

func (term *terminal) waitFor(s string) {
	term.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(term.screen(), s) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	term.t.Fatalf("%q not on the screen within 30s:\n%s", s, term.screen())
}

// askUntil types input every half second until want is on the screen.
func (term *terminal) askUntil(input, want string) {
	term.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		term.send(input)
		for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if strings.Contains(term.screen(), want) {
				return
			}
		}
	}
	term.t.Fatalf("%q not on the screen within 30s:\n%s", want, term.screen())
}

// wait returns kubectl's exit code.
func (term *terminal) wait() int {
	term.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- term.cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			}
			term.t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		term.t.Fatalf("kubectl did not exit within 30s; screen:\n%s", term.screen())
	}
	return -1
}

var forwardingFrom = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) ->`)

// startPortForward runs `kubectl port-forward target ports` until the test
// ends and returns the local port kubectl chose.
func startPortForward(t *testing.T, k *kubectl, target, ports string) string {
	t.Helper()
	cmd := exec.Command(k.bin, "--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "port-forward", target, ports)
	cmd.Env = append(os.Environ(), k.env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := forwardingFrom.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case p := <-found:
		return p
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl port-forward %s %s printed no local port; stderr: %s", target, ports, stderr.String())
	}
	return ""
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

// TestStreamsFigures measures what the performance section asks
// of streams, and checks every byte: the round trip of an exec (SPDY and
// WebSocket, through the API server and the agent, against docker exec
// straight to the engine) and port-forward throughput against reading
// from the pod's address directly. Figures are logged, not asserted.
func TestStreamsFigures(t *testing.T) {
	s, cs, _ := startUp(t)
	img := busybox(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, streamsWebPod(img), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := waitPod(t, cs, "default", "web", 60*time.Second, podReady)
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}

	const rounds = 30
	execURL := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("web").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "main", Command: []string{"echo", "pong"}, Stdout: true, Stderr: true}, scheme.ParameterCodec).URL()
	spdyExec, err := remotecommand.NewSPDYExecutor(cfg, "POST", execURL)
	if err != nil {
		t.Fatal(err)
	}
	wsExec, err := remotecommand.NewWebSocketExecutor(cfg, "GET", execURL.String())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.NewDocker(runtime.DockerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := containerID(pod, "main")
	measures := map[string]func() (string, error){
		"docker exec (engine API, no Skiff)": func() (string, error) {
			var out bytes.Buffer
			code, err := rt.Exec(ctx, id, runtime.ExecOptions{Cmd: []string{"echo", "pong"}, Stdout: &out})
			if err == nil && code != 0 {
				err = fmt.Errorf("exit %d", code)
			}
			return out.String(), err
		},
		"exec via API server, SPDY": func() (string, error) {
			var out bytes.Buffer
			err := spdyExec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: io.Discard})
			return out.String(), err
		},
		"exec via API server, WebSocket v5": func() (string, error) {
			var out bytes.Buffer
			err := wsExec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: io.Discard})
			return out.String(), err
		},
	}
	for _, name := range []string{"docker exec (engine API, no Skiff)", "exec via API server, SPDY", "exec via API server, WebSocket v5"} {
		var d []time.Duration
		for i := 0; i < rounds; i++ {
			start := time.Now()
			out, err := measures[name]()
			if err != nil || out != "pong\n" {
				t.Fatalf("%s: %q, %v", name, out, err)
			}
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		t.Logf("%-36s p50 %6.1f ms  p90 %6.1f ms (%d rounds)", name, ms(d[len(d)/2]), ms(d[len(d)*9/10]), rounds)
	}
	k := newKubectl(t, s, "1.33")
	var d []time.Duration
	for i := 0; i < 10; i++ {
		start := time.Now()
		if out := k.must("exec", "web", "--", "echo", "pong"); out != "pong\n" {
			t.Fatalf("kubectl exec: %q", out)
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	t.Logf("%-36s p50 %6.1f ms (10 runs, kubectl start-up included)", "kubectl 1.33 exec -- echo pong", ms(d[len(d)/2]))

	// 64 MiB of random bytes, read through port-forward and directly.
	k.must("exec", "web", "--", "sh", "-c", "head -c 67108864 /dev/urandom > /www/big")
	want := strings.Fields(k.must("exec", "web", "--", "sha256sum", "/www/big"))[0]
	for _, minor := range []string{"1.27", "1.33"} {
		k := newKubectl(t, s, minor)
		port := startPortForward(t, k, "pod/web", "0:8081")
		rate, err := readAll(fmt.Sprintf("http://127.0.0.1:%s/big", port), want)
		if err != nil {
			t.Fatalf("port-forward (kubectl %s): %v", minor, err)
		}
		direct, err := readAll(fmt.Sprintf("http://%s:8081/big", pod.Status.PodIP), want)
		if err != nil {
			t.Fatalf("direct: %v", err)
		}
		t.Logf("port-forward, kubectl %s: %6.0f MB/s; direct to the pod IP %6.0f MB/s; ratio %.2f", minor, rate, direct, rate/direct)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// readAll downloads url, checks its sha256, and returns the rate in MB/s.
func readAll(url, wantSHA string) (float64, error) {
	c := &http.Client{Timeout: 2 * time.Minute}
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return 0, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSHA {
		return 0, fmt.Errorf("%s: %d bytes with sha256 %s, want %s", url, n, got, wantSHA)
	}
	return float64(n) / 1e6 / time.Since(start).Seconds(), nil
}
