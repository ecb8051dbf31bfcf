package streams

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
)

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
	wc := &watchedConn{Conn: conn, r: brw.Reader, gone: c.gone}
	return wc, bufio.NewReadWriter(bufio.NewReader(wc), brw.Writer), nil
}

// watchedConn calls gone once, when a read fails or it is closed.
type watchedConn struct {
	net.Conn
	r    io.Reader
	gone func()
	once sync.Once
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil {
		c.once.Do(c.gone)
	}
	return n, err
}

func (c *watchedConn) Close() error {
	c.once.Do(c.gone)
	return c.Conn.Close()
}
