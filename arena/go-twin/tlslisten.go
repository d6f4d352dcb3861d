package main

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// tlsListener hands net/http connections whose TLS handshake is already
// done, so that every handshake has its own deadline and is counted
// (tls_handshakes_total), which net/http, handshaking inside its own
// connection goroutine, offers no hook for.
//
// Each accepted connection (inner: the connection limit and the header
// deadline from accept) is handshaken in a goroutine of its own, holding its
// connection slot meanwhile, under the handshake timeout (and never past the
// header deadline: conn clamps read deadlines to it). net/http sees a
// *tls.Conn whose handshake is complete: its own HandshakeContext call is a
// no-op, and ALPN picks HTTP/2 or HTTP/1.1 as usual.
type tlsListener struct {
	inner     net.Listener
	config    *tls.Config
	timeout   time.Duration
	m         *tlsMetrics
	ready     chan net.Conn // handshaken connections, to Accept
	errs      chan error    // inner Accept errors, to Accept
	done      chan struct{}
	closeOnce sync.Once
}

func newTLSListener(inner net.Listener, config *tls.Config, timeout time.Duration, m *tlsMetrics) *tlsListener {
	l := &tlsListener{inner: inner, config: config, timeout: timeout, m: m,
		ready: make(chan net.Conn), errs: make(chan error), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *tlsListener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			// Handed to net/http's Serve, which backs off on a temporary
			// error and returns on any other; this loop waits for it.
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go l.handshake(c)
	}
}

func (l *tlsListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.config)
	_ = c.SetDeadline(time.Now().Add(l.timeout)) // fails only on a closed socket
	if err := tc.Handshake(); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
			l.m.handshakeTimeout.Inc()
		} else {
			l.m.handshakeFailed.Inc()
		}
		_ = c.Close() // not tc.Close: no alert to a peer that is gone or silent
		return
	}
	l.m.handshakeOK.Inc()
	// Back to the header deadline from accept (conn keeps it while no
	// request head has arrived); no write deadline until net/http sets one.
	_ = c.SetDeadline(time.Time{})
	select {
	case l.ready <- tc:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections still handshaking are closed when
// their handshake ends (at the latest at the handshake timeout).
func (l *tlsListener) Close() error {
	err := l.inner.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

func (l *tlsListener) Addr() net.Addr { return l.inner.Addr() }
