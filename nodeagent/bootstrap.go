package nodeagent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// joinCredentials are what an agent holds after joining.
type joinCredentials struct {
	caPEM   []byte
	rest    *rest.Config
	serving tls.Certificate
	caPool  *x509.CertPool
}

// caHashOfToken extracts the CA hash of a K10 node token.
func caHashOfToken(tok string) (string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(tok), "K10")
	if !ok {
		return "", errors.New("the node token must start with K10 (read it from the server's data directory: node-token)")
	}
	hash, _, ok := strings.Cut(rest, "::node:")
	if !ok || len(hash) != 64 {
		return "", errors.New("malformed node token")
	}
	return hash, nil
}

// fetchCA downloads the cluster CA and accepts it only if its hash is the
// one in the token, so a man in the middle cannot pose as the server.
func fetchCA(ctx context.Context, server, token string) ([]byte, error) {
	want, err := caHashOfToken(token)
	if err != nil {
		return nil, err
	}
	// The CA is not known yet: this one request skips verification and
	// checks the content against the token instead.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/cacerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the cluster CA from %s: %w", server, err)
	}
	defer resp.Body.Close()
	caPEM, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the cluster CA from %s: status %d: %v", server, resp.StatusCode, err)
	}
	sum := sha256.Sum256(caPEM)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("the CA served by %s does not match the node token (hash %s, token says %s): refusing to join", server, got, want)
	}
	return caPEM, nil
}

// requestServingCert asks the API server to sign a serving certificate
// for a fresh key, valid for the agent's names and addresses.
func requestServingCert(ctx context.Context, rc *rest.Config, nodeName string, hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	body, _ := json.Marshal(map[string]any{
		"nodeName":  nodeName,
		"hosts":     hosts,
		"publicKey": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	})
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return tls.Certificate{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(rc.Host, "/")+"/skiff/node-certificate", bytes.NewReader(body))
	if err != nil {
		return tls.Certificate{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("node certificate: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return tls.Certificate{}, fmt.Errorf("node certificate: %d: %s", resp.StatusCode, b)
	}
	var out struct {
		Certificate string `json:"certificate"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return tls.Certificate{}, fmt.Errorf("node certificate: %w", err)
	}
	block, _ := pem.Decode([]byte(out.Certificate))
	if block == nil {
		return tls.Certificate{}, errors.New("node certificate: no PEM in the answer")
	}
	return tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: key}, nil
}

// join turns a server URL and a node token into everything the agent needs.
func join(ctx context.Context, server, token, nodeName string, hosts []string) (*joinCredentials, error) {
	caPEM, err := fetchCA(ctx, server, token)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the cluster CA is not a PEM certificate")
	}
	rc := &rest.Config{
		Host:            server,
		BearerToken:     strings.TrimSpace(token),
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		// The agent writes pod statuses and events in bursts when many
		// pods start at once; client-go's default 5 QPS would queue them.
		QPS:       100,
		Burst:     200,
		UserAgent: "skiff-agent/" + nodeName,
	}
	serving, err := requestServingCert(ctx, rc, nodeName, hosts)
	if err != nil {
		return nil, err
	}
	return &joinCredentials{caPEM: caPEM, rest: rc, serving: serving, caPool: pool}, nil
}
