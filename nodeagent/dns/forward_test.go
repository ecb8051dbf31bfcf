package dns

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startUpstream runs a tiny authoritative server for the tests: external.test A
// is its answer, fail.test is SERVFAIL, anything else NXDOMAIN.
func startUpstream(t *testing.T, ip, port, answer string) {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		switch req.Question[0].Name {
		case "external.test.":
			rr, _ := dns.NewRR("external.test. 60 IN A " + answer)
			m.Answer = append(m.Answer, rr)
		case "fail.test.":
			m.Rcode = dns.RcodeServerFailure
		default:
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	addr := net.JoinHostPort(ip, port)
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		go func() { _ = s.ActivateAndServe() }()
		t.Cleanup(func() { _ = s.Shutdown() })
	}
}

// freeUDPTCPPort is a port free for UDP and TCP on 127.0.0.1 and 127.0.0.2.
func freeUDPTCPPort(t *testing.T) string {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		pc.Close()
		ok := true
		for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
			if l, err := net.Listen("tcp", net.JoinHostPort(ip, port)); err == nil {
				l.Close()
			} else {
				ok = false
			}
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return ""
}

func writeResolvConf(t *testing.T, path, content string, age time.Duration) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// Distinct modification times, however fast the test rewrites.
	mt := time.Now().Add(-age)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func TestForwarder(t *testing.T) {
	port := freeUDPTCPPort(t)
	startUpstream(t, "127.0.0.1", port, "192.0.2.1")
	startUpstream(t, "127.0.0.2", port, "192.0.2.2")
	path := filepath.Join(t.TempDir(), "resolv.conf")
	// 127.0.0.3 has no server: the forwarder moves on to the next one.
	writeResolvConf(t, path, "nameserver 127.0.0.3\nnameserver 127.0.0.1\nsearch corp.example\n", time.Hour)
	f := newForwarder(path, "")
	f.port, f.recheck, f.timeout = port, 0, time.Second
	ctx := context.Background()

	for _, network := range []string{"udp", "tcp"} {
		resp, err := f.Exchange(ctx, query("external.test.", dns.TypeA), network)
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if got := texts(resp.Answer); len(got) != 1 || got[0] != "external.test. 60 IN A 192.0.2.1" {
			t.Fatalf("%s: answer %q", network, got)
		}
	}
	resp, err := f.Exchange(ctx, query("missing.test.", dns.TypeA), "udp")
	if err != nil || resp.Rcode != dns.RcodeNameError {
		t.Fatalf("NXDOMAIN passes through: %v %v", resp, err)
	}

	// SERVFAIL from one server: the next is asked.
	writeResolvConf(t, path, "nameserver 127.0.0.1\nnameserver 127.0.0.2\n", 50*time.Minute)
	if resp, err := f.Exchange(ctx, query("fail.test.", dns.TypeA), "udp"); err != nil || resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("all SERVFAIL: the last answer is returned: %v %v", resp, err)
	}

	// The file changes: the new servers are used.
	writeResolvConf(t, path, "nameserver 127.0.0.2\n", 40*time.Minute)
	resp, err = f.Exchange(ctx, query("external.test.", dns.TypeA), "udp")
	if err != nil || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Fatalf("after the change: %v %v", resp, err)
	}

	// The file goes away: the last good servers stay.
	os.Remove(path)
	if resp, err := f.Exchange(ctx, query("external.test.", dns.TypeA), "udp"); err != nil || len(resp.Answer) != 1 {
		t.Fatalf("without the file: %v %v", resp, err)
	}
}

func TestForwarderNeverForwardsToItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	writeResolvConf(t, path, "nameserver 10.42.0.1\n", time.Hour)
	f := newForwarder(path, "10.42.0.1:53")
	if _, err := f.Exchange(context.Background(), query("external.test.", dns.TypeA), "udp"); !errors.Is(err, errNoUpstream) {
		t.Fatalf("got %v, want errNoUpstream", err)
	}
	// No nameserver line means the local resolver, as in glibc.
	writeResolvConf(t, path, "search corp.example\n", 30*time.Minute)
	f = newForwarder(path, "")
	if s, err := f.Servers(); err != nil || len(s) != 1 || s[0] != "127.0.0.1:53" {
		t.Fatalf("servers %v %v", s, err)
	}
	if _, err := newForwarder(filepath.Join(t.TempDir(), "none"), "").Servers(); err == nil {
		t.Fatal("a missing resolv.conf with nothing known must be an error")
	}
}
