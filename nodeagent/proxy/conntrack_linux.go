//go:build linux

package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ctnetlink constants (linux/netfilter/nfnetlink_conntrack.h).
const (
	nfnlSubsysCTNetlink = 1
	ipctnlMsgCTGet      = 1
	ipctnlMsgCTDelete   = 2

	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaZone       = 18

	ctaTupleIP    = 1
	ctaTupleProto = 2

	ctaIPv4Src = 1
	ctaIPv4Dst = 2

	ctaProtoNum     = 1
	ctaProtoSrcPort = 2
	ctaProtoDstPort = 3

	nlaTypeMask = 0x3fff
	protoUDP    = 17
)

// netlinkConntrack deletes conntrack entries through ctnetlink, as
// kube-proxy does (it uses the vishvananda/netlink library; this is the
// small part of it the proxy needs).
type netlinkConntrack struct{}

func newFlowCleaner() flowCleaner { return netlinkConntrack{} }

// ctTuple is one direction of a conntrack entry.
type ctTuple struct {
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
}

// ctEntry is a dumped entry and the raw attributes that identify it for
// deletion.
type ctEntry struct {
	orig, reply ctTuple
	key         []byte
}

func (netlinkConntrack) deleteUDP(filters []flowFilter) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return 0, fmt.Errorf("conntrack netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("conntrack netlink bind: %w", err)
	}
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)

	entries, err := ctDump(fd)
	if err != nil {
		return 0, err
	}
	var local map[netip.Addr]bool
	for _, f := range filters {
		if f.LocalDst {
			local = localAddrs()
			break
		}
	}
	deleted := 0
	for i, e := range entries {
		if e.orig.proto != protoUDP || !matchesAny(e, filters, local) {
			continue
		}
		msg := ctRequest(ipctnlMsgCTDelete, unix.NLM_F_REQUEST|unix.NLM_F_ACK, uint32(i+2), e.key)
		if err := ctTalk(fd, msg, nil); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // gone by itself meanwhile
			}
			return deleted, fmt.Errorf("delete conntrack entry %v: %w", e.orig, err)
		}
		deleted++
	}
	return deleted, nil
}

func matchesAny(e ctEntry, filters []flowFilter, local map[netip.Addr]bool) bool {
	for _, f := range filters {
		if f.OrigDst.IsValid() && e.orig.dst != f.OrigDst {
			continue
		}
		if f.LocalDst && !local[e.orig.dst] {
			continue
		}
		if f.OrigDstPort != 0 && e.orig.dport != f.OrigDstPort {
			continue
		}
		if f.ReplySrc.IsValid() && e.reply.src != f.ReplySrc {
			continue
		}
		if f.Unnated && e.reply.src != e.orig.dst {
			continue
		}
		return true
	}
	return false
}

// localAddrs are the host's IPv4 addresses.
func localAddrs() map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP.To4()); ok {
				m[ip] = true
			}
		}
	}
	return m
}

// ctRequest builds a ctnetlink message for IPv4.
func ctRequest(msgType uint16, flags uint16, seq uint32, attrs []byte) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+4+len(attrs))
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysCTNetlink<<8|msgType)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b[unix.NLMSG_HDRLEN] = unix.AF_INET // nfgenmsg: family, version 0, res_id 0
	copy(b[unix.NLMSG_HDRLEN+4:], attrs)
	return b
}

// ctDump lists the IPv4 conntrack table.
func ctDump(fd int) ([]ctEntry, error) {
	var out []ctEntry
	err := ctTalk(fd, ctRequest(ipctnlMsgCTGet, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, nil), func(data []byte) {
		if e, ok := parseCTEntry(data); ok {
			out = append(out, e)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("dump conntrack table: %w", err)
	}
	return out, nil
}

// ctTalk sends one request and reads replies until its end: NLMSG_DONE
// for a dump, the ack (an NLMSG_ERROR with code 0) otherwise. each gets
// the payload of every data message.
func ctTalk(fd int, req []byte, each func([]byte)) error {
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return errors.New("short netlink error message")
				}
				if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			default:
				if each != nil && len(m.Data) > 4 {
					each(m.Data[4:]) // skip nfgenmsg
				}
			}
		}
	}
}

// nlAttrs splits a run of netlink attributes; raw includes the header
// and padding, for copying an attribute back into a request.
func nlAttrs(b []byte, each func(typ uint16, val, raw []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		typ := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
		if l < 4 || l > len(b) {
			return
		}
		padded := min((l+3)&^3, len(b))
		each(typ, b[4:l], b[:padded])
		b = b[padded:]
	}
}

func parseCTEntry(data []byte) (ctEntry, bool) {
	var e ctEntry
	var haveOrig, haveReply bool
	nlAttrs(data, func(typ uint16, val, raw []byte) {
		switch typ {
		case ctaTupleOrig:
			e.orig, haveOrig = parseCTTuple(val)
			e.key = append(e.key, raw...)
		case ctaTupleReply:
			e.reply, haveReply = parseCTTuple(val)
		case ctaZone:
			e.key = append(e.key, raw...)
		}
	})
	return e, haveOrig && haveReply
}

func parseCTTuple(b []byte) (ctTuple, bool) {
	var t ctTuple
	nlAttrs(b, func(typ uint16, val, _ []byte) {
		switch typ {
		case ctaTupleIP:
			nlAttrs(val, func(typ uint16, val, _ []byte) {
				a, ok := netip.AddrFromSlice(val)
				if !ok {
					return
				}
				switch typ {
				case ctaIPv4Src:
					t.src = a
				case ctaIPv4Dst:
					t.dst = a
				}
			})
		case ctaTupleProto:
			nlAttrs(val, func(typ uint16, val, _ []byte) {
				switch {
				case typ == ctaProtoNum && len(val) >= 1:
					t.proto = val[0]
				case typ == ctaProtoSrcPort && len(val) >= 2:
					t.sport = binary.BigEndian.Uint16(val)
				case typ == ctaProtoDstPort && len(val) >= 2:
					t.dport = binary.BigEndian.Uint16(val)
				}
			})
		}
	})
	return t, t.src.IsValid() && t.dst.IsValid()
}
