package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"overkill/arena/go-twin/internal/proxy"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProxyServer runs the production stack (middleware, server settings,
// listener) with the proxy routes of doc in front of a mux serving GET
// /v1/ping; it returns the base URL and the access log.
func startProxyServer(t *testing.T, cfg *Config, doc string) (string, *syncBuffer) {
	t.Helper()
	routes, err := proxy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	px := proxy.New(routes, nil, logger)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ping", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var draining atomic.Bool
	srv := newServer(apiStack(mux, cfg, logger, newHTTPMetrics(), px), cfg, log.New(io.Discard, "", 0), &draining)
	go srv.Serve(newListener(ln, cfg.MaxConnections, cfg.HeaderReadTimeout))
	t.Cleanup(func() {
		srv.Close()
		px.Close()
	})
	return "http://" + ln.Addr().String(), logs
}

func proxyRoute(prefix, upstream string, extra ...string) string {
	return fmt.Sprintf("[[proxy.routes]]\nprefix = %q\nupstreams = [%q]\n%s\n", prefix, upstream, strings.Join(extra, "\n"))
}

func testUpstream(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// The 404/405 problem middleware never rewrites an upstream's answer; the
// service's own routes, unmatched paths and CONNECT keep their problems.
func TestProxiedAnswersPassThroughTheServiceStack(t *testing.T) {
	up := testUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if r.Method == http.MethodDelete {
			w.Header().Set("Allow", "GET")
			w.WriteHeader(http.StatusMethodNotAllowed)
			io.WriteString(w, "upstream 405")
			return
		}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "upstream 404")
	})
	base, _ := startProxyServer(t, testConfig(), proxyRoute("/api/", up))
	check := func(method, path string, status int, contentType, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != status || resp.Header.Get("Content-Type") != contentType || !strings.Contains(string(b), body) {
			t.Errorf("%s %s: %d %q %q", method, path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s %s: no X-Request-Id", method, path)
		}
	}
	check("GET", "/api/missing", 404, "text/plain", "upstream 404")
	check("DELETE", "/api/x", 405, "text/plain", "upstream 405")
	check("GET", "/v1/ping", 200, "text/plain; charset=utf-8", "pong")
	check("GET", "/elsewhere", 404, "application/problem+json", "not-found")
	check("GET", "/api/../v1/ping", 404, "application/problem+json", "not-found")

	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n")
	out, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(out), "HTTP/1.1 405") || !strings.Contains(string(out), "method-not-allowed") {
		t.Errorf("CONNECT: %s", out)
	}
}

// A proxied stream is bounded by the proxy's timeouts, not by the API's
// request timeout or the server's write timeout (request + idle).
func TestProxiedStreamOutlivesTheRequestTimeout(t *testing.T) {
	up := testUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		for range 25 {
			io.WriteString(w, "tick\n")
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	cfg := testConfig()
	cfg.RequestTimeout = 200 * time.Millisecond
	cfg.IdleTimeout = 500 * time.Millisecond // WriteTimeout: 0.7 s; the stream takes 2.5 s
	base, logs := startProxyServer(t, cfg, proxyRoute("/s/", up))
	resp, err := http.Get(base + "/s/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || strings.Count(string(b), "tick") != 25 {
		t.Fatalf("%d ticks: %v", strings.Count(string(b), "tick"), err)
	}
	// The access log line names the route and the upstream.
	var line map[string]any
	deadline := time.Now().Add(2 * time.Second)
	for line == nil && time.Now().Before(deadline) {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"msg":"request"`) {
				_ = json.Unmarshal([]byte(l), &line)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if line["proxy_route"] != "0:/s/" || line["proxy_upstream"] != up || line["status"] != 200.0 {
		t.Fatalf("access log: %v", line)
	}
}

// An upstream reset mid-body through the whole stack: the client sees an
// error, and the access log line says the response was aborted.
func TestUpstreamResetThroughTheStack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		c.Read(buf)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\npartial")
		time.Sleep(50 * time.Millisecond)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	base, logs := startProxyServer(t, testConfig(), proxyRoute("/r/", ln.Addr().String()))
	// The head may still be in the server's buffer when the connection is
	// cut: the error comes at the head or in the body, never a clean end.
	resp, err := http.Get(base + "/r/")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a cut body ended cleanly")
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), `"aborted":true`) {
		if time.Now().After(deadline) {
			t.Fatalf("no aborted access log line: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// On HTTP/2 an upstream reset mid-body resets the client's stream: the
// body ends in an error, and the connection serves the next request.
func TestUpstreamResetResetsTheH2Stream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				c.Read(buf)
				if strings.HasPrefix(string(buf), "GET /r/ok") {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"+strings.Repeat("x", 100_000))
				time.Sleep(50 * time.Millisecond)
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}()
		}
	}()
	base, _ := startProxyServer(t, testConfig(), proxyRoute("/r/", ln.Addr().String()))
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	resp, err := client.Get(base + "/r/")
	if err == nil {
		if resp.ProtoMajor != 2 {
			t.Fatalf("protocol %s", resp.Proto)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a cut body ended cleanly")
	}
	resp, err = client.Get(base + "/r/ok")
	if err != nil {
		t.Fatalf("the connection did not survive the reset stream: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("%q", b)
	}
}

// HTTP/2 clients (h2c) reach HTTP/1.1 upstreams.
func TestH2CClientThroughTheProxy(t *testing.T) {
	up := testUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Proto, r.Header.Get("Via"))
	})
	base, _ := startProxyServer(t, testConfig(), proxyRoute("/h/", up))
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	resp, err := client.Get(base + "/h/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(b) != "HTTP/1.1 1.1 overkill" {
		t.Fatalf("%s: %q", resp.Proto, b)
	}
}

func TestProxyConfigErrorIsOneLineNamingRouteAndKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overkill.toml")
	doc := "[database]\nurl = \"x\"\n" + proxyRoute("/a/", "127.0.0.1:1") + proxyRoute("/b/", "127.0.0.1:2", `lb = "fastest"`)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": "postgres://u@localhost/db", "OVERKILL_CONFIG": path}
	_, err := loadConfig(func(k string) string { return env[k] })
	if err == nil || !strings.HasPrefix(err.Error(), "invalid configuration: proxy.routes[1].lb: ") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("%v", err)
	}
	os.WriteFile(path, []byte(proxyRoute("/a/", "127.0.0.1:1")), 0o600)
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil || len(cfg.Proxy) != 1 {
		t.Fatalf("%v %v", cfg, err)
	}
}
