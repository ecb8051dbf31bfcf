package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files under the data directory.
const (
	CAFile         = "tls/ca.crt"
	CAKeyFile      = "tls/ca.key"
	ServingFile    = "tls/server.crt"
	ServingKeyFile = "tls/server.key"
	AdminTokenFile = "admin-token"
	NodeTokenFile  = "node-token"
	KubeconfigFile = "kubeconfig"
)

// Credentials are what the server needs to serve TLS and authenticate.
type Credentials struct {
	CA         *x509.Certificate
	CAKey      *ecdsa.PrivateKey
	CAPEM      []byte
	Serving    tls.Certificate
	AdminToken string
	NodeToken  string
	// ClientCert is the API server's identity towards node agents.
	ClientCert tls.Certificate
}

// Ensure loads the credentials from dir, creating whatever is missing.
// hosts are the DNS names and IP addresses the serving certificate must cover.
func Ensure(dir string, hosts []string, now time.Time) (*Credentials, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	c := &Credentials{}
	var err error
	if c.CA, c.CAKey, c.CAPEM, err = ensureCA(dir, now); err != nil {
		return nil, err
	}
	if c.Serving, err = ensureServing(dir, c.CA, c.CAKey, hosts, now); err != nil {
		return nil, err
	}
	if c.AdminToken, err = ensureToken(filepath.Join(dir, AdminTokenFile)); err != nil {
		return nil, err
	}
	if c.NodeToken, err = ensureNodeToken(filepath.Join(dir, NodeTokenFile), c.CAPEM); err != nil {
		return nil, err
	}
	if c.ClientCert, err = issueClient(c.CA, c.CAKey, APIServerClientName, now); err != nil {
		return nil, err
	}
	return c, nil
}

// APIServerClientName is the identity the API server presents to node
// agents when it proxies logs and streams to them.
const APIServerClientName = "skiff-apiserver"

// nodeTokenPrefix starts a node token, which embeds the hash of the
// cluster CA (as k3s's K10 tokens do) so an agent can verify the server it
// joins before trusting it: K10<sha256 of ca.crt, hex>::node:<secret>.
const nodeTokenPrefix = "K10"

// CAHash is the hex sha256 of the CA certificate PEM, as node tokens carry it.
func CAHash(caPEM []byte) string {
	sum := sha256.Sum256(caPEM)
	return hex.EncodeToString(sum[:])
}

// ParseNodeToken returns the CA hash a node token carries.
func ParseNodeToken(tok string) (caHash string, err error) {
	tok = strings.TrimSpace(tok)
	rest, ok := strings.CutPrefix(tok, nodeTokenPrefix)
	if !ok {
		return "", errors.New("not a node token (it must start with K10)")
	}
	hash, secret, ok := strings.Cut(rest, "::node:")
	if !ok || len(hash) != 64 || len(secret) < 32 {
		return "", errors.New("malformed node token (want K10<ca hash>::node:<secret>)")
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return "", errors.New("malformed node token: the CA hash is not hex")
	}
	return hash, nil
}

func ensureNodeToken(path string, caPEM []byte) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		tok := string(trimSpace(b))
		if hash, err := ParseNodeToken(tok); err == nil && hash == CAHash(caPEM) {
			return tok, nil
		}
		// A token of an older format, or for another CA: replace it.
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("pki: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := nodeTokenPrefix + CAHash(caPEM) + "::node:" + hex.EncodeToString(raw)
	if err := WriteFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

// issueClient makes a client certificate signed by the CA (kept in memory:
// it is re-issued at every start).
func issueClient(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, now time.Time) (tls.Certificate, error) {
	key, err := newKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	sn, err := serial()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: client certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// SignServing signs a serving certificate for a node agent's public key,
// valid for the given names and addresses.
func SignServing(ca *x509.Certificate, caKey *ecdsa.PrivateKey, pub crypto.PublicKey, nodeName string, hosts []string, now time.Time) ([]byte, error) {
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("pki: node serving certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func ensureCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	if certPEM, err := os.ReadFile(certPath); err == nil {
		cert, key, err := loadPair(certPEM, keyPath)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("pki: load CA: %w", err)
		}
		return cert, key, certPEM, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil, fmt.Errorf("pki: %w", err)
	}
	key, err := newKey()
	if err != nil {
		return nil, nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("skiff-ca@%d", now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: create CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeKeyPair(certPath, keyPath, certPEM, key); err != nil {
		return nil, nil, nil, err
	}
	return cert, key, certPEM, nil
}

func ensureServing(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, ServingFile), filepath.Join(dir, ServingKeyFile)
	if certPEM, err := os.ReadFile(certPath); err == nil {
		cert, _, err := loadPair(certPEM, keyPath)
		if err == nil && covers(cert, hosts) && now.Add(30*24*time.Hour).Before(cert.NotAfter) && cert.CheckSignatureFrom(ca) == nil {
			return tls.LoadX509KeyPair(certPath, keyPath)
		}
	}
	key, err := newKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	sn, err := serial()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: "skiff-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: create serving certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeKeyPair(certPath, keyPath, certPEM, key); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

// covers reports whether the certificate names every host.
func covers(cert *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
				return false
			}
		} else if h != "" && !slices.Contains(cert.DNSNames, h) {
			return false
		}
	}
	return true
}

func loadPair(certPEM []byte, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, fmt.Errorf("%s: no PEM key", keyPath)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func writeKeyPair(certPath, keyPath string, certPEM []byte, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return WriteFileAtomic(certPath, certPEM, 0o600)
}

func ensureToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if tok := string(trimSpace(b)); len(tok) >= 32 {
			return tok, nil
		}
		return "", fmt.Errorf("pki: %s holds no usable token (want ≥32 characters)", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("pki: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	if err := WriteFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// WriteFileAtomic writes data to path through a temporary file and a
// rename, so a reader never sees a half-written file, and fsyncs it.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
