package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestConnectFailureIs502AndNoHealthyUpstreamIs503(t *testing.T) {
	h := start(t, routeTOML("/api/", []string{deadAddr(t)}, "[proxy.routes.health]", "unhealthy_threshold = 2"))
	for i := range 2 {
		resp, s := get(t, h.url+"/api/")
		if resp.StatusCode != 502 || problemSlug(t, resp, s.Body) != "bad-gateway" {
			t.Fatalf("attempt %d: %d %s", i, resp.StatusCode, s.Body)
		}
	}
	// Ejected after two failures: answered at once, no connect attempted.
	begin := time.Now()
	resp, s := get(t, h.url+"/api/")
	if resp.StatusCode != 503 || problemSlug(t, resp, s.Body) != "unavailable" || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("%d %s", resp.StatusCode, s.Body)
	}
	if time.Since(begin) > 500*time.Millisecond {
		t.Fatalf("503 took %v", time.Since(begin))
	}
	up := h.p.routes[0].pool.ups[0].Addr
	if n := counterValue(t, h.reg, map[string]string{"upstream": up, "class": "error"}); n != 2 {
		t.Errorf("errors counted against the upstream: %v, want 2", n)
	}
	if n := counterValue(t, h.reg, map[string]string{"upstream": "none", "class": "error"}); n != 1 {
		t.Errorf("requests with no upstream: %v, want 1", n)
	}
}

func TestNoResponseHeadInTimeIs504(t *testing.T) {
	release := make(chan struct{})
	up := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	h := start(t, routeTOML("/api/", []string{up}, "response_timeout_ms = 100"))
	begin := time.Now()
	resp, s := get(t, h.url+"/api/")
	if resp.StatusCode != 504 || problemSlug(t, resp, s.Body) != "gateway-timeout" {
		t.Fatalf("%d %s", resp.StatusCode, s.Body)
	}
	if d := time.Since(begin); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("504 after %v", d)
	}
}

// A request is tried on another upstream only when it is idempotent and
// never reached the first (connect refused).
func TestRetriesOnlyIdempotentAndUnsent(t *testing.T) {
	var hits atomic.Int64
	live := echo(t, "live", &hits)
	dead := deadAddr(t)
	// Two requests in round-robin order: one starts on each upstream.
	routes := routeTOML("/api/", []string{dead, live}, "[proxy.routes.health]", "unhealthy_threshold = 100")
	h := start(t, routes)
	for i := range 2 {
		resp, s := get(t, h.url+"/api/")
		if resp.StatusCode != 200 {
			t.Fatalf("GET %d: %d %s", i, resp.StatusCode, s.Body)
		}
	}
	statuses := map[int]int{}
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, h.url+"/api/", strings.NewReader("x"))
		resp, _ := do(t, req)
		statuses[resp.StatusCode]++
	}
	if statuses[200] != 1 || statuses[502] != 1 {
		t.Fatalf("POSTs: %v, want one 200 and one 502 (not retried)", statuses)
	}
	// A PUT (idempotent, with a body) is retried with its body intact.
	for range 2 {
		req, _ := http.NewRequest(http.MethodPut, h.url+"/api/", strings.NewReader("payload"))
		resp, s := do(t, req)
		if resp.StatusCode != 200 || s.Body != "payload" {
			t.Fatalf("PUT: %d %q", resp.StatusCode, s.Body)
		}
	}
	if hits.Load() != 5 {
		t.Fatalf("live upstream hits %d, want 5", hits.Load())
	}

	// An upstream that took the request and then closed: it was sent, so a
	// GET is not retried either.
	var live2 atomic.Int64
	taker := rawUpstream(t, func(c net.Conn, _ *http.Request) {})
	h = start(t, routeTOML("/api/", []string{taker, echo(t, "b", &live2)}, "retries = 5"))
	statuses = map[int]int{}
	for range 2 {
		resp, _ := get(t, h.url+"/api/")
		statuses[resp.StatusCode]++
	}
	if statuses[200] != 1 || statuses[502] != 1 || live2.Load() != 1 {
		t.Fatalf("GETs after a reset: %v, live hits %d", statuses, live2.Load())
	}
}

// Passive ejection without active checks: out after unhealthy_threshold
// failures, one probe after 1 s (then 2 s, …), back when a probe answers.
func TestPassiveEjectionAndProbeRecovery(t *testing.T) {
	var aHits atomic.Int64
	addr := deadAddr(t)
	b := echo(t, "b", nil)
	h := start(t, routeTOML("/api/", []string{addr, b}, "retries = 1"))
	pool := h.p.routes[0].pool
	now := time.Now()
	var clock atomic.Int64
	pool.now = func() time.Time { return now.Add(time.Duration(clock.Load())) }
	a := pool.ups[0]
	for range 6 { // three of them start on a
		if resp, _ := get(t, h.url+"/api/"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if a.healthy.Load() {
		t.Fatal("not ejected after 3 connect failures")
	}
	// The upstream comes back; before its backoff nothing goes to it.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skip("port taken meanwhile:", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aHits.Add(1)
		w.Header().Set("X-Upstream", "a")
		io.WriteString(w, "{}")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	for range 4 {
		get(t, h.url+"/api/")
	}
	if aHits.Load() != 0 {
		t.Fatalf("ejected upstream got %d requests before its backoff", aHits.Load())
	}
	clock.Store(int64(1100 * time.Millisecond))
	resp, _ := get(t, h.url+"/api/")
	if resp.Header.Get("X-Upstream") != "a" || !a.healthy.Load() {
		t.Fatalf("the probe went to %q; healthy %v", resp.Header.Get("X-Upstream"), a.healthy.Load())
	}
}

// A failed probe doubles the backoff, up to 60 s.
func TestProbeBackoffDoubles(t *testing.T) {
	rc := RouteConfig{Upstreams: []Upstream{{"a:1", "a:1"}, {"b:1", "b:1"}}}
	p := newPool(&rc)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	a := p.ups[0]
	for range 3 {
		p.failed(a, false)
	}
	want := time.Second
	for range 8 {
		if u, probe := p.claimProbe(0), false; u != nil || probe {
			t.Fatalf("probe before the backoff")
		}
		now = now.Add(want)
		u := p.claimProbe(0)
		if u != a {
			t.Fatalf("no probe after %v", want)
		}
		if p.claimProbe(0) != nil {
			t.Fatal("a second probe while one is in flight")
		}
		p.failed(a, true)
		want = min(want*2, maxBackoff)
		if got := a.probeAt.Sub(now); got != want {
			t.Fatalf("backoff %v, want %v", got, want)
		}
	}
	now = now.Add(want)
	u := p.claimProbe(0)
	p.succeeded(u, true)
	if !a.healthy.Load() || p.ejected.Load() != 0 {
		t.Fatal("a passing probe did not bring it back")
	}
}

// Active checks eject after unhealthy_threshold failed checks and bring
// back after healthy_threshold passing ones; no probe requests meanwhile.
func TestActiveHealthChecks(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	var hits atomic.Int64
	a := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if !healthy.Load() {
				w.WriteHeader(500)
			}
			return
		}
		hits.Add(1)
	})
	h := start(t, routeTOML("/api/", []string{a}, "[proxy.routes.health]", `path = "/healthz"`, "interval_ms = 100",
		"timeout_ms = 50", "healthy_threshold = 2", "unhealthy_threshold = 2"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.p.Run(ctx)
	u := h.p.routes[0].pool.ups[0]
	healthy.Store(false)
	waitFor(t, 3*time.Second, func() bool { return !u.healthy.Load() })
	resp, _ := get(t, h.url+"/api/")
	if resp.StatusCode != 503 || hits.Load() != 0 {
		t.Fatalf("status %d, hits %d", resp.StatusCode, hits.Load())
	}
	healthy.Store(true)
	waitFor(t, 3*time.Second, func() bool { return u.healthy.Load() })
	if resp, _ := get(t, h.url+"/api/"); resp.StatusCode != 200 {
		t.Fatalf("status %d after recovery", resp.StatusCode)
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An upstream that resets mid-body: the client's response is cut, never
// a clean end.
func TestUpstreamResetMidBodyAbortsTheClientResponse(t *testing.T) {
	for name, head := range map[string]string{
		"content-length": "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 1000),
		"chunked":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + strings.Repeat("x", 1000) + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			up := rawUpstream(t, func(c net.Conn, _ *http.Request) {
				io.WriteString(c, head)
				time.Sleep(50 * time.Millisecond)
				c.(*net.TCPConn).SetLinger(0) // RST
			})
			h := start(t, routeTOML("/api/", []string{up}))
			// The head may not have left the server's buffer when the
			// connection is cut: an error at the head or in the body.
			if n, err := getAll(h.url + "/api/"); err == nil {
				t.Fatalf("the client read %d bytes and a clean end", n)
			}
			waitFor(t, time.Second, func() bool {
				return counterValue(t, h.reg, map[string]string{"class": "error"}) == 1
			})
		})
	}
}

// getAll GETs url and reads the whole body: the bytes read and the first
// error, at the head or in the body.
func getAll(url string) (int64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}
