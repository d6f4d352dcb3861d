package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkObservedRequest is the per-request cost of the middleware stack
// (request id, metrics, log line at a disabled level, shedding, timeout,
// routing) around a trivial handler.
func BenchmarkObservedRequest(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/products/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	cfg := testConfig()
	h := apiStack(mux, cfg, slog.New(slog.DiscardHandler), newHTTPMetrics(), nil)
	req := httptest.NewRequest("GET", "/v1/products/1", nil)
	req.Header.Set("X-Request-Id", "bench-1")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// BenchmarkPostBody is a POST whose body ReadBody reads (under the
// body-read deadline) through the real server, stack and listener on
// loopback, over HTTP/1.1 and h2c. Client allocations are included; the
// difference between two runs is the server's.
func BenchmarkPostBody(b *testing.B) {
	for _, proto := range []string{"http1", "h2c"} {
		b.Run(proto, func(b *testing.B) {
			ts := startTestServer(b, testConfig())
			var protocols http.Protocols
			if proto == "h2c" {
				protocols.SetUnencryptedHTTP2(true)
			} else {
				protocols.SetHTTP1(true)
			}
			client := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
			defer client.CloseIdleConnections()
			body := `{"sku":"MUG-BLUE-330","name":"Blue mug","price_minor":1299,"currency":"EUR","stock":42}`
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest("POST", "http://"+ts.addr+"/echo", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatal(res.Status)
				}
			}
		})
	}
}
