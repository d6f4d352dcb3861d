package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkObservedRequest is the per-request cost of the middleware stack
// (request id, metrics, log line at a disabled level, shedding, timeout,
// routing) around a trivial handler.
func BenchmarkObservedRequest(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/products/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	cfg := testConfig()
	h := apiStack(mux, cfg, slog.New(slog.DiscardHandler), newHTTPMetrics())
	req := httptest.NewRequest("GET", "/v1/products/1", nil)
	req.Header.Set("X-Request-Id", "bench-1")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
