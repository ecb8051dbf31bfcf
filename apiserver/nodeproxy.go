package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/apiserver/pki"
	"github.com/skiff-dev/skiff/apiserver/storage"
)

// Node agents serve logs and streams (exec, attach, port-forward; see
// streams.go) over HTTPS; the API server proxies to them. Both ends
// authenticate: the agent's serving certificate is signed by the cluster
// CA (through /skiff/node-certificate, with the node token), and the API
// server presents a client certificate from the same CA that agents require.

// NodeCertificateRequest is what an agent sends to get its serving certificate.
type NodeCertificateRequest struct {
	NodeName string   `json:"nodeName"`
	Hosts    []string `json:"hosts"`
	// PublicKey is the agent's key, PEM ("PUBLIC KEY", PKIX).
	PublicKey string `json:"publicKey"`
}

// NodeCertificateResponse carries the signed certificate.
type NodeCertificateResponse struct {
	Certificate string `json:"certificate"`
	CA          string `json:"ca"`
}

// serveCACerts answers GET /cacerts: the cluster CA, public so a joining
// agent can fetch it and check it against the hash in its token.
func (s *Server) serveCACerts(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(s.cfg.Credentials.CAPEM)
}

func (s *Server) serveNodeCertificate(w http.ResponseWriter, r *http.Request, u User) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "node-certificate"}, r.Method), schema.GroupResource{}, "")
		return
	}
	if !slices.Contains(u.Groups, "system:nodes") && !slices.Contains(u.Groups, "system:masters") {
		s.writeError(w, r, apierrors.NewForbidden(schema.GroupResource{Resource: "node-certificate"}, "", errors.New("only node agents may ask for a node certificate")), schema.GroupResource{}, "")
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err, schema.GroupResource{}, "")
		return
	}
	var req NodeCertificateRequest
	if err := json.Unmarshal(body, &req); err != nil || req.NodeName == "" || req.PublicKey == "" {
		s.writeError(w, r, apierrors.NewBadRequest("want {nodeName, hosts, publicKey}"), schema.GroupResource{}, "")
		return
	}
	block, _ := pem.Decode([]byte(req.PublicKey))
	if block == nil {
		s.writeError(w, r, apierrors.NewBadRequest("publicKey is not PEM"), schema.GroupResource{}, "")
		return
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		s.writeError(w, r, apierrors.NewBadRequest("publicKey: "+err.Error()), schema.GroupResource{}, "")
		return
	}
	creds := s.cfg.Credentials
	certPEM, err := pki.SignServing(creds.CA, creds.CAKey, pub, req.NodeName, append([]string{req.NodeName}, req.Hosts...), s.now())
	if err != nil {
		s.writeError(w, r, err, schema.GroupResource{}, "")
		return
	}
	writeJSONValue(w, http.StatusOK, mediaJSON, NodeCertificateResponse{Certificate: string(certPEM), CA: string(creds.CAPEM)})
}

// nodeTLSConfig is how the API server reaches agents: it trusts the
// cluster CA (agents' serving certificates) and presents its client
// certificate (CN skiff-apiserver), which agents require. HTTP/1.1 only:
// logs are plain responses, and streams are HTTP/1.1 upgrades.
func (s *Server) nodeTLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.cfg.Credentials.CA)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      pool,
		Certificates: []tls.Certificate{s.cfg.Credentials.ClientCert},
		NextProtos:   []string{"http/1.1"},
	}
}

// nodeClient is the HTTP client the API server uses towards agents.
func (s *Server) nodeClient() *http.Client {
	s.nodeClientOnce.Do(func() {
		s.nodeHTTP = &http.Client{Transport: &http.Transport{
			TLSClientConfig:       s.nodeTLSConfig(),
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost:   4,
		}}
	})
	return s.nodeHTTP
}

// nodeURL returns the agent base URL of a node: its InternalIP (or first
// address) and the port the agent published in daemonEndpoints.
func (s *Server) nodeURL(ctx context.Context, nodeName string) (*url.URL, error) {
	nodes := s.resourceByKind(corev1.SchemeGroupVersion.WithKind("Node"))
	raw, rev, err := s.store.Get(ctx, nodes.key("", nodeName))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, apierrors.NewNotFound(corev1.Resource("nodes"), nodeName)
		}
		return nil, err
	}
	obj, err := nodes.cache.Entry(nodes.key("", nodeName), rev, raw).Object()
	if err != nil {
		return nil, err
	}
	node := obj.(*corev1.Node)
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	var addr string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			addr = a.Address
			break
		}
	}
	if addr == "" && len(node.Status.Addresses) > 0 {
		addr = node.Status.Addresses[0].Address
	}
	if addr == "" || port == 0 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s has not published the address of its agent (is the node agent running?)", nodeName))
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(addr, strconv.Itoa(int(port)))}, nil
}

// podContainer returns the pod and the container a log request is for
// (chooseContainer), and checks that the pod is on a node.
func (s *Server) podContainer(ctx context.Context, res *resource, ns, name, container string) (*corev1.Pod, string, error) {
	pod, err := s.getPod(ctx, res, ns, name)
	if err != nil {
		return nil, "", err
	}
	if container, err = chooseContainer(pod, container); err != nil {
		return nil, "", err
	}
	if pod.Spec.NodeName == "" {
		return nil, "", apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	return pod, container, nil
}

// logQueryParams are the PodLogOptions passed through to the agent.
var logQueryParams = []string{"follow", "previous", "tailLines", "sinceSeconds", "sinceTime", "timestamps", "limitBytes", "insecureSkipTLSVerifyBackend"}

// serveLog proxies GET pods/<name>/log to the node agent running the pod.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	q := r.URL.Query()
	pod, container, err := s.podContainer(r.Context(), res, info.namespace, info.name, q.Get("container"))
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	for _, p := range []string{"tailLines", "sinceSeconds", "limitBytes"} {
		if v := q.Get(p); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
				s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("%s must be a non-negative integer, not %q", p, v)), res.gr(), info.name)
				return
			}
		}
	}
	base, err := s.nodeURL(r.Context(), pod.Spec.NodeName)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	target := *base
	target.Path = "/containerLogs/" + pod.Namespace + "/" + pod.Name + "/" + container
	tq := url.Values{}
	for _, p := range logQueryParams {
		if v := q.Get(p); v != "" {
			tq.Set(p, v)
		}
	}
	tq.Set("podUID", string(pod.UID))
	target.RawQuery = tq.Encode()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target.String(), nil)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	resp, err := s.nodeClient().Do(req)
	if err != nil {
		s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("cannot reach the node agent of %s: %v", pod.Spec.NodeName, err)), res.gr(), info.name)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Content-Length"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && r.Context().Err() == nil {
				s.log.Debug("log stream ended", "pod", info.namespace+"/"+info.name, "err", err)
			}
			return
		}
	}
}
