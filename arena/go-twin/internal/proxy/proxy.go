// Package proxy serves the reverse-proxy routes ([[proxy.routes]],
// docs/design/proxy.md is the contract): net/http/httputil's ReverseProxy
// with a Rewrite hook (forwarding headers, strip_prefix, preserve_host), a
// tuned HTTP/1.1 Transport per route, a RoundTripper that balances and
// retries, passive and active health, an idle watchdog per exchange and
// bounded metrics.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Proxy holds the routes. A nil *Proxy has none.
type Proxy struct {
	routes  []*route // longest prefix first; at equal length, a route with a host first
	metrics *metrics
}

// route is one configured route and everything it owns.
type route struct {
	cfg        RouteConfig
	label      string // "0:/catalog/": the route label and log field
	pool       *pool
	transport  *http.Transport
	rp         *httputil.ReverseProxy
	log        *slog.Logger
	duration   prometheus.Observer
	noUpstream [numClasses]counter // requests no upstream was tried for
}

// exchange is the state of one proxied request, shared by the handler, the
// ReverseProxy hooks, the RoundTripper and the body wrappers (found in the
// request's context).
type exchange struct {
	client   context.Context // the client's own context: done when it went away
	in       *http.Request   // the client's request (the hooks see the outgoing one)
	closing  []string        // Connection set before the proxy ran (draining: close)
	start    time.Time
	upstream *upstream // the last one tried; nil before any
	status   int       // the upstream's status; 0 until its head

	dog              watchdog
	headSent         atomic.Bool // the upstream's head went to the client
	reqOpen          atomic.Bool // the request body is in flight
	reading          atomic.Bool // blocked reading the client's body (not writing it upstream)
	clientStalled    atomic.Bool // the watchdog fired while reading the client's body
	tooLarge         atomic.Bool // the request body passed max_body_bytes
	clientBodyFailed atomic.Bool // reading the client's body failed
	holdBody         atomic.Bool // a retry may still need the body: keep it open
	upstreamFailed   atomic.Bool // a failure was already counted against upstream
	pool             *pool
}

type exchangeKey struct{}

func exchangeOf(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// New builds the routes of cfgs (validated by Parse) and registers their
// metrics with reg; nil when there are none.
func New(cfgs []RouteConfig, reg prometheus.Registerer, log *slog.Logger) *Proxy {
	if len(cfgs) == 0 {
		return nil
	}
	p := &Proxy{metrics: newMetrics()}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	for i := range cfgs {
		rt := &route{cfg: cfgs[i], label: fmt.Sprintf("%d:%s", cfgs[i].Index, cfgs[i].Prefix), log: log}
		rt.pool = newPool(&rt.cfg)
		rt.pool.onChange = rt.logHealth
		rt.transport = newTransport(&rt.cfg)
		rt.rp = &httputil.ReverseProxy{
			Rewrite:        rt.rewrite,
			Transport:      &retrier{route: rt, next: rt.transport},
			ModifyResponse: rt.modifyResponse,
			ErrorHandler:   rt.fail,
			ErrorLog:       errLog,
			BufferPool:     buffers,
			// 0: a response of known length goes through the server's
			// buffer; one of unknown length (chunked, an event stream) is
			// flushed after every write (ReverseProxy's own rule), so
			// streams are never held back.
			FlushInterval: 0,
		}
		p.metrics.bind(rt)
		p.routes = append(p.routes, rt)
	}
	sort.SliceStable(p.routes, func(i, j int) bool {
		a, b := p.routes[i].cfg, p.routes[j].cfg
		if len(a.Prefix) != len(b.Prefix) {
			return len(a.Prefix) > len(b.Prefix)
		}
		return a.Host != "" && b.Host == ""
	})
	if reg != nil {
		reg.MustRegister(p.metrics)
	}
	return p
}

// Close closes the routes' idle upstream connections.
func (p *Proxy) Close() {
	if p == nil {
		return
	}
	for _, rt := range p.routes {
		rt.transport.CloseIdleConnections()
	}
}

// Serve proxies r when a route matches it and reports whether one did.
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request) bool {
	if p == nil {
		return false
	}
	rt := p.match(r.Host, r.URL.Path)
	if rt == nil {
		return false
	}
	rt.serve(w, r)
	return true
}

// match is the route with the longest prefix of path among those whose
// host matches (one with a host before one without at the same length).
func (p *Proxy) match(host, path string) *route {
	for _, rt := range p.routes {
		if len(path) >= len(rt.cfg.Prefix) && path[:len(rt.cfg.Prefix)] == rt.cfg.Prefix &&
			(rt.cfg.Host == "" || hostMatches(host, rt.cfg.Host)) {
			return rt
		}
	}
	return nil
}

// bufferSize is ReverseProxy's own copy buffer size.
const bufferSize = 32 << 10

// buffers is the copy buffers' pool, shared by every route.
var buffers = &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}}

type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte { return *b.pool.Get().(*[]byte) }

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == bufferSize {
		buf = buf[:bufferSize]
		b.pool.Put(&buf)
	}
}
