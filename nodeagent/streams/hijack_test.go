package streams

import (
	"io"
	"net"
	"testing"
	"time"
)

// A finished session's connection stays open until the client closes its
// side, so the client reads everything written before (the final Status);
// a client that never closes is cut after the linger timeout.
func TestWatchedConnLingersUntilClientCloses(t *testing.T) {
	server, client := net.Pipe()
	gone := make(chan struct{})
	wc := &watchedConn{Conn: server, r: server, gone: func() { close(gone) }, readEnded: make(chan struct{}), linger: 5 * time.Second}
	// The protocol reader, as the streaming library runs it.
	go func() { _, _ = io.Copy(io.Discard, wc) }()

	closed := make(chan time.Time, 1)
	go func() {
		_ = wc.Close()
		closed <- time.Now()
	}()
	<-gone
	// The server closed; the client still reads what was written.
	select {
	case <-closed:
		t.Fatal("Close returned before the client closed")
	case <-time.After(200 * time.Millisecond):
	}
	clientClosed := time.Now()
	client.Close()
	select {
	case at := <-closed:
		if at.Before(clientClosed) {
			t.Fatal("Close returned before the client closed")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return after the client closed")
	}

	// A client that never closes.
	server, client = net.Pipe()
	defer client.Close()
	wc = &watchedConn{Conn: server, r: server, gone: func() {}, readEnded: make(chan struct{}), linger: 100 * time.Millisecond}
	start := time.Now()
	if err := wc.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Close took %s with a 100ms linger", d)
	}
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection is still open after Close")
	}
}
