package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// errNoUpstream: no upstream of the route is healthy (503 at once).
var errNoUpstream = errors.New("proxy: no healthy upstream")

// Pooling (docs/design/proxy.md, "Pooling").
const (
	// maxIdlePerUpstream keeps a connection for every request in flight
	// under any load the service admits (its connection limit's default),
	// so a steady load never opens connections.
	maxIdlePerUpstream = 1024
	idleConnTimeout    = 90 * time.Second
	// maxResponseHeaderBytes bounds an upstream's response head (Go's
	// default is 10 MB).
	maxResponseHeaderBytes = 64 << 10
)

// newTransport is one route's connection pool to its upstreams: HTTP/1.1
// only (no TLS upstreams yet, and no HTTP/2 attempted), no proxy from the
// environment, bodies passed through as they come (no transparent gzip).
func newTransport(rc *RouteConfig) *http.Transport {
	dialer := &net.Dialer{Timeout: rc.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      false,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{}, // never h2
		DisableCompression:     true,
		MaxIdleConns:           0, // bounded per upstream below
		MaxIdleConnsPerHost:    maxIdlePerUpstream,
		IdleConnTimeout:        idleConnTimeout,
		ResponseHeaderTimeout:  rc.ResponseTimeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		// Expect: 100-continue is forwarded and honoured: the client's body
		// is read (and the client sent its 100) only once the upstream asks
		// for it, or after a second without an answer.
		ExpectContinueTimeout: time.Second,
		// Bigger than the 4 KiB default: a 64 KiB response takes two reads.
		ReadBufferSize:  32 << 10,
		WriteBufferSize: 32 << 10,
	}
}

// retrier is the route's http.RoundTripper: it chooses the upstream of each
// attempt (the balancer), records the outcome for passive health, and
// tries another upstream when an idempotent request could not connect
// (nothing of it was sent), up to the route's retries.
type retrier struct {
	route *route
	next  http.RoundTripper
}

func (rt *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchangeOf(req.Context())
	p := rt.route.pool
	retries := 0
	if idempotent(req.Method) {
		retries = rt.route.cfg.Retries
	}
	var tried uint64
	var lastErr error
	for attempt := 0; ; attempt++ {
		u, probe := p.pick(tried)
		if u == nil {
			if attempt == 0 {
				return nil, errNoUpstream
			}
			return nil, lastErr
		}
		tried |= 1 << u.index
		ex.upstream = u
		// A shallow copy per attempt: the request the Transport sees names
		// the upstream; the Host header is the URL's unless preserve_host
		// set req.Host.
		out := *req
		target := *req.URL
		target.Host = u.Target
		out.URL = &target
		ex.holdBody.Store(attempt < retries)
		u.active.Add(1)
		resp, err := rt.next.RoundTrip(&out)
		if err == nil {
			ex.holdBody.Store(false)
			p.succeeded(u, probe)
			ex.attach(resp, u)
			return resp, nil
		}
		u.active.Add(-1)
		lastErr = err
		if ex.notUpstreamsFault() {
			p.released(u, probe)
			ex.holdBody.Store(false)
			return nil, err
		}
		p.failed(u, probe)
		if attempt >= retries || !isDial(err) {
			ex.holdBody.Store(false)
			return nil, err
		}
	}
}

// attach wraps resp's body to track progress and release u at its end.
func (ex *exchange) attach(resp *http.Response, u *upstream) {
	ex.dog.opened()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			ub := &upgradedBody{w: rwc}
			ub.ReadCloser, ub.ex, ub.up = rwc, ex, u
			resp.Body = ub
			return
		}
	}
	resp.Body = &responseBody{ReadCloser: resp.Body, ex: ex, up: u}
}

// idempotent methods may be sent again (RFC 9110 §9.2.2; the design's list).
func idempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// isDial: the connection to the upstream was never made (refused, reset or
// timed out while connecting), so nothing of the request was sent.
func isDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
