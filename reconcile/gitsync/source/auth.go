package source

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// Secret keys read from Request.Secret, as Flux documents them for a
// GitRepository secretRef.
const (
	SecretUsername    = "username"
	SecretPassword    = "password"
	SecretBearerToken = "bearerToken"
	SecretIdentity    = "identity"
	SecretKnownHosts  = "known_hosts"
	SecretCACert      = "ca.crt"
	SecretCAFile      = "caFile" // older name Flux still accepts
)

// connAuth is everything a transport needs besides the URL.
type connAuth struct {
	method   transport.AuthMethod
	caBundle []byte
	// hostKeyRejected is set by the ssh host key callback when it refuses a
	// key, so the error can be classified without parsing messages.
	hostKeyRejected *atomic.Bool
}

// buildAuth turns the Secret into credentials for ep's protocol. Keys that
// do not apply to the protocol are ignored, as in Flux, but a protocol's
// required keys must all be present.
func buildAuth(ep *transport.Endpoint, secret map[string][]byte, allowInsecureHTTP bool, timeout time.Duration) (*connAuth, error) {
	a := &connAuth{hostKeyRejected: &atomic.Bool{}}
	switch ep.Protocol {
	case "http", "https":
		user, pass, token := string(secret[SecretUsername]), string(secret[SecretPassword]), string(secret[SecretBearerToken])
		switch {
		case token != "" && user != "":
			return nil, fmt.Errorf("%w: secret has both %q and %q; set one", ErrInvalidRequest, SecretBearerToken, SecretUsername)
		case token != "":
			a.method = &githttp.TokenAuth{Token: token}
		case user != "":
			a.method = &githttp.BasicAuth{Username: user, Password: pass}
		case pass != "":
			return nil, fmt.Errorf("%w: secret has %q but no %q", ErrInvalidRequest, SecretPassword, SecretUsername)
		}
		if a.method != nil && ep.Protocol == "http" && !allowInsecureHTTP {
			return nil, fmt.Errorf("%w: refusing to send credentials over plain http to %s; use https", ErrInvalidRequest, ep.Host)
		}
		if ca := secret[SecretCACert]; len(ca) > 0 {
			a.caBundle = ca
		} else if ca := secret[SecretCAFile]; len(ca) > 0 {
			a.caBundle = ca
		}
	case "ssh":
		var missing []string
		for _, k := range []string{SecretIdentity, SecretKnownHosts} {
			if len(secret[k]) == 0 {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: ssh needs a secret with %s; missing %s (unknown host keys are never trusted)",
				ErrInvalidRequest, quoteJoin([]string{SecretIdentity, SecretKnownHosts}), quoteJoin(missing))
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, secret[SecretIdentity], string(secret[SecretPassword]))
		if err != nil {
			return nil, fmt.Errorf("%w: parsing secret key %q: %v", ErrInvalidRequest, SecretIdentity, err)
		}
		db, err := knownHostsDB(secret[SecretKnownHosts])
		if err != nil {
			return nil, err
		}
		port := ep.Port
		if port == 0 {
			port = 22
		}
		hostPort := net.JoinHostPort(ep.Host, fmt.Sprint(port))
		check := db.HostKeyCallback()
		rejected := a.hostKeyRejected
		keys.HostKeyCallback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if err := check(hostname, remote, key); err != nil {
				rejected.Store(true)
				return err
			}
			return nil
		}
		// Offer only the algorithms known_hosts has keys for, so a server
		// with several host keys presents one we can check.
		keys.HostKeyAlgorithms = db.HostKeyAlgorithms(hostPort)
		a.method = &sshAuth{PublicKeys: keys, timeout: timeout}
	case "file":
	default:
		return nil, fmt.Errorf("%w: unsupported URL scheme %q", ErrInvalidRequest, ep.Protocol)
	}
	return a, nil
}

// knownHostsDB parses known_hosts data. The parser only reads files, so
// the data goes through a private temporary file that is gone on return.
func knownHostsDB(data []byte) (*knownhosts.HostKeyDB, error) {
	f, err := os.CreateTemp("", "skiff-known-hosts-*")
	if err != nil {
		return nil, fmt.Errorf("writing known_hosts to a temporary file: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing known_hosts to a temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing known_hosts to a temporary file: %w", err)
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, fmt.Errorf("%w: parsing secret key %q: %v", ErrInvalidRequest, SecretKnownHosts, err)
	}
	return db, nil
}

// sshAuth adds a dial timeout: go-git dials ssh without the caller's
// context, so an unresponsive host would otherwise hang past the deadline.
type sshAuth struct {
	*gitssh.PublicKeys
	timeout time.Duration
}

func (s *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	cfg, err := s.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = s.timeout
	return cfg, nil
}

func quoteJoin(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	sort.Strings(q)
	return strings.Join(q, " and ")
}
