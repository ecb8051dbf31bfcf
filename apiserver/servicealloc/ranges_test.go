package servicealloc

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseIPRange(t *testing.T) {
	cases := []struct {
		cidr      string
		first     string
		last      string
		size      int
		band      int
		wantError string
	}{
		{cidr: "10.96.0.0/16", first: "10.96.0.1", last: "10.96.255.254", size: 65534, band: 256},
		{cidr: "10.96.7.9/16", first: "10.96.0.1", last: "10.96.255.254", size: 65534, band: 256},
		{cidr: "10.0.0.0/24", first: "10.0.0.1", last: "10.0.0.254", size: 254, band: 16},
		{cidr: "10.0.0.0/20", first: "10.0.0.1", last: "10.0.15.254", size: 4094, band: 256},
		{cidr: "10.0.0.0/28", first: "10.0.0.1", last: "10.0.0.14", size: 14, band: 0},
		{cidr: "10.0.0.0/30", first: "10.0.0.1", last: "10.0.0.2", size: 2, band: 0},
		{cidr: "10.0.0.0/31", wantError: "too small"},
		{cidr: "10.0.0.0/8", wantError: "too large"},
		{cidr: "fd00::/108", wantError: "only IPv4"},
		{cidr: "10.96.0.0", wantError: "no '/'"},
	}
	for _, c := range cases {
		r, err := parseIPRange(c.cidr)
		if c.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantError) {
				t.Errorf("%s: error %v, want one containing %q", c.cidr, err, c.wantError)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.cidr, err)
		}
		if got := r.addr(0).String(); got != c.first {
			t.Errorf("%s: first %s, want %s", c.cidr, got, c.first)
		}
		if got := r.addr(r.size - 1).String(); got != c.last {
			t.Errorf("%s: last %s, want %s", c.cidr, got, c.last)
		}
		if r.size != c.size || r.band != c.band {
			t.Errorf("%s: size %d band %d, want %d and %d", c.cidr, r.size, r.band, c.size, c.band)
		}
		for _, out := range []string{r.prefix.Addr().String(), r.addr(r.size).String(), "192.168.0.1"} {
			if _, ok := r.offset(netip.MustParseAddr(out)); ok {
				t.Errorf("%s: %s counted as in range", c.cidr, out)
			}
		}
		if off, ok := r.offset(netip.MustParseAddr(c.last)); !ok || off != c.size-1 {
			t.Errorf("%s: offset of the last address %d, %v", c.cidr, off, ok)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	cases := []struct {
		in        string
		str       string
		band      int
		wantError bool
	}{
		{in: "30000-32767", str: "30000-32767", band: 86},
		{in: "30000+99", str: "30000-30099", band: 16},
		{in: "20000-40000", str: "20000-40000", band: 128},
		{in: "30000-30009", str: "30000-30009", band: 0},
		{in: "32767-30000", wantError: true},
		{in: "30000-70000", wantError: true},
		{in: "0", wantError: true},
		{in: "abc", wantError: true},
	}
	for _, c := range cases {
		r, err := parsePortRange(c.in)
		if c.wantError {
			if err == nil {
				t.Errorf("%s: no error", c.in)
			}
			continue
		}
		if err != nil || r.String() != c.str || r.band != c.band {
			t.Errorf("%s: %s band %d (%v), want %s band %d", c.in, r.String(), r.band, err, c.str, c.band)
		}
	}
}

func TestAdvertiseAddress(t *testing.T) {
	host := []netip.Addr{netip.MustParseAddr("fe80::1"), netip.MustParseAddr("169.254.3.4"),
		netip.MustParseAddr("192.168.1.20"), netip.MustParseAddr("172.17.0.1")}
	cases := []struct {
		given, listen string
		hostAddrs     []netip.Addr
		want          string
		wantError     bool
	}{
		{given: "10.1.2.3", listen: "127.0.0.1", hostAddrs: host, want: "10.1.2.3"},
		{listen: "10.0.0.5", hostAddrs: host, want: "10.0.0.5"},
		{listen: "127.0.0.1", hostAddrs: host, want: "192.168.1.20"},
		{listen: "0.0.0.0", hostAddrs: host, want: "192.168.1.20"},
		{listen: "", hostAddrs: host, want: "192.168.1.20"},
		{listen: "::1", hostAddrs: host, want: "192.168.1.20"},
		{listen: "127.0.0.1", hostAddrs: host[:2], wantError: true},
		{given: "fd00::1", hostAddrs: host, wantError: true},
		{given: "0.0.0.0", hostAddrs: host, wantError: true},
		{given: "nonsense", hostAddrs: host, wantError: true},
	}
	for _, c := range cases {
		got, err := AdvertiseAddress(c.given, c.listen, c.hostAddrs)
		if c.wantError != (err != nil) || (err == nil && got.String() != c.want) {
			t.Errorf("AdvertiseAddress(%q, %q) = %v, %v; want %q (error %v)", c.given, c.listen, got, err, c.want, c.wantError)
		}
	}
	for host, want := range map[string]bool{"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true, "0.0.0.0": false, "": false, "10.0.0.1": false} {
		if got := LoopbackOnly(host); got != want {
			t.Errorf("LoopbackOnly(%q) = %v", host, got)
		}
	}
}
