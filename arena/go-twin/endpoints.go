package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
)

// apiEndpoints are the API's listeners and their servers, one handler for
// all (docs/design/tls.md, "Listeners"):
//
//	no certificate:           cleartext HTTP/1.1 and h2c on Listen
//	certificate, no TLS.Listen: TLS only on Listen (HTTP/1.1, HTTP/2; HTTP/3 on UDP)
//	certificate and TLS.Listen: cleartext on Listen, TLS and HTTP/3 on TLS.Listen
type apiEndpoints struct {
	plain, secure     *http.Server // nil: not served
	plainLn, secureLn net.Listener
	h3                *h3Server // nil: HTTP/3 off
}

// listenAPI binds every API listener. certs nil: no TLS.
func listenAPI(cfg *Config, h http.Handler, certs *certStore, m *tlsMetrics, errLog *log.Logger, draining *atomic.Bool) (*apiEndpoints, error) {
	e := &apiEndpoints{}
	if certs == nil || cfg.TLS.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("OVERKILL_LISTEN %s: %w", cfg.Listen, err)
		}
		e.plainLn = newListener(ln, cfg.MaxConnections, cfg.HeaderReadTimeout)
		e.plain = newServer(h, cfg, errLog, draining)
	}
	if certs == nil {
		return e, nil
	}
	addr, setting := cfg.TLS.Listen, "OVERKILL_TLS_LISTEN"
	if addr == "" {
		addr, setting = cfg.Listen, "OVERKILL_LISTEN"
	}
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("%s %s: %w", setting, addr, err)
	}
	var alt []string
	if cfg.TLS.HTTP3 {
		// UDP at the port TCP got (it may have been 0).
		tcpAddr := tcp.Addr().(*net.TCPAddr)
		udpAddr := net.JoinHostPort(tcpAddr.IP.String(), strconv.Itoa(tcpAddr.Port))
		udp, err := net.ListenPacket("udp", udpAddr)
		if err == nil {
			e.h3, err = newH3Server(udp, certs.getCertificate, h, cfg)
			if err != nil {
				udp.Close()
			}
		}
		if err != nil {
			tcp.Close()
			e.close()
			return nil, fmt.Errorf("%s %s (UDP, HTTP/3): %w", setting, udpAddr, err)
		}
		alt = altSvc(tcpAddr.Port, cfg.TLS.AltSvcMaxAge)
	}
	tlsConf := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"}, // neither offered: HTTP/1.1
		GetCertificate: certs.getCertificate,
	}
	e.secureLn = newTLSListener(newListener(tcp, cfg.MaxConnections, cfg.HeaderReadTimeout),
		tlsConf, cfg.TLS.HandshakeTimeout, m)
	e.secure = newTLSServer(h, cfg, errLog, draining, tlsConf, alt)
	return e, nil
}

// newTLSServer is newServer for connections that tlsListener has
// handshaken: HTTP/1.1 and HTTP/2 by ALPN, Alt-Svc on every response.
func newTLSServer(h http.Handler, cfg *Config, errLog *log.Logger, draining *atomic.Bool, tlsConf *tls.Config, alt []string) *http.Server {
	srv := newServer(h, cfg, errLog, draining)
	srv.Handler = connHandler{next: h, draining: draining, altSvc: alt}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	srv.Protocols = &protocols
	// Serve reads it to set HTTP/2 up (and writes to it): a copy, since
	// tlsListener is already handshaking with the original.
	srv.TLSConfig = tlsConf.Clone()
	return srv
}

// serve starts every server; a failure (not a shutdown) goes to errs.
func (e *apiEndpoints) serve(errs chan<- error) {
	run := func(serve func() error) {
		go func() {
			if err := serve(); !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	if e.plain != nil {
		run(func() error { return e.plain.Serve(e.plainLn) })
	}
	if e.secure != nil {
		run(func() error { return e.secure.Serve(e.secureLn) })
	}
	if e.h3 != nil {
		run(e.h3.serve)
	}
}

// servers are the TCP servers, for the drain.
func (e *apiEndpoints) servers() []*http.Server {
	var s []*http.Server
	for _, srv := range []*http.Server{e.plain, e.secure} {
		if srv != nil {
			s = append(s, srv)
		}
	}
	return s
}

// logAttrs name the bound addresses for the "listening" line.
func (e *apiEndpoints) logAttrs() []any {
	var a []any
	if e.plainLn != nil {
		a = append(a, "listen", e.plainLn.Addr().String())
	}
	if e.secureLn != nil {
		a = append(a, "tls_listen", e.secureLn.Addr().String())
	}
	if e.h3 != nil {
		a = append(a, "http3_port", e.h3.port())
	}
	return a
}

// close releases what listenAPI bound, before anything is served.
func (e *apiEndpoints) close() {
	if e.plainLn != nil {
		e.plainLn.Close()
	}
	if e.secureLn != nil {
		e.secureLn.Close()
	}
	if e.h3 != nil {
		e.h3.close()
	}
}
