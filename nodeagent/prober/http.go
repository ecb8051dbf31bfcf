package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// maxResponseBody caps what an httpGet probe reads of a response (kubelet
// pkg/probe/http: 10 KiB), so a pod streaming a body cannot hold a probe.
const maxResponseBody = 10 << 10

// maxRedirects is net/http's default, which the kubelet keeps.
const maxRedirects = 10

func newTransport(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		// Probes go straight to the pod, never through the node's proxy.
		Proxy:       nil,
		DialContext: dial,
		// As the kubelet: pods serve self-signed certificates, and a probe
		// checks health, not identity.
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		// One connection per probe: nothing stays open between periods.
		DisableKeepAlives: true,
		// No Accept-Encoding header, as the kubelet sends none.
		DisableCompression: true,
	}
}

// httpGet GETs the probe's URL; a status in [200, 400) is success.
func (p *prober) httpGet(ctx context.Context, a *corev1.HTTPGetAction, c *corev1.Container, podIP string, timeout time.Duration) (outcome, string, error) {
	req, err := p.httpRequest(ctx, a, c, podIP)
	if err != nil {
		if pe := (*portError)(nil); errors.As(err, &pe) {
			return outcomeFailure, pe.Error(), nil
		}
		return outcomeFailure, "", err
	}
	client := &http.Client{Timeout: timeout, Transport: p.transport, CheckRedirect: sameHostRedirects}
	res, err := client.Do(req)
	if err != nil {
		// Refused, reset, timed out: the container's failure.
		return outcomeFailure, err.Error(), nil
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBody))
	if err != nil {
		return outcomeFailure, "", fmt.Errorf("read response from %s: %w", req.URL, err)
	}
	if res.StatusCode >= http.StatusOK && res.StatusCode < http.StatusBadRequest {
		if res.StatusCode >= http.StatusMultipleChoices {
			// A redirect to another host, not followed.
			return outcomeWarning, fmt.Sprintf("Probe terminated redirects, Response body: %s", body), nil
		}
		return outcomeSuccess, string(body), nil
	}
	// The kubelet keeps the body out of the message (kubernetes#99425).
	return outcomeFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode), nil
}

// httpRequest builds the probe's request as the kubelet does
// (pkg/probe/http/request.go).
func (p *prober) httpRequest(ctx context.Context, a *corev1.HTTPGetAction, c *corev1.Container, podIP string) (*http.Request, error) {
	scheme := strings.ToLower(string(a.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := a.Host
	if host == "" {
		host = podIP
	}
	if host == "" {
		return nil, errNoPodIP
	}
	port, err := resolvePort(a.Port, c)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(a.Path)
	if err != nil {
		// Too late to reject the path; send it as written.
		u = &url.URL{Path: a.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("build probe request: %w", err)
	}
	headers := make(http.Header, len(a.HTTPHeaders)+2)
	for _, h := range a.HTTPHeaders {
		headers.Add(h.Name, h.Value)
	}
	if _, ok := headers["User-Agent"]; !ok {
		headers.Set("User-Agent", p.userAgent)
	}
	if _, ok := headers["Accept"]; !ok {
		headers.Set("Accept", "*/*")
	} else if headers.Get("Accept") == "" {
		// An empty Accept in the spec means: send none.
		headers.Del("Accept")
	}
	req.Header = headers
	req.Host = headers.Get("Host")
	return req, nil
}

// sameHostRedirects follows redirects only within the probed host; a
// redirect elsewhere ends the probe with the redirect response, which is
// a success with a warning (kubelet followNonLocalRedirects=false).
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}
