package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// h3Server serves HTTP/3 (quic-go's http3) on a UDP socket at the TLS
// port, with the same handler stack as TCP. Every phase has a deadline:
//
//   - the handshake: quic.Config.HandshakeIdleTimeout is half the
//     handshake timeout, since quic-go aborts a handshake unfinished at twice
//     it (or silent for once it);
//   - the first request: the header-read timeout from the first packet
//     (quicListener, quicConn);
//   - idle: http3.Server.IdleTimeout with no request open, and QUIC's own
//     idle timeout, both the idle timeout;
//   - a response the client stops reading: h3Handler.
//
// At most MaxConnections QUIC connections, handshakes included: one more is
// refused at its first packet with CONNECTION_REFUSED, never queued.
type h3Server struct {
	srv   *http3.Server
	udp   net.PacketConn
	tr    *quic.Transport
	ln    *quic.Listener
	slots chan struct{} // one token per QUIC connection, from its first packet to its close

	headerTimeout time.Duration
}

var errTooManyQUICConns = errors.New("QUIC connection limit reached")

func newH3Server(udp net.PacketConn, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), h http.Handler, cfg *Config) (*h3Server, error) {
	s := &h3Server{udp: udp, slots: make(chan struct{}, cfg.MaxConnections), headerTimeout: cfg.HeaderReadTimeout}
	s.tr = &quic.Transport{Conn: udp, ConnContext: s.connContext}
	tlsConf := http3.ConfigureTLSConfig(&tls.Config{MinVersion: tls.VersionTLS13, GetCertificate: getCert})
	ln, err := s.tr.Listen(tlsConf, &quic.Config{
		HandshakeIdleTimeout: max(cfg.TLS.HandshakeTimeout/2, time.Millisecond),
		MaxIdleTimeout:       cfg.IdleTimeout,
		MaxIncomingStreams:   int64(maxStreams(cfg)),
		// No 0-RTT: early data can be replayed, and the API has writes.
	})
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.srv = &http3.Server{
		Handler:     h3Handler{next: h, writeTimeout: cfg.RequestTimeout + cfg.IdleTimeout},
		IdleTimeout: cfg.IdleTimeout,
		// No Logger: http3 would build a debug line's arguments per request.
	}
	return s, nil
}

// connContext runs at a connection's first packet: it takes a connection
// slot (none free: refused), returned when the connection closes, the
// handshake failed included.
func (s *h3Server) connContext(ctx context.Context, _ *quic.ClientInfo) (context.Context, error) {
	select {
	case s.slots <- struct{}{}:
	default:
		return nil, errTooManyQUICConns
	}
	context.AfterFunc(ctx, func() { <-s.slots })
	return context.WithValue(ctx, quicConnKey{}, &quicConn{start: time.Now()}), nil
}

// serve blocks until shutdown; it returns http.ErrServerClosed then.
func (s *h3Server) serve() error {
	return s.srv.ServeListener(quicListener{s.ln, s.headerTimeout})
}

// port is the UDP port HTTP/3 is served on.
func (s *h3Server) port() int { return s.ln.Addr().(*net.UDPAddr).Port }

// shutdown stops accepting, sends GOAWAY on every connection and waits for
// their streams until ctx ends; then every connection is closed.
func (s *h3Server) shutdown(ctx context.Context) error {
	_ = s.ln.Close() // new connections are refused; accepted ones carry on
	err := s.srv.Shutdown(ctx)
	s.close()
	return err
}

// close ends every connection and releases the socket.
func (s *h3Server) close() {
	_ = s.ln.Close()
	_ = s.tr.Close()
	_ = s.udp.Close()
}

// altSvc is the Alt-Svc value advertising HTTP/3 on port.
func altSvc(port int, maxAge time.Duration) []string {
	return []string{`h3=":` + strconv.Itoa(port) + `"; ma=` + strconv.FormatInt(int64(maxAge/time.Second), 10)}
}

// === quicConn, quicListener ===

type quicConnKey struct{}

// quicConn is a QUIC connection's state that its requests can reach
// (through the connection's context).
type quicConn struct {
	start      time.Time // the first packet
	gotRequest atomic.Bool
	timer      *time.Timer // set by quicListener.Accept, before any request runs
}

// headComplete: a request head arrived; the header deadline is over.
func (c *quicConn) headComplete() {
	if !c.gotRequest.Load() && c.gotRequest.CompareAndSwap(false, true) && c.timer != nil {
		c.timer.Stop()
	}
}

// quicListener gives every accepted connection the header-read timeout,
// counted from its first packet, to send its first request.
type quicListener struct {
	*quic.Listener
	headerTimeout time.Duration
}

func (l quicListener) Accept(ctx context.Context) (*quic.Conn, error) {
	c, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	if qc, ok := c.Context().Value(quicConnKey{}).(*quicConn); ok {
		qc.timer = time.AfterFunc(time.Until(qc.start.Add(l.headerTimeout)), func() {
			if !qc.gotRequest.Load() {
				_ = c.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "no request in time")
			}
		})
	}
	return c, nil
}

// === h3Handler ===

// h3Handler is the outermost handler of HTTP/3 requests: it ends the
// connection's header phase and bounds the response's writes as
// http.Server.WriteTimeout does on TCP (request timeout + idle timeout from
// the request head). A handler that returns past that deadline could not
// write its response: the stream is reset (ErrAbortHandler) rather than left
// holding data for a client that does not read it.
type h3Handler struct {
	next         http.Handler
	writeTimeout time.Duration
}

type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

func (h h3Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if qc, ok := r.Context().Value(quicConnKey{}).(*quicConn); ok {
		qc.headComplete()
	}
	deadline := time.Now().Add(h.writeTimeout)
	if dw, ok := w.(writeDeadliner); ok {
		_ = dw.SetWriteDeadline(deadline)
	}
	h.next.ServeHTTP(w, r)
	if time.Now().After(deadline) {
		panic(http.ErrAbortHandler)
	}
}
