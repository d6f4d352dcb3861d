package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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

const testRequestID = "test-request-id"

// front is the service in miniature: a request id, then the proxy, then
// the 404 problem.
func front(p *Proxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &httpx.Info{RequestID: testRequestID}
		r = r.WithContext(httpx.WithInfo(r.Context(), info))
		w.Header().Set("X-Request-Id", info.RequestID)
		if !p.Serve(w, r) {
			httpx.WriteProblem(w, r, httpx.NotFound("no resource at "+r.URL.Path))
		}
	})
}

type harness struct {
	p   *Proxy
	url string // the front server's base URL
	reg *prometheus.Registry
}

// start builds the proxy of routes (a TOML document) behind a front server.
func start(t *testing.T, routes string) *harness {
	t.Helper()
	cfgs, err := Parse([]byte(routes))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	p := New(cfgs, reg, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(front(p))
	t.Cleanup(func() {
		srv.Close()
		p.Close()
	})
	return &harness{p: p, url: srv.URL, reg: reg}
}

// route is one [[proxy.routes]] entry; extra holds more key lines.
func routeTOML(prefix string, upstreams []string, extra ...string) string {
	q := make([]string, len(upstreams))
	for i, u := range upstreams {
		q[i] = fmt.Sprintf("%q", u)
	}
	return fmt.Sprintf("[[proxy.routes]]\nprefix = %q\nupstreams = [%s]\n%s\n", prefix, strings.Join(q, ", "), strings.Join(extra, "\n"))
}

// upstream starts an httptest server; its address is host:port.
func serveUpstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// seen is what an echoing upstream received.
type seen struct {
	Host   string
	URI    string
	Header http.Header
	Body   string
}

// echo answers with what it received, as JSON, and counts its requests.
func echo(t *testing.T, name string, hits *atomic.Int64) string {
	return serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			hits.Add(1)
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Upstream", name)
		w.Header().Set("X-Echo", "1")
		_ = json.NewEncoder(w).Encode(seen{Host: r.Host, URI: r.RequestURI, Header: r.Header, Body: string(body)})
	})
}

func get(t *testing.T, url string, header ...string) (*http.Response, seen) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, seen) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var s seen
	if resp.Header.Get("X-Echo") != "" {
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
	} else {
		s.Body = string(body)
	}
	return resp, s
}

// raw sends request bytes on a new connection and returns everything read
// until the proxy closes it (or 5 s pass), and whether the end was clean.
func raw(t *testing.T, base, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// rawHead sends request on a new connection and returns the response head
// and the connection (its reader positioned at the body).
func rawHead(t *testing.T, base, request string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, c, br
}

// rawUpstream accepts connections, reads one request head from each and
// hands the connection to serve.
func rawUpstream(t *testing.T, serve func(c net.Conn, req *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				serve(c, req)
			}()
		}
	}()
	return ln.Addr().String()
}

// deadAddr is a loopback address where nothing listens (connect refused).
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// problemSlug reads the type of a problem body.
func problemSlug(t *testing.T, resp *http.Response, body string) string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, body %s", ct, body)
	}
	var p struct {
		Type      string `json:"type"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if p.RequestID != testRequestID || resp.Header.Get("X-Request-Id") != testRequestID {
		t.Fatalf("request id %q / %q", p.RequestID, resp.Header.Get("X-Request-Id"))
	}
	return strings.TrimPrefix(p.Type, "/problems/")
}

// counterValue reads one proxy_requests_total series.
func counterValue(t *testing.T, reg *prometheus.Registry, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "proxy_requests_total" {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
