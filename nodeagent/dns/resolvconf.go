package dns

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// ResolvConf is what a resolv.conf says, in the shape a pod's resolv.conf
// is written from: name servers, search domains and options ("ndots:5",
// "edns0").
type ResolvConf struct {
	Nameservers []string
	Searches    []string
	Options     []string
}

// maxResolvConfSize bounds what is read, as the kubelet does (10 MiB): a
// resolv.conf is tiny, a huge file is a mistake.
const maxResolvConfSize = 10 << 20

// ReadResolvConf parses the resolv.conf at path.
func ReadResolvConf(path string) (ResolvConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return ResolvConf{}, fmt.Errorf("read resolv.conf: %w", err)
	}
	defer f.Close()
	rc, err := ParseResolvConf(f)
	if err != nil {
		return rc, fmt.Errorf("parse %s: %w", path, err)
	}
	return rc, nil
}

// ParseResolvConf reads resolv.conf syntax with the kubelet's rules:
// "nameserver" lines accumulate; the last "search" line wins, its domains
// without a trailing dot (so "a." and "a" count once against the limits)
// and without a lone "." (the root adds nothing to a search); the last
// "options" line wins. Comments start with '#' or ';'.
func ParseResolvConf(r io.Reader) (ResolvConf, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxResolvConfSize+1))
	if err != nil {
		return ResolvConf{}, err
	}
	if len(b) > maxResolvConfSize {
		return ResolvConf{}, fmt.Errorf("larger than %d bytes", maxResolvConfSize)
	}
	var rc ResolvConf
	for _, line := range bytes.Split(b, []byte("\n")) {
		fields := strings.Fields(string(line))
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";") {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) < 2 {
				return rc, fmt.Errorf("nameserver line without an address")
			}
			rc.Nameservers = append(rc.Nameservers, fields[1])
		case "search":
			rc.Searches = []string{}
			for _, s := range fields[1:] {
				if s != "." {
					rc.Searches = append(rc.Searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			rc.Options = append([]string{}, fields[1:]...)
		}
	}
	return rc, nil
}

// String renders rc as a resolv.conf file.
func (rc ResolvConf) String() string {
	var b strings.Builder
	for _, s := range rc.Nameservers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(rc.Searches) > 0 {
		b.WriteString("search " + strings.Join(rc.Searches, " ") + "\n")
	}
	if len(rc.Options) > 0 {
		b.WriteString("options " + strings.Join(rc.Options, " ") + "\n")
	}
	return b.String()
}
