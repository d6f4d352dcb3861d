package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

type counter = prometheus.Counter

// The class label of proxy_requests_total: the upstream's status class, or
// error when the exchange failed (no answer, or an answer cut short).
const (
	class1xx = iota
	class2xx
	class3xx
	class4xx
	class5xx
	classError
	numClasses
)

var classNames = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx", "error"}

func classOf(status int) int {
	if status < 100 || status > 599 {
		return classError
	}
	return status/100 - 1
}

// noUpstream is the upstream label of a request no upstream was tried for
// (none healthy, or refused before: 413).
const noUpstream = "none"

// durationBuckets are the service's latency buckets, in seconds.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// metrics are the proxy's series (docs/design/proxy.md, "Ops"). Every label
// value comes from the configuration (the route's index and prefix, the
// upstream as configured), so the series are made once, at start, and a
// request only adds to counters it already holds.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	routes   []*route
}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_requests_total",
			Help: "Proxied requests, by route, upstream and status class (error: the exchange failed).",
		}, []string{"route", "upstream", "class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxy_request_duration_seconds",
			Help:    "Time from a proxied request's arrival to the upstream's response head, by route.",
			Buckets: durationBuckets,
		}, []string{"route"}),
	}
}

// bind makes rt's series: its duration histogram, and a counter per
// upstream (and "none") and class.
func (m *metrics) bind(rt *route) {
	m.routes = append(m.routes, rt)
	rt.duration = m.duration.WithLabelValues(rt.label)
	for c := range numClasses {
		rt.noUpstream[c] = m.requests.WithLabelValues(rt.label, noUpstream, classNames[c])
		for _, u := range rt.pool.ups {
			u.requests[c] = m.requests.WithLabelValues(rt.label, u.Addr, classNames[c])
		}
	}
}

var (
	activeDesc = prometheus.NewDesc("proxy_upstream_active_requests",
		"Requests in flight to an upstream.", []string{"route", "upstream"}, nil)
	healthyDesc = prometheus.NewDesc("proxy_upstream_healthy",
		"1 when the upstream is in rotation, 0 when it is ejected.", []string{"route", "upstream"}, nil)
)

// Describe and Collect make metrics a prometheus.Collector: the gauges are
// read from the pools at scrape time, so requests pay nothing for them
// beyond the atomics the balancers keep anyway.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.duration.Describe(ch)
	ch <- activeDesc
	ch <- healthyDesc
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.duration.Collect(ch)
	for _, rt := range m.routes {
		for _, u := range rt.pool.ups {
			healthy := 0.0
			if u.healthy.Load() {
				healthy = 1
			}
			ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(u.active.Load()), rt.label, u.Addr)
			ch <- prometheus.MustNewConstMetric(healthyDesc, prometheus.GaugeValue, healthy, rt.label, u.Addr)
		}
	}
}
