package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"overkill/arena/go-twin/internal/httpx"
)

// Timing tests run real sockets with short timeouts (Go 1.24 has no fake
// clock for the network poller); the margins are wide enough for a loaded CI.
const (
	headerTimeout = 500 * time.Millisecond
	slack         = 400 * time.Millisecond
)

func testConfig() *Config {
	return &Config{
		RequestTimeout:          5 * time.Second,
		HeaderReadTimeout:       headerTimeout,
		BodyReadTimeout:         400 * time.Millisecond,
		IdleTimeout:             1500 * time.Millisecond,
		MaxBodyBytes:            1024,
		MaxConnections:          64,
		MaxConcurrentRequests:   64,
		MaxStreamsPerConnection: 100,
		ShutdownTimeout:         time.Second,
	}
}

type testServer struct {
	addr     string
	reg      *prometheus.Registry
	srv      *http.Server
	draining atomic.Bool
	opened   atomic.Int32
	closed   chan time.Time
}

// startTestServer serves a small mux through the production middleware stack,
// server settings and listener.
func startTestServer(t testing.TB, cfg *Config) *testServer {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 64<<10))
	})
	mux.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, p := httpx.ReadBody(w, r, httpx.BodyLimits{MaxBytes: cfg.MaxBodyBytes, ReadTimeout: cfg.BodyReadTimeout})
		if p != nil {
			httpx.WriteProblem(w, r, p)
			return
		}
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String(), closed: make(chan time.Time, 64), reg: prometheus.NewRegistry()}
	m := newHTTPMetrics()
	ts.reg.MustRegister(m.requests, m.inFlight)
	discard := slog.New(slog.DiscardHandler)
	ts.srv = newServer(apiStack(mux, cfg, discard, m, nil), cfg, log.New(io.Discard, "", 0), &ts.draining)
	ts.srv.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			ts.opened.Add(1)
		case http.StateClosed:
			ts.closed <- time.Now()
		}
	}
	go ts.srv.Serve(newListener(ln, cfg.MaxConnections, cfg.HeaderReadTimeout))
	t.Cleanup(func() { ts.srv.Close() })
	return ts
}

func (ts *testServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed reads (and discards) until the server closes c; it returns when.
func waitClosed(t *testing.T, c net.Conn, limit time.Duration) time.Time {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after %v", limit)
			}
			return time.Now()
		}
	}
}

func readResponse(t *testing.T, br *bufio.Reader, method string) *http.Response {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

var emptySettings = string([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})

// Every connection must deliver a complete request head within the header
// timeout of its accept, whatever the protocol: net/http alone gives a
// silent socket two timeouts (h2c preface peek, then the HTTP/1 read) and an
// h2c connection that stops after its preface the idle timeout.
func TestHeaderTimeoutCountsFromAccept(t *testing.T) {
	cfg := testConfig()
	cfg.IdleTimeout = 10 * time.Second
	ts := startTestServer(t, cfg)
	for _, tc := range []struct {
		name  string
		sends []string
	}{
		{"silent", nil},
		{"partial request line", []string{"GET /ok HT"}},
		{"request line, no headers end", []string{"GET /ok HTTP/1.1\r\nHost: x\r\n"}},
		{"first 16 bytes of the h2 preface", []string{h2Preface[:16]}},
		{"h2 preface and SETTINGS", []string{h2Preface, emptySettings}},
		{"trickled request head", strings.Split("GET /ok HTTP/1.1\r\nHost: x\r\nX-Pad: abcdefghijklmnopqrstuvwxyz\r\n", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ts.dial(t)
			start := time.Now()
			go func() {
				for _, s := range tc.sends {
					if _, err := io.WriteString(c, s); err != nil {
						return
					}
					if len(tc.sends) > 2 {
						time.Sleep(20 * time.Millisecond)
					}
				}
			}()
			took := waitClosed(t, c, 5*time.Second).Sub(start)
			if took < headerTimeout-50*time.Millisecond || took > headerTimeout+slack {
				t.Fatalf("closed after %v, want about %v", took, headerTimeout)
			}
		})
	}
}

// Once a head is in, the connection is no longer bound by the accept-time
// deadline: keep-alive, slow-but-in-time bodies and h2c streams carry on, and
// idle connections of both protocols close after the idle timeout.
func TestHeadDeadlineEndsWithTheFirstRequest(t *testing.T) {
	cfg := testConfig()
	cfg.BodyReadTimeout = 2 * time.Second
	ts := startTestServer(t, cfg)

	t.Run("http1 keep-alive then idle", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		br := bufio.NewReader(c)
		var idleFrom time.Time
		for i := 0; i < 2; i++ {
			if i > 0 { // past the accept-time deadline, within the idle timeout
				time.Sleep(headerTimeout + 200*time.Millisecond)
			}
			io.WriteString(c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
			if res := readResponse(t, br, "GET"); res.StatusCode != 204 {
				t.Fatalf("request %d: %d", i, res.StatusCode)
			}
			idleFrom = time.Now()
		}
		if took := waitClosed(t, c, 5*time.Second).Sub(idleFrom); took < cfg.IdleTimeout-300*time.Millisecond || took > cfg.IdleTimeout+slack {
			t.Fatalf("idle connection closed after %v, want about %v", took, cfg.IdleTimeout)
		}
	})

	t.Run("first body slower than the header timeout", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 6\r\n\r\n")
		for _, part := range []string{"ab", "cd", "ef"} {
			time.Sleep(headerTimeout / 2)
			io.WriteString(c, part)
		}
		res := readResponse(t, bufio.NewReader(c), "POST")
		if body, _ := io.ReadAll(res.Body); res.StatusCode != 200 || string(body) != "abcdef" {
			t.Fatalf("%d %q", res.StatusCode, body)
		}
	})

	t.Run("h2c stream, then idle", func(t *testing.T) {
		// Its own server, so that the connection counts are its own.
		ts := startTestServer(t, cfg)
		var protocols http.Protocols
		protocols.SetUnencryptedHTTP2(true)
		client := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
		var idleFrom time.Time
		for i := 0; i < 2; i++ {
			if i > 0 { // past the accept-time deadline, within the idle timeout
				time.Sleep(headerTimeout + 200*time.Millisecond)
			}
			res, err := client.Get("http://" + ts.addr + "/ok")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 204 || res.ProtoMajor != 2 {
				t.Fatalf("request %d: %d over HTTP/%d", i, res.StatusCode, res.ProtoMajor)
			}
			idleFrom = time.Now()
		}
		// At the idle timeout the server sends GOAWAY; it closes the socket
		// when the client does, or 1 s later (x/net/http2's goAwayTimeout).
		select {
		case at := <-ts.closed:
			if took := at.Sub(idleFrom); took < cfg.IdleTimeout-slack || took > cfg.IdleTimeout+time.Second+slack {
				t.Fatalf("idle h2c connection closed after %v", took)
			}
		case <-time.After(cfg.IdleTimeout + 2*time.Second):
			t.Fatal("idle h2c connection never closed")
		}
		if n := ts.opened.Load(); n != 1 {
			t.Fatalf("%d connections opened, want 1 (the second request reuses the first)", n)
		}
	})
}

// A body slower than the body-read timeout is a 408 at that timeout, and its
// load-shedding slot is free again then; shed requests say when to retry.
func TestSlowBodyIs408AndFreesItsSlot(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConcurrentRequests = 1
	ts := startTestServer(t, cfg)
	c := ts.dial(t)
	start := time.Now()
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"a\"")
	time.Sleep(100 * time.Millisecond)

	shed, err := http.Get("http://" + ts.addr + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	shed.Body.Close()
	if shed.StatusCode != 503 || shed.Header.Get("Retry-After") != "1" {
		t.Fatalf("while the slot is held: %d, Retry-After %q", shed.StatusCode, shed.Header.Get("Retry-After"))
	}

	res := readResponse(t, bufio.NewReader(c), "POST")
	took := time.Since(start)
	var p map[string]any
	json.NewDecoder(res.Body).Decode(&p)
	if res.StatusCode != 408 || p["type"] != "/problems/request-timeout" || p["title"] != "Request timeout" || !res.Close {
		t.Fatalf("%d close=%v %v", res.StatusCode, res.Close, p)
	}
	if took < cfg.BodyReadTimeout || took > cfg.BodyReadTimeout+slack {
		t.Fatalf("408 after %v, want about %v", took, cfg.BodyReadTimeout)
	}
	ok, err := http.Get("http://" + ts.addr + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	ok.Body.Close()
	if ok.StatusCode != 204 {
		t.Fatalf("after the 408: %d", ok.StatusCode)
	}
}

// A declared Content-Length over the limit is answered at once, before any
// body byte and without 100 Continue.
func TestDeclaredOversizeIs413AtOnce(t *testing.T) {
	ts := startTestServer(t, testConfig())
	for _, expect := range []string{"", "Expect: 100-continue\r\n"} {
		c := ts.dial(t)
		start := time.Now()
		fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16777216\r\n%s\r\n", expect)
		if expect == "" {
			io.WriteString(c, strings.Repeat("x", 4096))
		}
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 413 ") {
			t.Fatalf("%q: first line %q, %v", expect, line, err)
		}
		if took := time.Since(start); took > slack {
			t.Fatalf("%q: 413 after %v", expect, took)
		}
	}
}

func TestMissingHostIs400(t *testing.T) {
	ts := startTestServer(t, testConfig())
	c := ts.dial(t)
	io.WriteString(c, "GET /ok HTTP/1.1\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 400 ") {
		t.Fatalf("%q %v", line, err)
	}
}

// Drain: readiness off at once; for the grace the server still accepts and
// serves, telling HTTP/1.1 clients to close and h2c clients GOAWAY; then it
// stops accepting.
func TestDrainKeepsServingThroughTheGrace(t *testing.T) {
	cfg := testConfig()
	ts := startTestServer(t, cfg)
	// A live keep-alive connection from before the signal.
	before := ts.dial(t)
	br := bufio.NewReader(before)
	io.WriteString(before, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	if res := readResponse(t, br, "GET"); res.StatusCode != 204 || res.Close {
		t.Fatalf("before drain: %d close=%v", res.StatusCode, res.Close)
	}

	const grace = 600 * time.Millisecond
	done := make(chan bool)
	go func() {
		done <- drain([]*http.Server{ts.srv}, nil, &ts.draining, grace, cfg.ShutdownTimeout, nil, slog.New(slog.DiscardHandler))
	}()
	time.Sleep(50 * time.Millisecond)
	if !ts.draining.Load() {
		t.Fatal("readiness still on")
	}

	io.WriteString(before, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	if res := readResponse(t, br, "GET"); res.StatusCode != 204 || !res.Close {
		t.Fatalf("keep-alive during grace: %d close=%v", res.StatusCode, res.Close)
	}
	fresh, err := http.Get("http://" + ts.addr + "/ok") // accepted during the grace
	if err != nil {
		t.Fatal(err)
	}
	fresh.Body.Close()
	if fresh.StatusCode != 204 || !fresh.Close {
		t.Fatalf("new connection during grace: %d close=%v", fresh.StatusCode, fresh.Close)
	}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	// Each response carries GOAWAY, so the client opens a new connection
	// for every request.
	opened := ts.opened.Load()
	for i := 0; i < 2; i++ {
		res, err := h2.Get("http://" + ts.addr + "/ok")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 204 || res.ProtoMajor != 2 {
			t.Fatalf("h2c during grace: %d over HTTP/%d", res.StatusCode, res.ProtoMajor)
		}
	}
	if n := ts.opened.Load() - opened; n != 2 {
		t.Fatalf("h2c requests during the grace used %d connections, want 2 (GOAWAY after each)", n)
	}

	if !<-done {
		t.Fatal("drain reported a failure")
	}
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting after the grace")
	}
}

// No client-controlled value becomes a metric label: random methods and
// paths add no series beyond OTHER and "unmatched".
func TestMetricLabelsAreBounded(t *testing.T) {
	m := newHTTPMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.requests, m.duration)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/products/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := observe(router{mux}, slog.New(slog.DiscardHandler), m, slog.LevelInfo)
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := 0; i < 2000; i++ {
		method := make([]byte, 10)
		for j := range method {
			method[j] = letters[rand.IntN(len(letters))]
		}
		path := fmt.Sprintf("/x%d", rand.Int())
		if i%2 == 0 {
			path = fmt.Sprintf("/v1/products/%d", rand.Int())
		}
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(string(method), path, nil))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			seen[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = true
		}
	}
	want := map[string]bool{
		"http_requests_total{method=GET,protocol=http1,route=/v1/products/{id},status=200}": true,
		"http_requests_total{method=GET,protocol=http1,route=unmatched,status=404}":         true,
		"http_requests_total{method=OTHER,protocol=http1,route=unmatched,status=404}":       true,
		"http_requests_total{method=OTHER,protocol=http1,route=unmatched,status=405}":       true,
		"http_request_duration_seconds{method=GET,route=/v1/products/{id}}":                 true,
		"http_request_duration_seconds{method=GET,route=unmatched}":                         true,
		"http_request_duration_seconds{method=OTHER,route=unmatched}":                       true,
	}
	for k := range seen {
		if !want[k] {
			t.Errorf("unexpected series %s", k)
		}
	}
	if len(seen) > len(want) {
		t.Fatalf("%d series", len(seen))
	}
}

// On h2c a slow body costs only its stream: 408 at the body-read timeout, and
// the connection keeps serving.
func TestSlowBodyOnH2cResetsOnlyItsStream(t *testing.T) {
	cfg := testConfig()
	ts := startTestServer(t, cfg)
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protocols}}

	pr, pw := io.Pipe()
	defer pw.Close()
	go io.WriteString(pw, "{")
	req, _ := http.NewRequest("POST", "http://"+ts.addr+"/echo", pr)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 10
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	json.NewDecoder(res.Body).Decode(&p)
	res.Body.Close()
	if took := time.Since(start); res.StatusCode != 408 || p["type"] != "/problems/request-timeout" || took > cfg.BodyReadTimeout+slack {
		t.Fatalf("%d %v after %v", res.StatusCode, p, took)
	}
	ok, err := client.Get("http://" + ts.addr + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	ok.Body.Close()
	if ok.StatusCode != 204 || ts.opened.Load() != 1 {
		t.Fatalf("after the 408: %d, %d connections", ok.StatusCode, ts.opened.Load())
	}
}

// A request whose client goes away mid-flight is counted as 499 and leaves
// no gauge raised.
func TestDroppedRequestIs499(t *testing.T) {
	ts := startTestServer(t, testConfig())
	c := ts.dial(t)
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c.Close()
	var text string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		text = gather(t, ts.reg)
		if strings.Contains(text, "status=499} 1") && strings.Contains(text, "http_requests_in_flight{} 0") {
			break
		}
	}
	if !strings.Contains(text, "http_requests_total{method=GET,protocol=http1,route=/wait,status=499} 1") ||
		!strings.Contains(text, "http_requests_in_flight{} 0") {
		t.Fatal(text)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := mt.GetCounter().GetValue() + mt.GetGauge().GetValue()
			fmt.Fprintf(&b, "%s{%s} %g\n", f.GetName(), strings.Join(labels, ","), v)
		}
	}
	return b.String()
}

// What is still busy when the shutdown timeout ends is closed, not left
// running.
func TestDrainClosesWhatIsLeftAtTheTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.BodyReadTimeout = time.Minute
	cfg.ShutdownTimeout = 300 * time.Millisecond
	ts := startTestServer(t, cfg)
	c := ts.dial(t)
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{")
	time.Sleep(100 * time.Millisecond) // the head is in, the body never completes

	start := time.Now()
	if !drain([]*http.Server{ts.srv}, nil, &ts.draining, 0, cfg.ShutdownTimeout, nil, slog.New(slog.DiscardHandler)) {
		t.Fatal("drain reported a failure")
	}
	if took := time.Since(start); took < cfg.ShutdownTimeout || took > cfg.ShutdownTimeout+slack {
		t.Fatalf("drain took %v, want about %v", took, cfg.ShutdownTimeout)
	}
	waitClosed(t, c, time.Second)
}

// A client that pipelines requests and never reads a response loses its
// connection; it does not hold it (and a connection slot) forever.
func TestClientThatNeverReadsIsDropped(t *testing.T) {
	cfg := testConfig()
	cfg.RequestTimeout = 300 * time.Millisecond
	cfg.IdleTimeout = 300 * time.Millisecond
	ts := startTestServer(t, cfg)
	c := ts.dial(t)
	c.(*net.TCPConn).SetReadBuffer(4096)
	requests := strings.Repeat("GET /big HTTP/1.1\r\nHost: x\r\n\r\n", 100)
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	for {
		if _, err := io.WriteString(c, requests); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept a connection whose client reads nothing")
			}
			break
		}
	}
	select {
	case <-ts.closed:
	case <-time.After(time.Second):
		t.Fatal("server side still open")
	}
	if took := time.Since(start); took > cfg.RequestTimeout+cfg.IdleTimeout+time.Second {
		t.Fatalf("dropped after %v", took)
	}
}
