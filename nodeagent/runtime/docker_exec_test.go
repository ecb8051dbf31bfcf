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
