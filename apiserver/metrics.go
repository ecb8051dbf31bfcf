package apiserver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics uses kube-apiserver's metric names so existing dashboards and
// queries work unchanged.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	etcd     *prometheus.HistogramVec
	watchers *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total",
			Help: "Counter of apiserver requests broken out by verb, group, resource and HTTP response code.",
		}, []string{"verb", "group", "resource", "subresource", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiserver_request_duration_seconds",
			Help:    "Response latency distribution in seconds for each verb, group and resource (watches excluded).",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"verb", "group", "resource", "subresource"}),
		etcd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "etcd_request_duration_seconds",
			Help:    "Etcd request latency in seconds for each operation.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		}, []string{"operation"}),
		watchers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_registered_watchers",
			Help: "Number of currently open watches for a given resource.",
		}, []string{"resource"}),
	}
	// The Go runtime and process collectors are already in Prometheus's
	// default registry (etcd registers its metrics there too), which
	// /metrics serves beside this one.
	m.registry.MustRegister(m.requests, m.latency, m.etcd, m.watchers)
	return m
}

func (m *metrics) observeEtcd(op string, d time.Duration, _ error) {
	m.etcd.WithLabelValues(op).Observe(d.Seconds())
}
