package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"overkill/arena/go-twin/internal/httpx"
)

// longAgo is a deadline in the past: a blocked read or write fails at once.
var longAgo = time.Unix(1, 0)

// serve proxies one request on rt. The API's request timeout does not apply
// (the caller keeps the request outside it): a proxied exchange is bounded
// by response_timeout_ms to the head and idle_timeout_ms between body bytes.
func (rt *route) serve(w http.ResponseWriter, r *http.Request) {
	info := httpx.InfoFrom(r.Context())
	if info != nil {
		info.Route, info.ProxyRoute, info.ProxyUpstream = rt.label, rt.label, noUpstream
	}
	if !ownAuthority(r, rt) {
		rt.refuse(w, r, httpx.BadRequest("an absolute-form request target must name this service; it is not a forward proxy"))
		return
	}
	if r.ContentLength > rt.cfg.MaxBodyBytes {
		httpx.CloseAfter(w, r) // the body stays unread, and no 100 Continue goes out
		rt.refuse(w, r, httpx.PayloadTooLarge())
		return
	}
	ex := &exchange{client: r.Context(), start: time.Now(), pool: rt.pool, closing: w.Header()["Connection"]}
	// The response's X-Request-Id and Connection are set from the upstream's
	// head (modifyResponse) or with the proxy's own problem (fail): one
	// place each, since ReverseProxy adds the upstream's headers to the
	// writer's and clears them after a 1xx.
	delete(w.Header(), "X-Request-Id")
	delete(w.Header(), "Connection")
	ctx, cancel := context.WithCancelCause(context.WithValue(r.Context(), exchangeKey{}, ex))
	defer cancel(nil)
	rc := http.NewResponseController(w)
	// The server's WriteTimeout bounds the API's answers; a stream is
	// bounded by the watchdog instead, which cuts a client that stops
	// reading (or an upstream that stops sending) after idle_timeout_ms.
	_ = rc.SetWriteDeadline(time.Time{})
	ex.dog.begin(rt.cfg.IdleTimeout, func() {
		cancel(errIdle) // closes the upstream connection, ends the RoundTrip or the body copy
		// Only a blocked read of the client's body is cut: on HTTP/1.1 a
		// read deadline in the past would also fail the server's
		// background read and cancel the request as if the client left.
		// An upload blocked writing upstream is the upstream's stall.
		if ex.reqOpen.Load() && ex.reading.Load() {
			ex.clientStalled.Store(true)
			_ = rc.SetReadDeadline(longAgo)
		}
		if ex.headSent.Load() {
			_ = rc.SetWriteDeadline(longAgo)
		}
	})
	defer ex.dog.stop()
	r = r.WithContext(ctx)
	ex.in = r
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &requestBody{ReadCloser: r.Body, ex: ex, remaining: rt.cfg.MaxBodyBytes}
	}
	completed := false
	defer func() { rt.finish(ex, info, completed) }() // also while ErrAbortHandler unwinds
	rt.rp.ServeHTTP(w, r)
	completed = true
}

// finish counts the request once: by the upstream that answered (or was
// tried last) and the class of its status, or error.
func (rt *route) finish(ex *exchange, info *httpx.Info, completed bool) {
	class := classError
	if completed && ex.status != 0 {
		class = classOf(ex.status)
	}
	if u := ex.upstream; u != nil {
		u.requests[class].Inc()
		if info != nil {
			info.ProxyUpstream = u.Addr
		}
		return
	}
	rt.noUpstream[class].Inc()
}

// refuse answers a request the proxy turns down before any upstream.
func (rt *route) refuse(w http.ResponseWriter, r *http.Request, p *httpx.Problem) {
	rt.noUpstream[classOf(p.Status)].Inc()
	httpx.WriteProblem(w, r, p)
}

// rewrite is ReverseProxy's Rewrite hook. ReverseProxy has already removed
// the hop-by-hop headers (Connection and every header it names, Keep-Alive,
// Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE but for
// "TE: trailers", Trailer, Transfer-Encoding, and Upgrade unless upgrading)
// and the client's X-Forwarded-* (SetXForwarded appends to In's).
func (rt *route) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	out.URL.Scheme = "http"
	out.URL.Host = rt.pool.ups[0].Target // each attempt names its own (retrier)
	out.URL.Path, out.URL.RawPath = rt.upstreamPath(in.URL)
	if rt.cfg.PreserveHost {
		out.Host = in.Host
	} else {
		out.Host = "" // the URL's, the upstream's host:port
	}
	// ReverseProxy dropped the client's forwarding headers from Out; the
	// design appends to them.
	if prior, ok := in.Header["X-Forwarded-For"]; ok {
		out.Header["X-Forwarded-For"] = prior
	}
	pr.SetXForwarded()
	appendForwarded(out.Header, in)
	appendVia(out.Header)
	if id := httpx.RequestID(in.Context()); id != "" {
		out.Header["X-Request-Id"] = []string{id}
	}
}

// upstreamPath is the path sent upstream: the request's, less the prefix
// when strip_prefix (the rest keeps a leading "/"; nothing left is "/").
// The escaped form is kept when the client's had one (%2F stays %2F).
func (rt *route) upstreamPath(u *url.URL) (string, string) {
	if !rt.cfg.StripPrefix {
		return u.Path, u.RawPath
	}
	path := rest(u.Path, rt.cfg.Prefix)
	raw := ""
	if u.RawPath != "" {
		if ep := (&url.URL{Path: rt.cfg.Prefix}).EscapedPath(); strings.HasPrefix(u.RawPath, ep) {
			raw = rest(u.RawPath, ep)
		}
	}
	return path, raw
}

func rest(path, prefix string) string {
	r := path[len(prefix):]
	switch {
	case r == "":
		return "/"
	case r[0] != '/':
		return "/" + r
	}
	return r
}

// modifyResponse runs on the upstream's response head.
func (rt *route) modifyResponse(resp *http.Response) error {
	ex := exchangeOf(resp.Request.Context())
	ex.status = resp.StatusCode
	ex.headSent.Store(true)
	rt.duration.Observe(time.Since(ex.start).Seconds())
	appendVia(resp.Header)
	// The response carries the service's X-Request-Id (the one the
	// upstream was sent), once: not the upstream's beside it. It is set
	// here, not left on the ResponseWriter, because ReverseProxy clears the
	// writer's headers after forwarding a 1xx (a 100 Continue); so is the
	// drain's Connection: close.
	if id := httpx.RequestID(ex.in.Context()); id != "" {
		resp.Header["X-Request-Id"] = []string{id}
	}
	if ex.closing != nil {
		resp.Header["Connection"] = ex.closing
	}
	return nil
}

// fail is ReverseProxy's ErrorHandler: no response head came from an
// upstream. It answers with the service's problem and logs the cause once.
func (rt *route) fail(w http.ResponseWriter, out *http.Request, err error) {
	ex := exchangeOf(out.Context())
	r := ex.in // the problem's instance is the client's path, and its protocol decides Connection: close
	rt.duration.Observe(time.Since(ex.start).Seconds())
	stalledUpload := ex.clientStalled.Load()
	if ex.client.Err() != nil && !stalledUpload {
		// The client went away: nobody to answer (logged as 499). (On
		// HTTP/1.1 the read deadline that cut a stalled upload cancels the
		// client's context too; that client still gets its 408.)
		return
	}
	var p *httpx.Problem
	switch {
	case ex.tooLarge.Load():
		httpx.CloseAfter(w, r)
		p = httpx.PayloadTooLarge()
	case errors.Is(err, errNoUpstream):
		p = httpx.Unavailable("no upstream of this route is healthy; retry shortly")
	case stalledUpload:
		httpx.CloseAfter(w, r)
		p = httpx.RequestTimeout(rt.cfg.IdleTimeout)
		p.Detail = fmt.Sprintf("the request body stalled for %d ms", rt.cfg.IdleTimeout.Milliseconds())
	case ex.dog.fired.Load():
		p = httpx.GatewayTimeout(fmt.Sprintf("the upstream stalled for %d ms", rt.cfg.IdleTimeout.Milliseconds()))
	case ex.clientBodyFailed.Load():
		httpx.CloseAfter(w, r)
		p = httpx.BadRequest("the request body could not be read")
	case isDial(err):
		p = httpx.BadGateway("no upstream could be reached")
	case isTimeout(err):
		p = httpx.GatewayTimeout(fmt.Sprintf("the upstream sent no response head within %d ms",
			rt.cfg.ResponseTimeout.Milliseconds()))
	default:
		p = httpx.BadGateway("the upstream closed the connection without an answer")
	}
	if id := httpx.RequestID(r.Context()); id != "" {
		w.Header()["X-Request-Id"] = []string{id}
	}
	if ex.closing != nil {
		w.Header()["Connection"] = ex.closing
	}
	upstream := noUpstream
	if ex.upstream != nil {
		upstream = ex.upstream.Addr
	}
	rt.log.LogAttrs(r.Context(), slog.LevelWarn, "proxy request failed",
		slog.String("proxy_route", rt.label), slog.String("proxy_upstream", upstream),
		slog.Int("status", p.Status), slog.String("error", err.Error()),
		slog.String("request_id", httpx.RequestID(r.Context())))
	httpx.WriteProblem(w, r, p)
}

// notUpstreamsFault: the attempt failed because of the client or the
// proxy's own limits, not the upstream; its health is not charged.
// A watchdog firing before the head while the upload was not waiting on
// the client is the upstream's stall (a 504 of ours, charged); after the
// head it may be either side's, and is not charged.
func (ex *exchange) notUpstreamsFault() bool {
	return ex.client.Err() != nil || ex.tooLarge.Load() || ex.clientBodyFailed.Load() || ex.clientStalled.Load() ||
		ex.dog.fired.Load() && ex.headSent.Load()
}

// bodyFailed: the upstream's body broke off (a reset mid-body).
func (ex *exchange) bodyFailed(u *upstream) {
	if !ex.notUpstreamsFault() && ex.upstreamFailed.CompareAndSwap(false, true) {
		ex.pool.failed(u, false)
	}
}
