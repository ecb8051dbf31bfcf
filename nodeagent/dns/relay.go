package dns

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/miekg/dns"
)

// Agents of different clusters can share one Docker engine, and with it
// the pod network and its gateway: their DNS sockets then sit in one
// SO_REUSEPORT group, and the kernel hands a pod's query to any of them,
// by a hash of its addresses and ports. An agent that receives a query
// from an address that is not a pod of its own cluster relays it to the
// agents of the other clusters in the group; the one whose cluster has
// that pod answers, the others refuse. Agents find each other through a
// directory on the host where each one keeps a small file (peerRecord)
// while it runs; files of dead agents are removed by whoever finds them.
// Relayed queries travel over loopback, to a socket of each agent that
// pods cannot reach, and carry the client's address in an EDNS0 option
// of the local/experimental range.

// relayOptionCode is the EDNS0 option carrying the original client.
const relayOptionCode = 65431

// DefaultPeerDir is where agents on a host register for relaying.
const DefaultPeerDir = "/run/skiff/dns-peers"

// peerRecord is an agent's registration.
type peerRecord struct {
	Cluster string `json:"cluster"`
	Node    string `json:"node"`
	PID     int    `json:"pid"`
	// Listen is the shared address ("10.42.0.1:53"): only agents on the
	// same one share a socket group.
	Listen string `json:"listen"`
	// Relay is the agent's private loopback address (UDP and TCP).
	Relay string `json:"relay"`
}

type relay struct {
	dir  string
	self peerRecord
	file string
	log  *slog.Logger
}

// register writes this agent's file; it is removed by unregister.
func (r *relay) register() error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(r.self)
	if err != nil {
		return err
	}
	r.file = filepath.Join(r.dir, fmt.Sprintf("%s_%s_%d.json", r.self.Cluster, r.self.Node, r.self.PID))
	tmp := r.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, r.file)
}

func (r *relay) unregister() {
	if r.file != "" {
		_ = os.Remove(r.file)
	}
}

// peers lists the live agents of other clusters on the same shared
// address. An agent of this cluster is not asked: it knows no more.
func (r *relay) peers() []peerRecord {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil
	}
	var out []peerRecord
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(r.dir, e.Name())
		if path == r.file {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var p peerRecord
		if json.Unmarshal(b, &p) != nil {
			continue
		}
		if !processAlive(p.PID) {
			_ = os.Remove(path)
			continue
		}
		if p.Cluster == r.self.Cluster || p.Listen != r.self.Listen || p.Relay == "" {
			continue
		}
		out = append(out, p)
	}
	return out
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ask relays req (from client, received over network) to the peers and
// returns the first answer that is not a refusal, or nil when no peer
// claims the client.
func (r *relay) ask(ctx context.Context, req *dns.Msg, client netip.Addr, network string) *dns.Msg {
	peers := r.peers()
	if len(peers) == 0 {
		return nil
	}
	relayed := relayedQuery(req, client)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan *dns.Msg, len(peers))
	for _, p := range peers {
		go func() {
			c := &dns.Client{Net: network}
			resp, _, err := c.ExchangeContext(ctx, relayed, p.Relay)
			if err != nil || resp.Rcode == dns.RcodeRefused {
				resp = nil
			}
			answers <- resp
		}()
	}
	for range peers {
		select {
		case resp := <-answers:
			if resp != nil {
				return resp
			}
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// relayedQuery copies req with the client's address and the client's own
// EDNS0 state (whether it sent OPT, its buffer size and DO bit) in the
// relay option, and a 64 KiB buffer so the peer's reply (already cut to
// the client's size) is never cut again on the way.
func relayedQuery(req *dns.Msg, client netip.Addr) *dns.Msg {
	m := req.Copy()
	var flags byte
	size := uint16(dns.MinMsgSize)
	opt := m.IsEdns0()
	if opt != nil {
		flags |= 1
		size = opt.UDPSize()
		if opt.Do() {
			flags |= 2
		}
	} else {
		m.SetEdns0(dns.MaxMsgSize, false)
		opt = m.IsEdns0()
	}
	opt.SetUDPSize(dns.MaxMsgSize)
	ip := client.Unmap().AsSlice()
	data := make([]byte, 0, 4+len(ip))
	data = append(data, 1, flags)
	data = binary.BigEndian.AppendUint16(data, size)
	data = append(data, ip...)
	opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: relayOptionCode, Data: data})
	return m
}

// unrelayed undoes relayedQuery: the client's original query and address.
// ok is false when m carries no relay option.
func unrelayed(m *dns.Msg) (*dns.Msg, netip.Addr, bool) {
	opt := m.IsEdns0()
	if opt == nil {
		return nil, netip.Addr{}, false
	}
	for i, o := range opt.Option {
		local, isLocal := o.(*dns.EDNS0_LOCAL)
		if !isLocal || local.Code != relayOptionCode {
			continue
		}
		d := local.Data
		if len(d) != 4+4 && len(d) != 4+16 || d[0] != 1 {
			return nil, netip.Addr{}, false
		}
		client, _ := netip.AddrFromSlice(d[4:])
		orig := m.Copy()
		oopt := orig.IsEdns0()
		oopt.Option = append(oopt.Option[:i:i], oopt.Option[i+1:]...)
		if d[1]&1 == 0 {
			extra := orig.Extra[:0:0]
			for _, rr := range orig.Extra {
				if rr.Header().Rrtype != dns.TypeOPT {
					extra = append(extra, rr)
				}
			}
			orig.Extra = extra
		} else {
			oopt.SetUDPSize(binary.BigEndian.Uint16(d[2:4]))
			oopt.SetDo(d[1]&2 != 0)
		}
		return orig, client.Unmap(), true
	}
	return nil, netip.Addr{}, false
}
