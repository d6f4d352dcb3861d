package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("secret internal text") })
	mux.HandleFunc("GET /ok/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("PATCH /ok/{id}", func(w http.ResponseWriter, r *http.Request) {})
	log := slog.New(slog.DiscardHandler)
	return observe(withTimeout(router{mux}, time.Second), log, nil, slog.LevelInfo)
}

func serve(t *testing.T, method, target string, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	testHandler().ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("body is not JSON: %q", body)
		}
	}
	return res, m
}

func TestPanicBecomesInternalProblem(t *testing.T) {
	res, body := serve(t, "GET", "/boom", map[string]string{"X-Request-Id": "abc.1"})
	if res.StatusCode != 500 || body["type"] != "/problems/internal" || body["request_id"] != "abc.1" {
		t.Fatalf("got %d %v", res.StatusCode, body)
	}
	if strings.Contains(body["detail"].(string), "secret") {
		t.Fatal("panic text leaked")
	}
}

func TestMethodNotAllowedKeepsAllow(t *testing.T) {
	res, body := serve(t, "DELETE", "/ok/1", nil)
	if res.StatusCode != 405 || body["type"] != "/problems/method-not-allowed" {
		t.Fatalf("got %d %v", res.StatusCode, body)
	}
	if allow := res.Header.Get("Allow"); allow != "GET, HEAD, PATCH" {
		t.Fatalf("Allow = %q", allow)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

func TestUnknownRouteIsNotFoundProblem(t *testing.T) {
	for _, p := range []string{"/nope", "/ok/", "/ok/../ok/1", "//ok/1"} {
		res, body := serve(t, "GET", p, nil)
		if res.StatusCode != 404 || body["type"] != "/problems/not-found" || body["instance"] != p {
			t.Fatalf("%s: got %d %v", p, res.StatusCode, body)
		}
		if id := res.Header.Get("X-Request-Id"); len(id) != 36 {
			t.Fatalf("%s: X-Request-Id = %q", p, id)
		}
	}
}

func TestRequestIDValidation(t *testing.T) {
	for id, keep := range map[string]bool{"a": true, "A-z_0.9:x": true, strings.Repeat("a", 128): true,
		"": false, "has space": false, strings.Repeat("a", 129): false, "é": false} {
		if validRequestID(id) != keep {
			t.Errorf("validRequestID(%q) = %v", id, !keep)
		}
	}
}

func TestLoadConfigNamesTheVariable(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://u@localhost/db", "OVERKILL_MAX_CONNECTIONS": "0"}
	_, err := loadConfig(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "OVERKILL_MAX_CONNECTIONS") {
		t.Fatalf("err = %v", err)
	}
	env["OVERKILL_MAX_CONNECTIONS"] = ""
	env["OVERKILL_LOG_LEVEL"] = "overkill=debug,warn"
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil || cfg.Listen != "0.0.0.0:8080" || cfg.LogLevel != slog.LevelDebug || cfg.MaxConnections != 1024 {
		t.Fatalf("cfg = %+v, err = %v", cfg, err)
	}
}
