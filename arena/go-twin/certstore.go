package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// certStore holds the certificate pair every new handshake uses, TCP and
// QUIC alike (tls.Config.GetCertificate), and replaces it when a reload
// finds a good new pair. Open connections keep the pair they began with.
type certStore struct {
	certPath, keyPath string
	current           atomic.Pointer[tls.Certificate]
	stamp             fileStamp // the files as last loaded or rejected; owned by watch
	log               *slog.Logger
	m                 *tlsMetrics
	now               func() time.Time // time.Now; tests move it
}

func newCertStore(t *TLSConfig, log *slog.Logger, m *tlsMetrics) *certStore {
	s := &certStore{certPath: t.CertFile, keyPath: t.KeyFile, log: log, m: m, now: time.Now}
	s.stamp = stampOf(t.CertFile, t.KeyFile)
	s.current.Store(t.Pair)
	m.notAfter.Set(float64(t.Pair.Leaf.NotAfter.Unix()))
	return s
}

func (s *certStore) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.current.Load(), nil
}

// reload loads the pair again with the start-up checks. A good pair is used
// from the next handshake on; a bad one is logged once and the old pair
// stays. It reports whether the new pair was taken.
func (s *certStore) reload(why string) bool {
	s.stamp = stampOf(s.certPath, s.keyPath)
	pair, err := loadPair(s.certPath, s.keyPath, s.now())
	if err != nil {
		s.m.reloads.WithLabelValues("rejected").Inc()
		s.log.Warn("TLS certificate reload rejected; keeping the current pair",
			"trigger", why, "setting", err.setting, "path", err.path, "cause", err.reason)
		return false
	}
	s.current.Store(pair)
	s.m.reloads.WithLabelValues("ok").Inc()
	s.m.notAfter.Set(float64(pair.Leaf.NotAfter.Unix()))
	s.log.Info("TLS certificate reloaded", "trigger", why,
		"not_after", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return true
}

// watch reloads on every value from hup (SIGHUP) and, on every tick, when
// either file's modification time or size changed since the last load
// (tick nil: SIGHUP only). It returns when ctx ends.
func (s *certStore) watch(ctx context.Context, hup <-chan os.Signal, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload("SIGHUP")
		case <-tick:
			if stampOf(s.certPath, s.keyPath) != s.stamp {
				s.reload("file change")
			}
		}
	}
}

// watchCerts reloads the pair on SIGHUP and, every interval (0: never),
// when its files changed, for the life of the process.
func watchCerts(s *certStore, interval time.Duration) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var tick <-chan time.Time
	if interval > 0 {
		tick = time.NewTicker(interval).C
	}
	go s.watch(context.Background(), hup, tick)
}

// tlsMetrics count handshakes (TCP) and certificate reloads.
type tlsMetrics struct {
	handshakes *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	notAfter   prometheus.Gauge
	// Handles for the handshake path, looked up once.
	handshakeOK, handshakeFailed, handshakeTimeout prometheus.Counter
}

func newTLSMetrics(reg prometheus.Registerer) *tlsMetrics {
	m := &tlsMetrics{
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tls_handshakes_total",
			Help: "TLS handshakes on the TCP listener, by result (ok, failed, timeout).",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tls_certificate_reloads_total",
			Help: "Certificate reloads, by result (ok, rejected: the old pair stays).",
		}, []string{"result"}),
		notAfter: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tls_certificate_not_after_seconds",
			Help: "Expiry of the certificate in use (its leaf's notAfter), Unix seconds.",
		}),
	}
	m.handshakeOK = m.handshakes.WithLabelValues("ok")
	m.handshakeFailed = m.handshakes.WithLabelValues("failed")
	m.handshakeTimeout = m.handshakes.WithLabelValues("timeout")
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("rejected")
	if reg != nil {
		reg.MustRegister(m.handshakes, m.reloads, m.notAfter)
	}
	return m
}
