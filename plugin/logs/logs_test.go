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

func TestServerLogsToItsTerminal(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, etcdLog), []byte("etcd says\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{Server, Agent} {
		o := &options{streams: genericiooptions.NewTestIOStreamsDiscard(), component: c}
		err := o.run(context.Background(), dir, nil)
		if !errors.Is(err, ErrNoLogFile) || !strings.Contains(err.Error(), "standard error") || !strings.Contains(err.Error(), "--component etcd") {
			t.Errorf("%s: err = %v", c, err)
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
