package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestForwardingHeadersAreAppended(t *testing.T) {
	up := echo(t, "a", nil)
	h := start(t, routeTOML("/api/", []string{up}))
	resp, s := get(t, h.url+"/api/x?q=1",
		"X-Forwarded-For", "203.0.113.9",
		"X-Forwarded-Proto", "https", // a client cannot claim TLS
		"X-Forwarded-Host", "spoofed.example",
		"Forwarded", "for=198.51.100.7",
		"Via", "1.0 fred",
		"X-Request-Id", "client-sent-id")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	front := strings.TrimPrefix(h.url, "http://")
	checks := map[string]string{
		"X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  front,
		"Forwarded":         `for=198.51.100.7, for=127.0.0.1;host="` + front + `";proto=http`,
		"Via":               "1.0 fred, 1.1 overkill",
		"X-Request-Id":      testRequestID,
	}
	for k, want := range checks {
		if got := strings.Join(s.Header.Values(k), ", "); got != want {
			t.Errorf("upstream saw %s: %q, want %q", k, got, want)
		}
	}
	if s.Host != up {
		t.Errorf("Host %q, want the upstream's %q", s.Host, up)
	}
	if s.URI != "/api/x?q=1" {
		t.Errorf("URI %q", s.URI)
	}
	if v := resp.Header.Values("Via"); len(v) != 1 || v[0] != "1.1 overkill" {
		t.Errorf("response Via %q", v)
	}
	if v := resp.Header.Values("X-Request-Id"); len(v) != 1 || v[0] != testRequestID {
		t.Errorf("response X-Request-Id %q", v)
	}
}

func TestForwardedQuotesAnIPv6Client(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	up := echo(t, "a", nil)
	cfgs, _ := Parse([]byte(routeTOML("/api/", []string{up})))
	p := New(cfgs, nil, discardLog())
	srv := &http.Server{Handler: front(p)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, s := get(t, "http://"+ln.Addr().String()+"/api/")
	want := `for="[::1]";host="` + ln.Addr().String() + `";proto=http`
	if got := s.Header.Get("Forwarded"); got != want {
		t.Fatalf("Forwarded %q, want %q", got, want)
	}
	if got := s.Header.Get("X-Forwarded-For"); got != "::1" {
		t.Fatalf("X-Forwarded-For %q", got)
	}
}

func TestStripPrefixAndPreserveHost(t *testing.T) {
	up := echo(t, "a", nil)
	h := start(t, routeTOML("/api/", []string{up}, "strip_prefix = true")+
		routeTOML("/bare", []string{up}, "strip_prefix = true", "preserve_host = true")+
		routeTOML("/keep/", []string{up}))
	front := strings.TrimPrefix(h.url, "http://")
	cases := []struct{ path, uri, host string }{
		{"/api/x?q=1", "/x?q=1", up},
		{"/api/", "/", up},
		{"/api/a%2Fb/c", "/a%2Fb/c", up},
		{"/bare", "/", front},
		{"/bare/y", "/y", front},
		{"/barefoot", "/foot", front},
		{"/keep/z?x", "/keep/z?x", up},
	}
	for _, c := range cases {
		_, s := get(t, h.url+c.path)
		if s.URI != c.uri || s.Host != c.host {
			t.Errorf("%s: upstream saw %s (Host %s), want %s (Host %s)", c.path, s.URI, s.Host, c.uri, c.host)
		}
	}
}

// Every hop-by-hop header of the request is removed, and every header
// Connection names; TE: trailers is kept.
func TestHopByHopRequestHeadersAreRemoved(t *testing.T) {
	up := echo(t, "a", nil)
	h := start(t, routeTOML("/api/", []string{up}))
	req := "GET /api/ HTTP/1.1\r\nHost: front\r\n" +
		"Connection: keep-alive, X-Foo, x-bar\r\n" +
		"X-Foo: 1\r\nX-Bar: 2\r\nX-Kept: 3\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"Proxy-Connection: keep-alive\r\n" +
		"Proxy-Authorization: Basic YTpi\r\n" +
		"Proxy-Authenticate: Basic\r\n" +
		"TE: trailers, deflate\r\n" +
		"Trailer: X-T\r\n" +
		"Upgrade: h2c\r\n" +
		"\r\n"
	resp, _, br := rawHead(t, h.url, req)
	body, _ := io.ReadAll(io.LimitReader(br, resp.ContentLength))
	for _, k := range []string{"Connection", "X-Foo", "X-Bar", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
		"Proxy-Authenticate", "Trailer", "Upgrade", "Transfer-Encoding"} {
		if strings.Contains(string(body), `"`+k+`"`) {
			t.Errorf("upstream saw %s: %s", k, body)
		}
	}
	if !strings.Contains(string(body), `"Te":["trailers"]`) || !strings.Contains(string(body), `"X-Kept":["3"]`) {
		t.Errorf("TE: trailers or X-Kept missing: %s", body)
	}
	// "Connection: close, X-Foo" removes X-Foo too.
	out := raw(t, h.url, "GET /api/ HTTP/1.1\r\nHost: front\r\nConnection: close, X-Foo\r\nX-Foo: 1\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 200") || strings.Contains(out, `"X-Foo"`) {
		t.Errorf("Connection: close, X-Foo: %s", out)
	}
}

// And every hop-by-hop header of the response.
func TestHopByHopResponseHeadersAreRemoved(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn, _ *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"+
			"Connection: X-Foo\r\nX-Foo: 1\r\nX-Kept: 2\r\nKeep-Alive: timeout=5\r\n"+
			"Proxy-Connection: keep-alive\r\nProxy-Authenticate: Basic\r\nTE: trailers\r\n"+
			"Trailer: X-T\r\nUpgrade: h2c\r\nVia: 1.1 upstream\r\n\r\nok")
	})
	h := start(t, routeTOML("/api/", []string{up}))
	resp, _, br := rawHead(t, h.url, "GET /api/ HTTP/1.1\r\nHost: front\r\n\r\n")
	body, _ := io.ReadAll(io.LimitReader(br, 2))
	for _, k := range []string{"X-Foo", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Te", "Trailer", "Upgrade"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("client saw %s: %q", k, v)
		}
	}
	if resp.Header.Get("X-Kept") != "2" || string(body) != "ok" || resp.Header.Get("Via") != "1.1 upstream, 1.1 overkill" {
		t.Errorf("headers %v, body %q", resp.Header, body)
	}
}

// An upstream's own answers, errors included, pass through untouched.
func TestUpstreamErrorsPassThrough(t *testing.T) {
	up := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Custom", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "upstream says no")
	})
	h := start(t, routeTOML("/api/", []string{up}))
	resp, s := get(t, h.url+"/api/")
	if resp.StatusCode != 503 || s.Body != "upstream says no" || resp.Header.Get("X-Custom") != "1" ||
		resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, s.Body)
	}
	// Its 5xx are not the proxy's: the upstream stays in rotation.
	for range 5 {
		get(t, h.url+"/api/")
	}
	if !h.p.routes[0].pool.ups[0].healthy.Load() {
		t.Fatal("an upstream's own 503s ejected it")
	}
}

func TestTrailersPassThrough(t *testing.T) {
	up := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Checksum", "abc")
	})
	h := start(t, routeTOML("/api/", []string{up}))
	resp, err := http.Get(h.url + "/api/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("body %q trailer %v", b, resp.Trailer)
	}
}

func TestRoutingLongestPrefixAndHost(t *testing.T) {
	a, b, c, d := echo(t, "a", nil), echo(t, "b", nil), echo(t, "c", nil), echo(t, "d", nil)
	h := start(t, routeTOML("/s/", []string{a})+
		routeTOML("/s/deep/", []string{b})+
		routeTOML("/s/", []string{c}, `host = "shop.example"`)+
		routeTOML("/t", []string{d}, `host = "shop.example"`))
	cases := []struct{ path, host, want string }{
		{"/s/x", "", "a"},
		{"/s/deep/x", "", "b"},
		{"/s/x", "shop.example", "c"},
		{"/s/x", "SHOP.example:8080", "c"},
		{"/s/x", "shop.example.", "c"},
		{"/s/deep/x", "shop.example", "b"}, // longer prefix wins over host
		{"/t/x", "shop.example", "d"},
		{"/t/x", "other.example", ""},
		{"/u", "", ""},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, h.url+c.path, nil)
		if c.host != "" {
			req.Host = c.host
		}
		resp, _ := do(t, req)
		got := resp.Header.Get("X-Upstream")
		if got != c.want {
			t.Errorf("%s Host %q: upstream %q, want %q", c.path, c.host, got, c.want)
		}
		if c.want == "" && resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want the 404 problem", c.path, resp.StatusCode)
		}
	}
}

func TestAbsoluteFormForAnotherHostIsRefused(t *testing.T) {
	up := echo(t, "a", nil)
	h := start(t, routeTOML("/api/", []string{up}))
	front := strings.TrimPrefix(h.url, "http://")
	out := raw(t, h.url, "GET http://other.example/api/x HTTP/1.1\r\nHost: "+front+"\r\nConnection: close\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 400") || !strings.Contains(out, "/problems/bad-request") {
		t.Fatalf("absolute-form for another host: %s", out)
	}
	out = raw(t, h.url, fmt.Sprintf("GET http://%s/api/x HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", front, front))
	if !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.Contains(out, `"URI":"/api/x"`) {
		t.Fatalf("absolute-form for this service: %s", out)
	}
}

func TestUpgradeIsForwardedAndJoined(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn, req *http.Request) {
		if req.Header.Get("Upgrade") != "echo" || !strings.EqualFold(req.Header.Get("Connection"), "upgrade") {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			io.WriteString(c, "echo: "+line)
		}
	})
	h := start(t, routeTOML("/ws/", []string{up}))
	resp, c, br := rawHead(t, h.url, "GET /ws/ HTTP/1.1\r\nHost: front\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "echo" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"ping\n", "pong\n"} {
		io.WriteString(c, msg)
		line, err := br.ReadString('\n')
		if err != nil || line != "echo: "+msg {
			t.Fatalf("%q %v", line, err)
		}
	}
}

// Headers the service set before the proxy ran (the drain's Connection:
// close, X-Request-Id) are on the answer once, upstream head or problem,
// also after a forwarded 100 Continue.
func TestServiceHeadersSurviveTheProxy(t *testing.T) {
	up := echo(t, "a", nil)
	cfgs, _ := Parse([]byte(routeTOML("/d/", []string{up}) + routeTOML("/dead/", []string{deadAddr(t)})))
	p := New(cfgs, nil, discardLog())
	inner := front(p)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close") // as connHandler does while draining
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	for _, req := range []string{
		"GET /d/ HTTP/1.1\r\nHost: f\r\n\r\n",
		"POST /d/ HTTP/1.1\r\nHost: f\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi",
		"GET /dead/ HTTP/1.1\r\nHost: f\r\n\r\n",
	} {
		out := raw(t, srv.URL, req)
		final := out[strings.LastIndex(out, "HTTP/1.1 "):]
		if strings.Count(final, "X-Request-Id: "+testRequestID) != 1 || !strings.Contains(final, "Connection: close") {
			t.Errorf("%q:\n%s", req, out)
		}
	}
}
