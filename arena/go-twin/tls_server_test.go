package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"overkill/arena/go-twin/internal/httpx"
)

type tlsTestServer struct {
	plain, secure string // addresses; plain "" in TLS-only mode
	pair          testPair
	roots         *x509.CertPool // trusts pair
	reg           *prometheus.Registry
	certs         *certStore
	e             *apiEndpoints
	draining      atomic.Bool
}

// startTLSTestServer serves the test mux (startTestServer's routes) through
// the production stack and listenAPI: TLS only on one port, or (both) with
// cleartext beside it.
func startTLSTestServer(t *testing.T, cfg *Config, both bool) *tlsTestServer {
	t.Helper()
	ts := &tlsTestServer{pair: validPair(t, t.TempDir()), reg: prometheus.NewRegistry()}
	ts.roots = serverPool(t, ts.pair)
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS.CertFile, cfg.TLS.KeyFile = ts.pair.cert, ts.pair.key
	if both {
		cfg.TLS.Listen = "127.0.0.1:0"
	}
	if cfg.TLS.HandshakeTimeout == 0 {
		cfg.TLS.HandshakeTimeout = 300 * time.Millisecond
	}
	if cfg.TLS.AltSvcMaxAge == 0 {
		cfg.TLS.AltSvcMaxAge = 86400 * time.Second
	}
	var perr *pairError
	if cfg.TLS.Pair, perr = loadPair(ts.pair.cert, ts.pair.key, time.Now()); perr != nil {
		t.Fatal(perr)
	}
	m := newHTTPMetrics()
	ts.reg.MustRegister(m.requests)
	tlsM := newTLSMetrics(ts.reg)
	discard := slog.New(slog.DiscardHandler)
	ts.certs = newCertStore(&cfg.TLS, discard, tlsM)
	e, err := listenAPI(cfg, apiStack(testMux(cfg), cfg, discard, m, nil), ts.certs, tlsM, log.New(io.Discard, "", 0), &ts.draining)
	if err != nil {
		t.Fatal(err)
	}
	ts.e = e
	errs := make(chan error, 4)
	e.serve(errs)
	if e.plainLn != nil {
		ts.plain = e.plainLn.Addr().String()
	}
	ts.secure = e.secureLn.Addr().String()
	t.Cleanup(func() {
		for _, s := range e.servers() {
			s.Close()
		}
		if e.h3 != nil {
			e.h3.srv.Close()
			e.h3.close()
		}
	})
	return ts
}

func testMux(cfg *Config) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 4<<20)) })
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, p := httpx.ReadBody(w, r, httpx.BodyLimits{MaxBytes: cfg.MaxBodyBytes, ReadTimeout: cfg.BodyReadTimeout})
		if p != nil {
			httpx.WriteProblem(w, r, p)
			return
		}
		_, _ = w.Write(body)
	})
	return mux
}

func (ts *tlsTestServer) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: ts.roots, ServerName: "localhost"}
}

func (ts *tlsTestServer) client(h2 bool) *http.Client {
	var p http.Protocols
	p.SetHTTP1(!h2)
	p.SetHTTP2(h2)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: ts.clientTLS(), Protocols: &p}}
}

func (ts *tlsTestServer) h3Client() (*http.Client, *http3.Transport) {
	tr := &http3.Transport{TLSClientConfig: ts.clientTLS()}
	return &http.Client{Transport: tr}, tr
}

// One handler for every protocol: HTTP/1.1 and HTTP/2 over TLS carry
// Alt-Svc for the HTTP/3 port, HTTP/3 and cleartext responses none, and
// every request is counted with its protocol.
func TestTLSProtocolsAndAltSvc(t *testing.T) {
	ts := startTLSTestServer(t, tlsTestConfig(), true)
	_, port, _ := net.SplitHostPort(ts.secure)
	wantAlt := `h3=":` + port + `"; ma=86400`
	h3c, h3t := ts.h3Client()
	defer h3t.Close()
	for _, tc := range []struct {
		name   string
		client *http.Client
		url    string
		proto  int
		altSvc string
	}{
		{"http1 over TLS", ts.client(false), "https://" + ts.secure, 1, wantAlt},
		{"http2 over TLS", ts.client(true), "https://" + ts.secure, 2, wantAlt},
		{"http3", h3c, "https://" + ts.secure, 3, ""},
		{"cleartext", http.DefaultClient, "http://" + ts.plain, 1, ""},
	} {
		res, err := tc.client.Get(tc.url + "/ok")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		res.Body.Close()
		if res.StatusCode != 204 || res.ProtoMajor != tc.proto || res.Header.Get("Alt-Svc") != tc.altSvc {
			t.Errorf("%s: %d over HTTP/%d, Alt-Svc %q", tc.name, res.StatusCode, res.ProtoMajor, res.Header.Get("Alt-Svc"))
		}
	}
	text := gather(t, ts.reg)
	for _, want := range []string{
		"http_requests_total{method=GET,protocol=http1,route=/ok,status=204} 2",
		"http_requests_total{method=GET,protocol=http2,route=/ok,status=204} 1",
		"http_requests_total{method=GET,protocol=http3,route=/ok,status=204} 1",
		"tls_handshakes_total{result=ok} 2",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, text)
		}
	}
}

func tlsTestConfig() *Config {
	cfg := testConfig()
	cfg.TLS.HTTP3 = true
	return cfg
}

// Bodies over HTTP/3 follow the same rules: echoed within the limit, a
// declared length over it 413 at once, a streamed one cut with 413.
func TestHTTP3Bodies(t *testing.T) {
	cfg := tlsTestConfig()
	ts := startTLSTestServer(t, cfg, false)
	c, tr := ts.h3Client()
	defer tr.Close()
	post := func(body io.Reader, length int64) (int, string) {
		req, _ := http.NewRequest("POST", "https://"+ts.secure+"/echo", body)
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = length
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := post(strings.NewReader(`{"a":1}`), 7); code != 200 || body != `{"a":1}` {
		t.Fatalf("echo: %d %q", code, body)
	}
	over := strings.Repeat("x", int(cfg.MaxBodyBytes)+1)
	if code, body := post(strings.NewReader(over), int64(len(over))); code != 413 || !strings.Contains(body, "payload-too-large") {
		t.Fatalf("declared over the limit: %d %q", code, body)
	}
	if code, _ := post(io.MultiReader(strings.NewReader(over)), -1); code != 413 {
		t.Fatalf("streamed over the limit: %d", code)
	}
}

// A TLS handshake holds a connection slot and must finish within the
// handshake timeout: a silent client, one that stops mid-ClientHello and
// one that speaks no TLS are dropped and counted.
func TestTLSHandshakeIsBoundedAndCounted(t *testing.T) {
	cfg := tlsTestConfig()
	cfg.MaxConnections = 1
	ts := startTLSTestServer(t, cfg, false)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ts.secure)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, send := range []string{"", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"} {
		silent := dial()
		io.WriteString(silent, send)
		start := time.Now()
		// The one slot is taken: a real client waits for it.
		done := make(chan error, 1)
		go func() {
			c := ts.client(true)
			defer c.CloseIdleConnections() // and so frees the slot
			res, err := c.Get("https://" + ts.secure + "/ok")
			if err == nil {
				res.Body.Close()
			}
			done <- err
		}()
		took := waitClosed(t, silent, 5*time.Second).Sub(start)
		if took < cfg.TLS.HandshakeTimeout-50*time.Millisecond || took > cfg.TLS.HandshakeTimeout+slack {
			t.Fatalf("%q: dropped after %v, want about %v", send, took, cfg.TLS.HandshakeTimeout)
		}
		if err := <-done; err != nil {
			t.Fatalf("the waiting client: %v", err)
		}
	}
	plainText := dial()
	io.WriteString(plainText, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	waitClosed(t, plainText, 5*time.Second)
	text := gather(t, ts.reg)
	for _, want := range []string{"tls_handshakes_total{result=timeout} 2", "tls_handshakes_total{result=failed} 1", "tls_handshakes_total{result=ok} 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, text)
		}
	}
}

// A reloaded pair serves new handshakes; a connection opened before the
// reload keeps working.
func TestReloadKeepsOpenConnections(t *testing.T) {
	ts := startTLSTestServer(t, tlsTestConfig(), false)
	old := ts.client(true)
	get := func(c *http.Client) *http.Response {
		res, err := c.Get("https://" + ts.secure + "/ok")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	get(old)
	next := writePair(t, t.TempDir(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	certPEM, _ := os.ReadFile(next.cert)
	keyPEM, _ := os.ReadFile(next.key)
	writeFile(t, ts.pair.cert, certPEM)
	writeFile(t, ts.pair.key, keyPEM)
	if !ts.certs.reload("test") {
		t.Fatal("reload rejected")
	}
	if res := get(old); res.TLS.PeerCertificates[0].SerialNumber.Cmp(ts.pair.serial) != 0 {
		t.Fatal("the open connection did not keep its handshake")
	}
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverPool(t, next), ServerName: "localhost"}}}
	if res := get(fresh); res.TLS.PeerCertificates[0].SerialNumber.Cmp(next.serial) != 0 {
		t.Fatal("a new connection did not get the new pair")
	}
	h3c, tr := (&tlsTestServer{roots: serverPool(t, next), secure: ts.secure}).h3Client()
	defer tr.Close()
	if res := get(h3c); res.ProtoMajor != 3 || res.TLS.PeerCertificates[0].SerialNumber.Cmp(next.serial) != 0 {
		t.Fatal("HTTP/3 did not get the new pair")
	}
}

// QUIC connections are capped at max_connections, handshakes included:
// one more is refused at once, and its slot is free again once a
// connection closes.
func TestQUICConnectionLimit(t *testing.T) {
	cfg := tlsTestConfig()
	cfg.MaxConnections = 1
	ts := startTLSTestServer(t, cfg, false)
	dial := func() (*quic.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		tc := ts.clientTLS()
		tc.NextProtos = []string{http3.NextProtoH3}
		return quic.DialAddr(ctx, ts.secure, tc, nil)
	}
	first, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = dial()
	var te *quic.TransportError
	if !errors.As(err, &te) || te.ErrorCode != quic.ConnectionRefused || time.Since(start) > slack {
		t.Fatalf("second connection: %v after %v, want CONNECTION_REFUSED at once", err, time.Since(start))
	}
	first.CloseWithError(0, "")
	<-first.Context().Done()
	var again *quic.Conn
	for deadline := time.Now().Add(2 * time.Second); ; {
		if again, err = dial(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	again.CloseWithError(0, "")
}

// A QUIC connection that sends no request is closed at the header-read
// timeout from its first packet, as a TCP one is.
func TestQUICConnectionWithoutRequestIsClosed(t *testing.T) {
	cfg := tlsTestConfig()
	ts := startTLSTestServer(t, cfg, false)
	tc := ts.clientTLS()
	tc.NextProtos = []string{http3.NextProtoH3}
	start := time.Now()
	c, err := quic.DialAddr(context.Background(), ts.secure, tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("still open")
	}
	if took := time.Since(start); took < cfg.HeaderReadTimeout-50*time.Millisecond || took > cfg.HeaderReadTimeout+slack {
		t.Fatalf("closed after %v, want about %v", took, cfg.HeaderReadTimeout)
	}
}

// The drain sends GOAWAY on HTTP/3 at its start: a request in flight
// finishes, new connections are refused, and the endpoint closes.
func TestHTTP3Drain(t *testing.T) {
	cfg := tlsTestConfig()
	ts := startTLSTestServer(t, cfg, false)
	// The client keeps the connection alive (else QUIC's idle timeout, the
	// same 300 ms, closes the whole connection first).
	tr := &http3.Transport{TLSClientConfig: ts.clientTLS(), QUICConfig: &quic.Config{KeepAlivePeriod: 50 * time.Millisecond}}
	defer tr.Close()
	c := &http.Client{Transport: tr}
	res, err := c.Get("https://" + ts.secure + "/big")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() {
		done <- drain(ts.e.servers(), ts.e.h3, &ts.draining, 200*time.Millisecond, cfg.ShutdownTimeout, nil, slog.New(slog.DiscardHandler))
	}()
	n, err := io.Copy(io.Discard, res.Body) // the response in flight completes
	res.Body.Close()
	if err != nil || n != 4<<20 {
		t.Fatalf("in-flight response: %d bytes, %v", n, err)
	}
	if !<-done {
		t.Fatal("drain reported a failure")
	}
	fresh, tr2 := ts.h3Client()
	defer tr2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+ts.secure+"/ok", nil)
	if res, err := fresh.Do(req); err == nil {
		res.Body.Close()
		t.Fatal(fmt.Sprint("served after the drain: ", res.Status))
	}
}

// A client that stops reading an HTTP/3 response does not hold its stream:
// the response's writes end at the write deadline and the stream is reset.
func TestHTTP3ClientThatNeverReadsIsReset(t *testing.T) {
	cfg := tlsTestConfig()
	cfg.RequestTimeout, cfg.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond
	ts := startTLSTestServer(t, cfg, false)
	// The client keeps the connection alive (else QUIC's idle timeout, the
	// same 300 ms, closes the whole connection first).
	tr := &http3.Transport{TLSClientConfig: ts.clientTLS(), QUICConfig: &quic.Config{KeepAlivePeriod: 50 * time.Millisecond}}
	defer tr.Close()
	c := &http.Client{Transport: tr}
	res, err := c.Get("https://" + ts.secure + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// Far past the deadline, without reading: the flow-control window (512
	// KiB) stops the 4 MiB response long before its end.
	time.Sleep(cfg.RequestTimeout + cfg.IdleTimeout + slack)
	n, err := io.Copy(io.Discard, res.Body)
	var reset *http3.Error
	if !errors.As(err, &reset) || !reset.Remote || reset.ErrorCode != http3.ErrCodeInternalError || n >= 4<<20 {
		t.Fatalf("read %d bytes, then %v; want a reset stream", n, err)
	}
}
