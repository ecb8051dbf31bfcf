package runtime

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestFakeExecStreamSimulatesOnlyWhatItCan(t *testing.T) {
	ctx := context.Background()
	f := NewFake(FakeOptions{NodeName: "n1"})
	sandbox, app := fakePod(t, f, "n1", "web")
	cases := []struct {
		cmd      []string
		stdin    string
		wantOut  string
		wantCode int
		wantErr  string
	}{
		{cmd: []string{"echo", "a", "b"}, wantOut: "a b\n"},
		{cmd: []string{"cat"}, stdin: "line 1\nline 2\n", wantOut: "line 1\nline 2\n"},
		{cmd: []string{"true"}},
		{cmd: []string{"false"}, wantCode: 1},
		{cmd: []string{"cat", "/etc/hostname"}, wantCode: -1, wantErr: "reads only stdin"},
		{cmd: []string{"sh", "-c", "exit 0"}, wantCode: -1, wantErr: `command "sh" is not supported by the fake runtime (it simulates only cat, echo, false, true)`},
		{cmd: nil, wantCode: -1, wantErr: "no command"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		opts := ExecOptions{Cmd: c.cmd, Stdout: &out}
		if c.stdin != "" {
			opts.Stdin = strings.NewReader(c.stdin)
		}
		code, err := f.ExecStream(ctx, app, opts)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: error %v, want %q", c.cmd, err, c.wantErr)
			}
			continue
		}
		if err != nil || code != c.wantCode || out.String() != c.wantOut {
			t.Errorf("%q: code %d, out %q, %v; want %d, %q", c.cmd, code, out.String(), err, c.wantCode, c.wantOut)
		}
	}
	if _, err := f.ExecStream(ctx, app, ExecOptions{Cmd: []string{"ls"}}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("unsupported command: %v is not ErrNotSupported", err)
	}
	if err := f.Attach(ctx, app, AttachOptions{Stdout: &bytes.Buffer{}}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("attach: %v, want ErrNotSupported", err)
	}
	if err := f.PortForward(ctx, sandbox, 80, nil); !errors.Is(err, ErrNotSupported) {
		t.Errorf("port-forward: %v, want ErrNotSupported", err)
	}
	// A stopped container cannot be exec'd into, as with the engine.
	if err := f.Exit(app, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ExecStream(ctx, app, ExecOptions{Cmd: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("exec in a stopped container: %v", err)
	}
	if _, err := f.ExecStream(ctx, "nope", ExecOptions{Cmd: []string{"true"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("exec in a missing container: %v", err)
	}
}
