package main

import (
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// httpMetrics are the RED metrics of the API listener.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

func newRegistry(pool *pgxpool.Pool) (*prometheus.Registry, *httpMetrics) {
	reg := prometheus.NewRegistry()
	m := newHTTPMetrics()
	reg.MustRegister(m.requests, m.duration, m.inFlight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		newPoolCollector(pool),
	)
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "build_info",
		Help:        "Build information of the running service.",
		ConstLabels: prometheus.Labels{"service": "go-twin", "version": version, "goversion": goVersion()},
	})
	buildInfo.Set(1)
	reg.MustRegister(buildInfo)
	return reg, m
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests handled, by method, route, status and protocol (http1, http2, http3).",
		}, []string{"method", "route", "status", "protocol"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route.",
			Buckets: durationBuckets,
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests currently being served.",
		}),
	}
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}

// methodLabel bounds the method label (and log field): any method outside
// the registered set is "OTHER", so random methods cannot create series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect:
		return m
	}
	return "OTHER"
}

// statusLabels holds the label of every status code a response can carry
// (net/http only writes 100..999), so a request formats none.
var statusLabels = func() (l [1000]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(code int) string {
	if code < 0 || code >= len(statusLabels) {
		return "other"
	}
	return statusLabels[code]
}

// protocolLabel is the protocol label (and log field) of a request:
// http1 (HTTP/1.0 included), http2 or http3.
func protocolLabel(r *http.Request) string {
	switch r.ProtoMajor {
	case 3:
		return "http3"
	case 2:
		return "http2"
	}
	return "http1"
}

// observe records one finished request. method must already be methodLabel's,
// route a registered pattern or "unmatched", protocol protocolLabel's: every
// label is bounded.
func (m *httpMetrics) observe(method, route, protocol string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(method, route, statusLabel(status), protocol).Inc()
	m.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
}

// poolCollector exports pgxpool statistics at scrape time.
type poolCollector struct {
	pool                                        *pgxpool.Pool
	max, total, idle, acquired, constructing    *prometheus.Desc
	acquires, emptyAcquires, canceled, waitTime *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &poolCollector{
		pool:          pool,
		max:           d("db_pool_max_connections", "Maximum size of the database pool."),
		total:         d("db_pool_connections", "Open database connections."),
		idle:          d("db_pool_idle_connections", "Idle database connections."),
		acquired:      d("db_pool_acquired_connections", "Database connections in use."),
		constructing:  d("db_pool_constructing_connections", "Database connections being opened."),
		acquires:      d("db_pool_acquires_total", "Successful connection acquisitions."),
		emptyAcquires: d("db_pool_empty_acquires_total", "Acquisitions that had to wait for a connection."),
		canceled:      d("db_pool_canceled_acquires_total", "Acquisitions canceled by their context."),
		waitTime:      d("db_pool_acquire_wait_seconds_total", "Total time spent waiting for a connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.max, c.total, c.idle, c.acquired, c.constructing,
		c.acquires, c.emptyAcquires, c.canceled, c.waitTime} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	k := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.max, float64(s.MaxConns()))
	g(c.total, float64(s.TotalConns()))
	g(c.idle, float64(s.IdleConns()))
	g(c.acquired, float64(s.AcquiredConns()))
	g(c.constructing, float64(s.ConstructingConns()))
	k(c.acquires, float64(s.AcquireCount()))
	k(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	k(c.canceled, float64(s.CanceledAcquireCount()))
	k(c.waitTime, s.AcquireDuration().Seconds())
}
