package runtime

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestReassertSizes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan TerminalSize)
	out := reassertSizes(ctx, in, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond})
	a, b := TerminalSize{Width: 80, Height: 24}, TerminalSize{Width: 120, Height: 40}
	var got []TerminalSize
	recv := func(n int) {
		for i := 0; i < n; i++ {
			select {
			case s := <-out:
				got = append(got, s)
			case <-time.After(5 * time.Second):
				t.Fatalf("only %v", got)
			}
		}
	}
	in <- a
	recv(4) // a, then again at 10, 20 and 30 ms
	// Nothing more until a new size.
	select {
	case s := <-out:
		t.Fatalf("unexpected repeat %v after %v", s, got)
	case <-time.After(100 * time.Millisecond):
	}
	in <- b
	recv(4)
	if want := []TerminalSize{a, a, a, a, b, b, b, b}; !slices.Equal(got, want) {
		t.Errorf("sizes %v, want %v", got, want)
	}
	close(in)
	if _, ok := <-out; ok {
		t.Error("output not closed after input closed")
	}
}

// An attach that streamed nothing was too late only if the container had
// already stopped when it was made; one that stops quietly later ended a
// session that simply had no output.
func TestStoppedBy(t *testing.T) {
	attached := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name       string
		running    bool
		finishedAt string
		want       bool
	}{
		{"still running", true, "0001-01-01T00:00:00Z", false},
		{"stopped before the attach", false, "2026-11-28T11:59:59.95Z", true},
		{"stopped as the attach was made", false, "2026-11-28T12:00:00Z", true},
		{"stopped after the attach", false, "2026-11-28T12:00:00.2Z", false},
		{"never ran", false, "0001-01-01T00:00:00Z", false},
		{"unreadable time", false, "yesterday", false},
	} {
		if got := stoppedBy(c.running, c.finishedAt, attached); got != c.want {
			t.Errorf("%s: stoppedBy(%v, %q) = %v, want %v", c.name, c.running, c.finishedAt, got, c.want)
		}
	}
}
