package logs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/plugin/datadir"
	"github.com/skiff-dev/skiff/plugin/nodes"
)

func tailOf(t *testing.T, content string, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := printTail(&out, f, n); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		content string
		n       int
		want    string
	}{
		{"a\nb\nc\n", -1, "a\nb\nc\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 10, "a\nb\nc\n"},
		{"a\nb\nc\n", 0, ""},
		{"a\nb\nc", 1, "c"},
		{"a\nb\nc", 2, "b\nc"},
		{"", 5, ""},
	} {
		if got := tailOf(t, tc.content, tc.n); got != tc.want {
			t.Errorf("tail %d of %q = %q, want %q", tc.n, tc.content, got, tc.want)
		}
	}
	// Larger than one read block.
	var b strings.Builder
	for i := 0; i < 20000; i++ {
		b.WriteString("line of some length to fill blocks\n")
	}
	b.WriteString("last\n")
	if got := tailOf(t, b.String(), 2); got != "line of some length to fill blocks\nlast\n" {
		t.Errorf("tail of a large file: %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe to read while follow writes.
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

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasSuffix(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q does not end with %q", out.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollowAppendTruncateReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "agent.log")
	if err := os.WriteFile(p, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	o := &options{streams: genericiooptions.IOStreams{Out: out}, component: Node, follow: true, tail: 1, poll: 5 * time.Millisecond}
	if err := os.MkdirAll(filepath.Dir(nodes.AgentLog(dir, "n1")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p, nodes.AgentLog(dir, "n1")); err != nil {
		t.Fatal(err)
	}
	p = nodes.AgentLog(dir, "n1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.run(ctx, dir, []string{"n1"}) }()
	waitFor(t, out, "two\n")
	if strings.Contains(out.String(), "one") {
		t.Errorf("--tail 1 printed %q", out.String())
	}
	appendTo := func(s string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	appendTo("three\n")
	waitFor(t, out, "two\nthree\n")
	// Truncated (a restarted agent opening its log afresh).
	if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "three\nx\n")
	// Replaced by another file at the same path.
	tmp := p + ".new"
	if err := os.WriteFile(tmp, []byte("fresh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "x\nfresh\n")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestComponents(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, etcdLog), []byte("etcd says\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No skiff.log yet: a clear error naming the logs there are.
	for _, c := range []string{Server, Agent} {
		o := &options{streams: genericiooptions.NewTestIOStreamsDiscard(), component: c}
		err := o.run(context.Background(), dir, nil)
		if !errors.Is(err, ErrNoLogFile) || !strings.Contains(err.Error(), "--data-dir") || !strings.Contains(err.Error(), "--component etcd") {
			t.Errorf("%s: err = %v", c, err)
		}
	}
	log := "time=1 level=INFO msg=\"API server ready\"\n" +
		"time=2 level=INFO msg=\"pod started\" component=agent pod=a\n" +
		"time=3 level=INFO msg=\"leader elected\"\n" +
		"time=4 level=INFO msg=\"pod started\" component=agent pod=b\n"
	if err := os.WriteFile(filepath.Join(dir, datadir.ServerLogFile), []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		component string
		tail      int
		want      string
	}{
		{Server, -1, log},
		{Server, 1, "time=4 level=INFO msg=\"pod started\" component=agent pod=b\n"},
		{Agent, -1, "time=2 level=INFO msg=\"pod started\" component=agent pod=a\ntime=4 level=INFO msg=\"pod started\" component=agent pod=b\n"},
		// --tail counts the agent's lines only.
		{Agent, 2, "time=2 level=INFO msg=\"pod started\" component=agent pod=a\ntime=4 level=INFO msg=\"pod started\" component=agent pod=b\n"},
	} {
		var out bytes.Buffer
		o := &options{streams: genericiooptions.IOStreams{Out: &out}, component: tc.component, tail: tc.tail}
		if err := o.run(context.Background(), dir, nil); err != nil || out.String() != tc.want {
			t.Errorf("%s --tail %d: %v\n%q\nwant\n%q", tc.component, tc.tail, err, out.String(), tc.want)
		}
	}
	var out bytes.Buffer
	o := &options{streams: genericiooptions.IOStreams{Out: &out}, component: Etcd, tail: -1}
	if err := o.run(context.Background(), dir, nil); err != nil || out.String() != "etcd says\n" {
		t.Errorf("etcd: %q %v", out.String(), err)
	}
	o = &options{streams: genericiooptions.NewTestIOStreamsDiscard(), component: Node}
	if err := o.run(context.Background(), dir, []string{"ghost"}); err == nil || !strings.Contains(err.Error(), "nodes add") {
		t.Errorf("missing node: %v", err)
	}
	if err := o.run(context.Background(), dir, nil); err == nil || !strings.Contains(err.Error(), "NAME") {
		t.Errorf("node without a name: %v", err)
	}
	o.component = "kubelet"
	if err := o.run(context.Background(), dir, nil); err == nil || !strings.Contains(err.Error(), "unknown --component") {
		t.Errorf("unknown component: %v", err)
	}
}

// TestLineFilterJoinsPartialLines: --follow reads whatever was appended,
// which may end mid-line.
func TestLineFilterJoinsPartialLines(t *testing.T) {
	var out bytes.Buffer
	lf := &lineFilter{w: &out, keep: "component=agent"}
	for _, chunk := range []string{"a component=ag", "ent 1\nserver 2\nb comp", "onent=agent 3\nc component=agent 4"} {
		if _, err := lf.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got := out.String(); got != "a component=agent 1\nb component=agent 3\n" {
		t.Fatalf("before flush: %q", got)
	}
	lf.flush()
	if got := out.String(); !strings.HasSuffix(got, "c component=agent 4") {
		t.Fatalf("after flush: %q", got)
	}
}
