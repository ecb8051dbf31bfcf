package prober

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	skiffruntime "github.com/skiff-dev/skiff/nodeagent/runtime"
)

// The agent passes client-go's recorder straight in.
var _ Recorder = record.EventRecorder(nil)

// execReply is what the fake runtime answers to an exec of one command.
type execReply struct {
	code   int
	output string
	err    error
	// block makes the exec wait until its context ends, as a hung
	// command does; the runtime then returns the context's error.
	block bool
}

// fakeRuntime answers Exec from a script keyed by the command's first
// word. Only Exec is implemented: any other call hits the nil embedded
// interface and panics, which a test would notice.
type fakeRuntime struct {
	skiffruntime.Runtime

	mu        sync.Mutex
	replies   map[string]execReply
	calls     map[string]int           // by command word
	byID      map[string]int           // by container ID
	deadlines map[string]time.Duration // last exec's time left, by command word
	cancelled map[string]int           // blocked execs ended by their context
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{
		replies:   map[string]execReply{},
		calls:     map[string]int{},
		byID:      map[string]int{},
		deadlines: map[string]time.Duration{},
		cancelled: map[string]int{},
	}
}

func (f *fakeRuntime) set(word string, r execReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[word] = r
}

func (f *fakeRuntime) Exec(ctx context.Context, id string, opts skiffruntime.ExecOptions) (int, error) {
	word := opts.Cmd[0]
	f.mu.Lock()
	f.calls[word]++
	f.byID[id]++
	if d, ok := ctx.Deadline(); ok {
		f.deadlines[word] = time.Until(d)
	}
	r, ok := f.replies[word]
	f.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("no reply scripted for %q", word)
	}
	if r.block {
		<-ctx.Done()
		f.mu.Lock()
		f.cancelled[word]++
		f.mu.Unlock()
		return -1, ctx.Err()
	}
	if r.output != "" {
		_, _ = opts.Stdout.Write([]byte(r.output))
	}
	return r.code, r.err
}

func (f *fakeRuntime) count(word string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[word]
}

func (f *fakeRuntime) cancelledCount(word string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cancelled[word]
}

func (f *fakeRuntime) deadline(word string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deadlines[word]
}

func (f *fakeRuntime) countID(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byID[id]
}

var (
	ok   = execReply{}
	fail = func(out string) execReply { return execReply{code: 1, output: out} }
)

// event is one recorded event.
type event struct {
	ref     *corev1.ObjectReference
	kind    string
	reason  string
	message string
}

// eventLog is a Recorder that keeps every event.
type eventLog struct {
	mu     sync.Mutex
	events []event
	// notify, if set, receives each event's message (network tests use it
	// as the sign that a probe ran).
	notify chan string
}

func (l *eventLog) Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	e := event{ref: object.(*corev1.ObjectReference), kind: eventtype, reason: reason, message: fmt.Sprintf(messageFmt, args...)}
	l.mu.Lock()
	l.events = append(l.events, e)
	n := l.notify
	l.mu.Unlock()
	if n != nil {
		n <- e.message
	}
}

// take returns the events since the last take, as "Type Reason Message".
func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.kind+" "+e.reason+" "+e.message)
	}
	l.events = nil
	return out
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const podUID = types.UID("pod-uid-1")

func metaFor(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", UID: podUID, ResourceVersion: "7"}
}

func testPod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metaFor("web"),
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

// probe is an exec probe running word, with Kubernetes' defaults and the
// given changes.
func probe(word string, change ...func(*corev1.Probe)) *corev1.Probe {
	p := &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{word}}},
		TimeoutSeconds:   1,
		PeriodSeconds:    10,
		SuccessThreshold: 1,
		FailureThreshold: 3,
	}
	for _, c := range change {
		c(p)
	}
	return p
}

func period(s int32) func(*corev1.Probe)   { return func(p *corev1.Probe) { p.PeriodSeconds = s } }
func delay(s int32) func(*corev1.Probe)    { return func(p *corev1.Probe) { p.InitialDelaySeconds = s } }
func failures(n int32) func(*corev1.Probe) { return func(p *corev1.Probe) { p.FailureThreshold = n } }
func successes(n int32) func(*corev1.Probe) {
	return func(p *corev1.Probe) { p.SuccessThreshold = n }
}
func grace(s int64) func(*corev1.Probe) {
	return func(p *corev1.Probe) { p.TerminationGracePeriodSeconds = &s }
}

// harness is a Manager on a fake clock inside a synctest bubble: after
// step, every worker has finished what the tick set off and is blocked
// again, so counts and results can be asserted exactly.
type harness struct {
	t   *testing.T
	clk *testclock.FakeClock
	rt  *fakeRuntime
	ev  *eventLog
	m   *Manager
}

func inBubble(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		h := &harness{t: t, clk: testclock.NewFakeClock(t0), rt: newFakeRuntime(), ev: &eventLog{}}
		h.m = NewManager(h.rt, Options{Clock: h.clk, Recorder: h.ev})
		defer h.m.Close()
		test(t, h)
	})
}

// sync runs Manager.Sync and lets the new workers run their first probe.
func (h *harness) sync(pod *corev1.Pod, running map[string]ContainerInfo) {
	h.m.Sync(pod, "10.0.0.5", running)
	synctest.Wait()
}

// step advances the fake clock and lets the workers finish their ticks.
func (h *harness) step(d time.Duration) {
	h.clk.Step(d)
	synctest.Wait()
}

// updates drains the updates sent so far.
func (h *harness) updates() []Update {
	var out []Update
	for {
		synctest.Wait()
		select {
		case u := <-h.m.Updates():
			out = append(out, u)
		default:
			return out
		}
	}
}

func running(name, id string, started time.Time) map[string]ContainerInfo {
	return map[string]ContainerInfo{name: {ID: id, StartedAt: started}}
}

func (h *harness) ready(container, id string) string {
	r, known := h.m.Ready(podUID, container, id)
	return knownBool(r, known)
}

func (h *harness) started(container, id string) string {
	s, known := h.m.Started(podUID, container, id)
	return knownBool(s, known)
}

func knownBool(v, known bool) string {
	if !known {
		return "no probe"
	}
	return fmt.Sprint(v)
}

func updateString(us []Update) string {
	var parts []string
	for _, u := range us {
		s := fmt.Sprintf("%s/%s %s=%s", u.Container, u.ContainerID, u.Kind, u.Result)
		if u.Message != "" {
			s += " " + u.Message
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// proberGoroutines counts the live goroutines the prober package itself
// started (workers, the update forwarder), read from a full stack dump.
// runtime.NumGoroutine would count the whole test binary, where runtime
// and testing goroutines come and go on their own and make counts flaky.
func proberGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := goruntime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		i := strings.Index(g, "\ncreated by github.com/skiff-dev/skiff/nodeagent/prober.")
		if i < 0 {
			continue
		}
		// The line after "created by" names the creator's file; a
		// goroutine a test file started is the test's own, not ours.
		rest := g[i+1:]
		lines := strings.SplitN(rest, "\n", 3)
		if len(lines) >= 2 && strings.Contains(lines[1], "_test.go:") {
			continue
		}
		count++
	}
	return count
}
