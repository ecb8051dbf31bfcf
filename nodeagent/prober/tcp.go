package prober

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// tcpSocket succeeds when a TCP connection opens within the timeout.
func (p *prober) tcpSocket(ctx context.Context, a *corev1.TCPSocketAction, c *corev1.Container, podIP string, timeout time.Duration) (outcome, string, error) {
	host := a.Host
	if host == "" {
		host = podIP
	}
	if host == "" {
		return outcomeFailure, "", errNoPodIP
	}
	port, err := resolvePort(a.Port, c)
	if err != nil {
		if pe := (*portError)(nil); errors.As(err, &pe) {
			return outcomeFailure, pe.Error(), nil
		}
		return outcomeFailure, "", err
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := p.dial(dctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		// e.g. "dial tcp 10.0.0.5:8080: connect: connection refused"
		return outcomeFailure, err.Error(), nil
	}
	_ = conn.Close()
	return outcomeSuccess, "", nil
}
