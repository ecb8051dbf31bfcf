package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// forwarder is the upstream of a node: the name servers of its
// resolv.conf, asked in order as a stub resolver does. The agent forwards
// from the node's own network namespace, so loopback resolvers
// (systemd-resolved's 127.0.0.53) work. The file is re-read when it
// changes (checked at most every recheck), so a laptop moving networks
// keeps resolving.
type forwarder struct {
	path string
	// skip is an address never to forward to: the cluster DNS server
	// itself, which would loop.
	skip string
	// port is where the servers listen: 53, as resolv.conf cannot say
	// otherwise (tests use others).
	port    string
	timeout time.Duration
	recheck time.Duration
	now     func() time.Time

	mu      sync.Mutex
	checked time.Time
	modTime time.Time
	size    int64
	servers []string
}

// newForwarder forwards to the resolvers listed in the resolv.conf at
// path, never to skip ("ip:port", may be empty).
func newForwarder(path, skip string) *forwarder {
	return &forwarder{path: path, skip: skip, port: "53", timeout: 2 * time.Second, recheck: 2 * time.Second, now: time.Now}
}

// errNoUpstream is returned when the resolv.conf lists no usable server.
var errNoUpstream = errors.New("no upstream name server")

// Exchange asks each server in turn over network until one answers with
// something other than SERVFAIL or REFUSED (which a stub resolver also
// takes as "try the next one"); the last answer or error is returned.
func (f *forwarder) Exchange(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	servers, err := f.Servers()
	if err != nil {
		return nil, err
	}
	var last *dns.Msg
	var lastErr error = errNoUpstream
	for _, s := range servers {
		c := &dns.Client{Net: network, Timeout: f.timeout}
		resp, _, err := c.ExchangeContext(ctx, req, s)
		if err != nil {
			lastErr = fmt.Errorf("forward to %s: %w", s, err)
			continue
		}
		if resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			last = resp
			continue
		}
		return resp, nil
	}
	if last != nil {
		return last, nil
	}
	return nil, lastErr
}

// Servers returns the "ip:port" addresses to forward to, re-reading the
// file if it changed. With no nameserver line the local resolver is used
// (127.0.0.1, as glibc does). If the file cannot be read the last good
// list stays in use.
func (f *forwarder) Servers() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if f.servers != nil && now.Sub(f.checked) < f.recheck {
		return f.current()
	}
	f.checked = now
	st, err := os.Stat(f.path)
	if err != nil {
		return f.keep(fmt.Errorf("upstream resolvers: %w", err))
	}
	if f.servers != nil && st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return f.current()
	}
	rc, err := ReadResolvConf(f.path)
	if err != nil {
		return f.keep(err)
	}
	names := rc.Nameservers
	if len(names) == 0 {
		names = []string{"127.0.0.1"}
	}
	servers := []string{}
	for _, n := range names {
		addr := net.JoinHostPort(n, f.port)
		if addr != f.skip {
			servers = append(servers, addr)
		}
	}
	f.servers, f.modTime, f.size = servers, st.ModTime(), st.Size()
	return f.current()
}

// current is the list in use, or why there is none.
func (f *forwarder) current() ([]string, error) {
	if len(f.servers) == 0 {
		return nil, fmt.Errorf("%w: %s lists only the cluster DNS server itself", errNoUpstream, f.path)
	}
	return f.servers, nil
}

// keep goes on with the last good list when the file cannot be read.
func (f *forwarder) keep(err error) ([]string, error) {
	if len(f.servers) > 0 {
		return f.servers, nil
	}
	return nil, err
}
