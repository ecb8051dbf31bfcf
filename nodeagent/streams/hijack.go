package streams

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// lingerTimeout bounds how long a finished session's connection waits for
// the client to close it first (see watchedConn.Close).
const lingerTimeout = 10 * time.Second

// watchClient returns a writer whose Hijack hands out a connection that
// cancels the returned request's context when the client's side ends (a
// read fails, or the connection is closed), and a done func that cancels
// it when the handler returns. The streaming library passes the request's
// context to the runtime; without this, a process that neither reads nor
// writes would keep its stream open after the client went away, because
// net/http does not cancel a request's context once its connection is
// hijacked. The writer has no Unwrap, so the streaming library's search
// for the original writer stops at it.
func watchClient(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, func()) {
	ctx, cancel := context.WithCancel(r.Context())
	return &clientWatcher{ResponseWriter: w, gone: cancel}, r.WithContext(ctx), cancel
}

type clientWatcher struct {
	http.ResponseWriter
	gone func()
}

// Hijack takes over the connection. Reads go through the connection
// wrapper, buffered bytes first, so every read the protocol layer makes
// is seen.
func (c *clientWatcher) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(c.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	wc := &watchedConn{Conn: conn, r: brw.Reader, gone: c.gone, readEnded: make(chan struct{}), linger: lingerTimeout}
	return wc, bufio.NewReadWriter(bufio.NewReader(wc), brw.Writer), nil
}

// watchedConn calls gone once, when a read fails or it is closed, and
// lingers on Close until the client has closed its side.
type watchedConn struct {
	net.Conn
	r    io.Reader
	gone func()
	once sync.Once

	readEnded chan struct{} // closed when a read fails: the client closed, or the connection broke
	endOnce   sync.Once
	linger    time.Duration
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil {
		c.once.Do(c.gone)
		c.endOnce.Do(func() { close(c.readEnded) })
	}
	return n, err
}

// Close closes the connection once the client has closed its side, or
// after the linger timeout.
//
// Why: the streaming library ends a session by writing the final Status
// (an exec's exit code, an attach's error) on the error stream, resetting
// the streams and closing the connection at once. A SPDY client
// (kubectl before 1.29, and the API server's translator for newer ones)
// reads frames off the connection into per-stream queues that it drops
// when the connection ends; under load the Status could still be queued
// then, and the client reported success: kubectl attach -i exited 0 in 7
// of 150 runs on a loaded machine although the attach had failed. The
// client closes the connection itself as soon as it has the Status, so
// waiting for that costs nothing when all is well. The streaming
// library's protocol reader keeps reading meanwhile, which is how the
// client's close is seen.
func (c *watchedConn) Close() error {
	c.once.Do(c.gone)
	t := time.NewTimer(c.linger)
	select {
	case <-c.readEnded:
	case <-t.C:
	}
	t.Stop()
	return c.Conn.Close()
}
