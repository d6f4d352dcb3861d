package fx

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// providerName names the provider in metrics and logs: a constant, never
// input.
const providerName = "frankfurter"

// durationBuckets are the service's latency buckets (the Rust service's
// LATENCY_BUCKETS), in seconds.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// outcomes are every value of outbound_calls_total's outcome label.
var outcomes = []string{
	"ok", "error_connect", "error_timeout", "error_rate_limited", "error_status", "error_malformed",
	"rejected_bulkhead", "rejected_breaker", "rejected_quota",
}

// metrics are the outbound client's series, the Rust service's names and
// labels. Every label value is a constant, so the series are created once
// and the hot path (a cache hit) is one atomic add.
type metrics struct {
	calls      map[string]prometheus.Counter // by outcome; read-only after newMetrics
	duration   prometheus.Observer
	quotaWaits prometheus.Counter
	retries    prometheus.Counter
	hit        prometheus.Counter
	miss       prometheus.Counter
	stale      prometheus.Counter
	collectors []prometheus.Collector
}

func newMetrics(breakerState func() gobreaker.State) *metrics {
	labels := prometheus.Labels{"provider": providerName}
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outbound_calls_total",
		Help: "Calls to a third-party provider, by outcome (rejected_* never reached it).",
	}, []string{"provider", "outcome"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "outbound_call_duration_seconds",
		Help:    "Duration of each attempt at a third-party provider.",
		Buckets: durationBuckets,
	}, []string{"provider"})
	state := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "outbound_breaker_state",
		Help:        "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		ConstLabels: labels,
	}, func() float64 { return breakerGauge(breakerState()) })
	quotaWaits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outbound_quota_waits_total",
		Help: "Calls that waited for a token of the client-side quota.",
	}, []string{"provider"})
	retries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outbound_retries_total",
		Help: "Retried attempts at a third-party provider.",
	}, []string{"provider"})
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outbound_cache_lookups_total",
		Help: "Cache lookups in front of a provider: hit (fresh), miss (a call was needed), stale (it failed; a stale entry answered).",
	}, []string{"provider", "result"})
	m := &metrics{
		calls:      make(map[string]prometheus.Counter, len(outcomes)),
		duration:   duration.WithLabelValues(providerName),
		quotaWaits: quotaWaits.WithLabelValues(providerName),
		retries:    retries.WithLabelValues(providerName),
		hit:        lookups.WithLabelValues(providerName, "hit"),
		miss:       lookups.WithLabelValues(providerName, "miss"),
		stale:      lookups.WithLabelValues(providerName, "stale"),
		collectors: []prometheus.Collector{calls, duration, state, quotaWaits, retries, lookups},
	}
	for _, o := range outcomes {
		m.calls[o] = calls.WithLabelValues(providerName, o)
	}
	return m
}

// breakerGauge: 0 closed, 1 half-open, 2 open (gobreaker's own order).
func breakerGauge(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}
