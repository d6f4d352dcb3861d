package main

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"

	"overkill/arena/go-twin/internal/httpx"
	"overkill/arena/go-twin/internal/proxy"
)

// statusWriter records the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// validRequestID reports whether a client-sent id matches [A-Za-z0-9._:-]{1,128}.
func validRequestID(id string) bool {
	if len(id) < 1 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// statusClientClosedRequest is nginx's 499, logged and counted for a request
// whose client went away before it was answered (never sent).
const statusClientClosedRequest = 499

// observe is the outermost middleware: it assigns X-Request-Id, turns panics
// into 500 problems, logs one line per request and records metrics (m may be
// nil for the admin listener).
func observe(next http.Handler, log *slog.Logger, m *httpMetrics, level slog.Level) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		info := &httpx.Info{RequestID: id}
		r = r.WithContext(httpx.WithInfo(r.Context(), info))
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		if m != nil {
			m.inFlight.Inc()
			defer m.inFlight.Dec() // also when the panic below is re-raised
		}
		defer func() {
			v := recover()
			// ErrAbortHandler: the response was cut on purpose (a proxied
			// upstream reset mid-body); logged and counted, then re-raised
			// so the server drops the connection (HTTP/2: resets the stream).
			aborted := v == http.ErrAbortHandler
			if v != nil && !aborted {
				log.ErrorContext(r.Context(), "panic", "panic", v, "stack", string(debug.Stack()), "request_id", id)
				if sw.status == 0 {
					httpx.WriteProblem(sw, r, httpx.Internal())
				}
			}
			status := sw.status
			switch {
			case r.Context().Err() != nil:
				// The client went away (or the connection was closed at the
				// drain timeout) before the answer was delivered.
				status = statusClientClosedRequest
			case status == 0: // handler wrote nothing
				status = http.StatusOK
			}
			elapsed := time.Since(start)
			route := info.Route
			if route == "" {
				route = "unmatched" // one label for every unmatched path
			}
			method, protocol := methodLabel(r.Method), protocolLabel(r)
			if m != nil {
				m.observe(method, route, protocol, status, elapsed)
			}
			attrs := [9]slog.Attr{
				slog.String("method", method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.String("request_id", id),
				slog.String("protocol", protocol),
			}
			n := 6
			if info.ProxyRoute != "" {
				attrs[n], attrs[n+1] = slog.String("proxy_route", info.ProxyRoute), slog.String("proxy_upstream", info.ProxyUpstream)
				n += 2
			}
			if aborted {
				attrs[n] = slog.Bool("aborted", true)
				n++
			}
			log.LogAttrs(r.Context(), level, "request", attrs[:n]...)
			if aborted {
				panic(v)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// split refuses CONNECT (this service is not a forward proxy), sends a
// request that a proxy route matches to the proxy, and any other to api.
// No route can match one of the service's own paths (proxy.Parse refuses
// such a prefix), and a path that is not clean goes to api, which answers
// 404: a proxied path never holds "." or ".." segments.
type split struct {
	proxy *proxy.Proxy // nil: no routes
	api   http.Handler
}

func (s split) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		// No method is allowed on an authority-form target: an empty Allow.
		w.Header()["Allow"] = []string{""}
		httpx.WriteProblem(w, r, &httpx.Problem{Slug: "method-not-allowed", Title: "Method not allowed",
			Status: http.StatusMethodNotAllowed, Detail: "CONNECT is not supported: this service is not a forward proxy"})
		return
	}
	if s.proxy != nil && r.URL.Path == cleanPath(r.URL.Path) && s.proxy.Serve(w, r) {
		return
	}
	s.api.ServeHTTP(w, r)
}

// limitConcurrency rejects requests beyond max in flight with 503 unavailable.
func limitConcurrency(next http.Handler, max int) http.Handler {
	sem := make(chan struct{}, max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		default:
			httpx.WriteProblem(w, r, httpx.Unavailable("too many requests in flight; retry shortly"))
		}
	})
}

// withTimeout bounds each request with a context deadline whose cause is
// httpx.ErrRequestTimeout; handlers turn it into a 503 timeout problem.
func withTimeout(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := httpx.InfoFrom(r.Context()); info != nil {
			info.Timeout = d
		}
		ctx, cancel := context.WithTimeoutCause(r.Context(), d, httpx.ErrRequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// router wraps a ServeMux so that its built-in plain-text 404 and 405
// responses (and its path-cleaning redirects) become problem responses, and
// records the matched route pattern for logs and metrics.
type router struct{ mux *http.ServeMux }

func (rt router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != cleanPath(r.URL.Path) {
		httpx.WriteProblem(w, r, httpx.NotFound("no resource at "+r.URL.Path))
		return
	}
	fw := &fallbackWriter{ResponseWriter: w, r: r}
	defer func() {
		if r.Pattern != "" {
			if info := httpx.InfoFrom(r.Context()); info != nil {
				info.Route = routeOf(r.Pattern)
			}
		}
	}()
	rt.mux.ServeHTTP(fw, r)
}

// routeOf strips the method from a ServeMux pattern: "GET /a/{id}" → "/a/{id}".
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return pattern[i+1:]
	}
	return pattern
}

func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		return "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// fallbackWriter intercepts the response ServeMux writes when no pattern
// matched (r.Pattern is empty): 405 keeps Allow, anything else is a 404.
type fallbackWriter struct {
	http.ResponseWriter
	r           *http.Request
	decided     bool
	intercepted bool
}

func (w *fallbackWriter) WriteHeader(code int) {
	if !w.decided {
		w.decided = true
		if w.r.Pattern == "" {
			w.intercepted = true
			h := w.ResponseWriter.Header()
			h.Del("Content-Type")
			h.Del("X-Content-Type-Options")
			if code == http.StatusMethodNotAllowed {
				httpx.WriteProblem(w.ResponseWriter, w.r, httpx.MethodNotAllowed(w.r.URL.Path))
			} else {
				h.Del("Allow")
				httpx.WriteProblem(w.ResponseWriter, w.r, httpx.NotFound("no resource at "+w.r.URL.Path))
			}
			return
		}
	}
	if !w.intercepted {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *fallbackWriter) Write(b []byte) (int, error) {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	if w.intercepted {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *fallbackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
