package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	constants "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	clientspdy "k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

const (
	// agentDialTimeout bounds reaching an agent; agentHandshakeTimeout its
	// answer to the upgrade.
	agentDialTimeout      = 5 * time.Second
	agentHandshakeTimeout = 30 * time.Second
	// streamIdleTimeout closes a translated session with no traffic, as
	// kube-apiserver's translator does (and the kubelet's default).
	streamIdleTimeout = 4 * time.Hour
	// statusWriteTimeout bounds writing the final Status to a client.
	statusWriteTimeout = 10 * time.Second
	// tunnelBufferSize is the WebSocket buffer of a port-forward tunnel.
	tunnelBufferSize = 64 << 10
	// maxAgentErrorBody caps an agent's refusal copied to the client.
	maxAgentErrorBody = 1 << 20
)

// streamProxy carries one upgraded stream between a client and a node agent.
type streamProxy struct {
	// tls reaches agents: the cluster CA and the API server's client
	// certificate, HTTP/1.1 only (upgrades do not exist in HTTP/2).
	tls *tls.Config
	log *slog.Logger
}

// serve carries the stream to target in the way the client's protocol
// needs (see streams.go). It returns an error only if nothing was written.
func (p *streamProxy) serve(w http.ResponseWriter, r *http.Request, target *url.URL, sr streamRequest) error {
	switch {
	case sr.subresource != "portforward" && wsstream.IsWebSocketRequestWithStreamCloseProtocol(r):
		return p.translate(w, r, target, sr)
	case sr.subresource == "portforward" && wsstream.IsWebSocketRequestWithTunnelingProtocol(r):
		return p.tunnel(w, r, target)
	}
	return p.relay(w, r, target)
}

// relay forwards the client's request, Upgrade headers and all, to the
// agent. If the agent switches protocols, its 101 goes back to the client
// and the two connections are joined byte for byte until either side
// closes; otherwise its answer is passed on as it is (kubectl then prints
// "unable to upgrade connection: <the agent's message>", or falls back from
// WebSocket to SPDY). It returns an error only if nothing was written.
func (p *streamProxy) relay(w http.ResponseWriter, r *http.Request, target *url.URL) error {
	backend, resp, err := p.dialUpgrade(r.Context(), r.Method, target, forwardedHeader(r))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer backend.Close()
		passResponse(w, resp)
		return nil
	}
	client, brw, err := hijack(w, nil)
	if err != nil {
		backend.Close()
		p.log.Warn("stream: cannot take over the client connection", "err", err)
		return nil
	}
	// The agent's 101, headers as it sent them (Sec-WebSocket-Accept,
	// X-Stream-Protocol-Version…).
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\n")
	if err := resp.Header.Write(brw); err != nil {
		client.Close()
		backend.Close()
		return nil
	}
	_, _ = brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		client.Close()
		backend.Close()
		return nil
	}
	join(&bufferedConn{Conn: client, r: brw.Reader}, backend)
	return nil
}

// translate serves a WebSocket v5.channel.k8s.io exec or attach itself and
// runs the session against the agent over SPDY, as kube-apiserver's
// StreamTranslatorHandler does: stdin (with its close signal), stdout,
// stderr and resize go across; the outcome comes back as the Status on
// the error channel, a non-zero exit code as reason NonZeroExitCode with an
// ExitCode cause. Once the WebSocket is open every error travels as that
// Status, so translate returns an error only if the upgrade did not start.
func (p *streamProxy) translate(w http.ResponseWriter, r *http.Request, target *url.URL, sr streamRequest) error {
	channels := make([]wsstream.ChannelType, 5)
	channels[constants.StreamStdIn] = channelType(sr.stdin, wsstream.ReadChannel)
	channels[constants.StreamStdOut] = channelType(sr.stdout, wsstream.WriteChannel)
	channels[constants.StreamStdErr] = channelType(sr.stderr, wsstream.WriteChannel)
	channels[constants.StreamErr] = wsstream.WriteChannel
	// Without a terminal no one reads sizes; an ignored channel drops any
	// a client sends instead of stalling the connection's reader.
	channels[constants.StreamResize] = channelType(sr.tty, wsstream.ReadChannel)
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		constants.StreamProtocolV5Name: {Binary: true, Channels: channels},
	})
	conn.SetIdleTimeout(streamIdleTimeout)
	// The session ends when the client's connection does, even if the
	// process neither reads nor writes.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	_, streams, err := conn.Open(&upgradeWriter{ResponseWriter: w, gone: cancel}, r)
	if err != nil {
		// The WebSocket library has answered the client already.
		p.log.Debug("stream: websocket upgrade failed", "err", err)
		return nil
	}
	defer conn.Close()
	// Tell the client the session is open: an empty frame on the lowest
	// channel it reads.
	first := constants.StreamErr
	switch {
	case sr.stdout:
		first = constants.StreamStdOut
	case sr.stderr:
		first = constants.StreamStdErr
	}
	if _, err := streams[first].Write(nil); err != nil {
		return nil
	}
	writeStatus := func(st metav1.Status) {
		b, err := json.Marshal(st)
		if err != nil {
			return
		}
		conn.SetWriteDeadline(statusWriteTimeout)
		_, _ = streams[constants.StreamErr].Write(b)
		// Then the connection is closed: the client reads stdout and
		// stderr until it ends.
	}

	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{TLS: p.tls.Clone(), PingPeriod: 5 * time.Second})
	if err != nil {
		writeStatus(apierrors.NewInternalError(err).ErrStatus)
		return nil
	}
	executor, err := remotecommand.NewSPDYExecutorRejectRedirects(rt, clientspdy.NewUpgraderForStreaming(rt), http.MethodPost, target)
	if err != nil {
		writeStatus(apierrors.NewInternalError(err).ErrStatus)
		return nil
	}
	opts := remotecommand.StreamOptions{Tty: sr.tty}
	if sr.stdin {
		opts.Stdin = streams[constants.StreamStdIn]
	}
	if sr.stdout {
		opts.Stdout = streams[constants.StreamStdOut]
	}
	if sr.stderr {
		opts.Stderr = streams[constants.StreamStdErr]
	}
	if sr.tty {
		opts.TerminalSizeQueue = newResizeQueue(ctx, streams[constants.StreamResize])
	}
	err = executor.StreamWithContext(ctx, opts)
	writeStatus(sessionStatus(err))
	return nil
}

// sessionStatus is the Status a finished session reports on the v5 error
// channel.
func sessionStatus(err error) metav1.Status {
	if err == nil {
		return metav1.Status{Status: metav1.StatusSuccess}
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return se.ErrStatus
	}
	var ce exec.CodeExitError
	if errors.As(err, &ce) && ce.Exited() {
		return metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  constants.NonZeroExitCodeReason,
			Message: fmt.Sprintf("command terminated with non-zero exit code: %v", ce),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
				Type: constants.ExitCodeCauseType, Message: fmt.Sprintf("%d", ce.ExitStatus()),
			}}},
		}
	}
	return apierrors.NewInternalError(err).ErrStatus
}

func channelType(on bool, t wsstream.ChannelType) wsstream.ChannelType {
	if on {
		return t
	}
	return wsstream.IgnoreChannel
}

// resizeQueue turns the JSON sizes on the resize channel into client-go's
// TerminalSizeQueue.
type resizeQueue struct {
	sizes chan remotecommand.TerminalSize
}

func newResizeQueue(ctx context.Context, stream io.Reader) *resizeQueue {
	q := &resizeQueue{sizes: make(chan remotecommand.TerminalSize)}
	go func() {
		defer close(q.sizes)
		dec := json.NewDecoder(stream)
		for {
			var size remotecommand.TerminalSize
			if err := dec.Decode(&size); err != nil {
				return
			}
			select {
			case q.sizes <- size:
			case <-ctx.Done():
				return
			}
		}
	}()
	return q
}

// Next returns the next size, or nil when the client closed the channel.
func (q *resizeQueue) Next() *remotecommand.TerminalSize {
	size, ok := <-q.sizes
	if !ok {
		return nil
	}
	return &size
}

// tunnel serves port-forward's SPDY-over-WebSocket (kubectl ≥ 1.31): the
// SPDY upgrade the WebSocket stands for is made to the agent; if the agent
// switches to SPDY, the client's WebSocket is accepted with the matching
// sub-protocol and its binary messages are joined to the agent's raw SPDY
// connection. A refusal by the agent is passed on before any WebSocket is
// accepted, so kubectl falls back to plain SPDY and reports the agent's
// message. It returns an error only if nothing was written.
func (p *streamProxy) tunnel(w http.ResponseWriter, r *http.Request, target *url.URL) error {
	var protocols []string
	for _, proto := range gwebsocket.Subprotocols(r) {
		if strings.HasPrefix(proto, "SPDY/3.1+") && strings.HasSuffix(proto, ".k8s.io") {
			protocols = append(protocols, strings.TrimPrefix(proto, "SPDY/3.1+"))
		}
	}
	h := forwardedHeader(r)
	for _, k := range []string{"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
		h.Del(k)
	}
	h.Set(httpstream.HeaderConnection, httpstream.HeaderUpgrade)
	h.Set(httpstream.HeaderUpgrade, spdy.HeaderSpdy31)
	h.Del(httpstream.HeaderProtocolVersion)
	for _, proto := range protocols {
		h.Add(httpstream.HeaderProtocolVersion, proto)
	}
	backend, resp, err := p.dialUpgrade(r.Context(), http.MethodPost, target, h)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		!strings.EqualFold(resp.Header.Get(httpstream.HeaderUpgrade), spdy.HeaderSpdy31) {
		defer backend.Close()
		passResponse(w, resp)
		return nil
	}
	upgrader := gwebsocket.Upgrader{
		// Requests are authenticated by bearer token, which a browser
		// cannot attach to a cross-site WebSocket; kube-apiserver accepts
		// any origin here too.
		CheckOrigin:  func(*http.Request) bool { return true },
		Subprotocols: []string{"SPDY/3.1+" + resp.Header.Get(httpstream.HeaderProtocolVersion)},
		// Each write of the joined SPDY connection becomes one message,
		// framed at the write buffer's size: the 4 KiB default made eight
		// frames (and TLS records) of every 32 KiB copied.
		ReadBufferSize:  tunnelBufferSize,
		WriteBufferSize: tunnelBufferSize,
	}
	ws, err := upgrader.Upgrade(&upgradeWriter{ResponseWriter: w}, r, nil)
	if err != nil {
		// The upgrader has answered the client.
		backend.Close()
		p.log.Debug("stream: websocket upgrade failed", "err", err)
		return nil
	}
	join(portforward.NewTunnelingConnection("server", ws), backend)
	return nil
}

// dialUpgrade sends one request to the agent on a connection of its own
// and reads the answer's head. The connection, positioned after the head,
// is returned with the response: after a 101 it carries the new protocol.
func (p *streamProxy) dialUpgrade(ctx context.Context, method string, target *url.URL, h http.Header) (net.Conn, *http.Response, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: agentDialTimeout}, Config: p.tls}
	conn, err := d.DialContext(ctx, "tcp", target.Host)
	if err != nil {
		return nil, nil, err
	}
	req := (&http.Request{Method: method, URL: target, Host: target.Host, Header: h,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(ctx)
	_ = conn.SetDeadline(time.Now().Add(agentHandshakeTimeout))
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return &bufferedConn{Conn: conn, r: br}, resp, nil
}

// forwardedHeader is the client's request header as the agent gets it: the
// upgrade negotiation intact, the client's own credentials removed (the
// agent authenticates the API server by its certificate, and the API
// server has authorized the user), and the client's address recorded.
func forwardedHeader(r *http.Request) http.Header {
	h := r.Header.Clone()
	h.Del("Authorization")
	for k := range h {
		if strings.HasPrefix(k, "Impersonate-") {
			h.Del(k)
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := h.Get("X-Forwarded-For"); prior != "" {
			host = prior + ", " + host
		}
		h.Set("X-Forwarded-For", host)
	}
	return h
}

// passResponse copies an agent's refusal (status, type, body) to the client.
func passResponse(w http.ResponseWriter, resp *http.Response) {
	for _, k := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, maxAgentErrorBody))
	resp.Body.Close()
}

// join copies both ways until either side ends, then closes both, so the
// other side's reader returns too.
func join(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

// bufferedConn reads through a reader that may hold bytes already read
// off the connection.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// upgradeWriter lets the WebSocket libraries, which type-assert
// http.Hijacker, take the connection over through the server's writer
// wrappers; it clears the deadlines net/http set for reading the request,
// which must not cut a long session, records the 101 for the request
// metrics, and calls gone once the client's side of the connection ends.
type upgradeWriter struct {
	http.ResponseWriter
	gone func()
}

func (u *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := hijack(u.ResponseWriter, u.gone)
	if err != nil {
		return nil, nil, err
	}
	return conn, brw, nil
}

// hijack takes the client connection over (see upgradeWriter). With gone,
// every read goes through a wrapper that calls it when reading fails or the
// connection is closed.
func hijack(w http.ResponseWriter, gone func()) (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	for inner := w; inner != nil; {
		if rec, ok := inner.(*statusRecorder); ok {
			if rec.code == 0 {
				rec.code = http.StatusSwitchingProtocols
			}
			break
		}
		u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		inner = u.Unwrap()
	}
	if gone == nil {
		return conn, brw, nil
	}
	wc := &watchedConn{Conn: conn, r: brw.Reader, gone: gone}
	return wc, bufio.NewReadWriter(bufio.NewReader(wc), brw.Writer), nil
}

// watchedConn calls gone once, when a read fails or it is closed.
type watchedConn struct {
	net.Conn
	r      io.Reader
	gone   func()
	once   sync.Once
	closed atomic.Bool
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil {
		c.once.Do(c.gone)
		if c.closed.Load() {
			// Our own close ends the session normally; reporting it as a
			// read failure would only make the WebSocket library log it.
			err = io.EOF
		}
	}
	return n, err
}

func (c *watchedConn) Close() error {
	c.closed.Store(true)
	c.once.Do(c.gone)
	return c.Conn.Close()
}
