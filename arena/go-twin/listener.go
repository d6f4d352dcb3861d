package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// listener caps the number of simultaneously open accepted connections
// (Accept blocks while max are open, like x/net's netutil.LimitListener) and
// gives every connection headerTimeout from its accept to deliver a complete
// first request head, whatever protocol it turns out to speak.
//
// net/http alone does not: ReadHeaderTimeout starts when it begins to read an
// HTTP/1 request, after it has peeked for the h2c preface with no deadline at
// all, and an h2c connection that sends the preface (and SETTINGS, PINGs …)
// but no request is only bounded by IdleTimeout.
type listener struct {
	net.Listener
	headerTimeout time.Duration
	sem           chan struct{} // one token per open connection; nil: no cap
	done          chan struct{}
	closeOnce     sync.Once
}

func newListener(l net.Listener, maxConns int, headerTimeout time.Duration) *listener {
	ln := &listener{Listener: l, headerTimeout: headerTimeout, done: make(chan struct{})}
	if maxConns > 0 {
		ln.sem = make(chan struct{}, maxConns)
	}
	return ln
}

func (l *listener) Accept() (net.Conn, error) {
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.release()
		return nil, err
	}
	tc := &conn{Conn: c, l: l, headDeadline: time.Now().Add(l.headerTimeout)}
	tc.inHead.Store(true)
	_ = c.SetReadDeadline(tc.headDeadline) // fails only on a closed socket
	return tc, nil
}

func (l *listener) release() {
	if l.sem != nil {
		<-l.sem
	}
}

func (l *listener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// conn is an accepted connection. Until its first request head is complete
// (headComplete) no read deadline net/http asks for may run past
// headDeadline; the deadline it last asked for is restored afterwards.
type conn struct {
	net.Conn
	l         *listener
	closeOnce sync.Once

	inHead       atomic.Bool // the fast path once the head phase is over
	mu           sync.Mutex  // guards the fields below and the switch out of the head phase
	headDeadline time.Time
	asked        time.Time // the read deadline net/http last set during the head phase
}

func (c *conn) SetReadDeadline(t time.Time) error {
	if c.inHead.Load() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.inHead.Load() {
			c.asked = t
			if t.IsZero() || t.After(c.headDeadline) {
				t = c.headDeadline
			}
		}
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// headComplete ends the head phase: a request head has arrived in time.
func (c *conn) headComplete() {
	if !c.inHead.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inHead.Load() {
		c.inHead.Store(false)
		_ = c.Conn.SetReadDeadline(c.asked)
	}
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(c.l.release)
	return err
}

// CloseWrite keeps TCP half-close available to net/http (used when it closes
// a connection after a response, so the client reads the whole response).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type connKey struct{}

// withConn is http.Server.ConnContext: it lets the request path find the
// connection it arrived on (one allocation per connection, none per request),
// under TLS too.
func withConn(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*conn); ok {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}

// connHandler is the outermost handler of a server: the request head is in,
// so the connection leaves its head phase (a connection whose first request
// reaches no handler, an HTTP/1.1 "OPTIONS *", stays bound by the
// accept-time deadline; ConnState cannot say when a head arrived, since
// HTTP/2 reports Active and Idle after the preface alone); while draining, every response
// asks the client to go elsewhere (HTTP/1.1: Connection: close; HTTP/2: the
// server turns that header into a graceful GOAWAY). Over TLS with HTTP/3 on,
// every response advertises HTTP/3 (Alt-Svc).
type connHandler struct {
	next     http.Handler
	draining *atomic.Bool // nil: never
	// altSvc is the Alt-Svc value, shared by every response (len = cap = 1,
	// so a handler's Add copies it); nil: none.
	altSvc []string
}

func (h connHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if tc, ok := r.Context().Value(connKey{}).(*conn); ok {
		tc.headComplete()
	}
	if h.draining != nil && h.draining.Load() {
		w.Header().Set("Connection", "close")
	}
	if h.altSvc != nil {
		w.Header()["Alt-Svc"] = h.altSvc
	}
	h.next.ServeHTTP(w, r)
}
