package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"overkill/arena/go-twin/internal/fx"
)

func TestNewTimeoutSettings(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://u@localhost/db"}
	load := func(extra map[string]string) (*Config, error) {
		return loadConfig(func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base[k]
		})
	}
	cfg, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BodyReadTimeout != 10*time.Second || cfg.IdleTimeout != time.Minute || cfg.DrainGrace != 5*time.Second {
		t.Fatalf("defaults: %+v", cfg)
	}
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"OVERKILL_DRAIN_GRACE_MS", "0", true},
		{"OVERKILL_DRAIN_GRACE_MS", "-1", false},
		{"OVERKILL_BODY_READ_TIMEOUT_MS", "0", false},
		{"OVERKILL_BODY_READ_TIMEOUT_MS", "250", true},
		{"OVERKILL_IDLE_TIMEOUT_MS", "0", false},
		{"OVERKILL_IDLE_TIMEOUT_MS", "86400001", false},
		{"OVERKILL_IDLE_TIMEOUT_MS", "1500", true},
	} {
		cfg, err := load(map[string]string{tc.name: tc.value})
		if tc.ok != (err == nil) {
			t.Errorf("%s=%s: err = %v", tc.name, tc.value, err)
		}
		if err != nil && !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%s: error does not name it: %v", tc.name, tc.value, err)
		}
		if tc.ok && tc.name == "OVERKILL_DRAIN_GRACE_MS" && cfg.DrainGrace != 0 {
			t.Errorf("DrainGrace = %v", cfg.DrainGrace)
		}
	}
}

func TestLogFilterDirectives(t *testing.T) {
	for _, tc := range []struct {
		in    string
		level slog.Level
		off   bool
		ok    bool
	}{
		{"info", slog.LevelInfo, false, true},
		{"overkill", slog.LevelDebug, false, true},
		{"overkill::db=warn", slog.LevelWarn, false, true},
		{"warn,chassis::server=debug", slog.LevelDebug, false, true},
		{"off", 0, true, true},
		{"overkill=off,error", slog.LevelError, false, true},
		{"ERROR", slog.LevelError, false, true},
		{"verbose=", 0, false, false},
		{"=info", 0, false, false},
		{"a=b=c", 0, false, false},
		{"over kill", 0, false, false},
		{"overkill=loud", 0, false, false},
		{"1abc", 0, false, false},
	} {
		level, off, ok := parseLogLevel(tc.in)
		if ok != tc.ok || ok && (off != tc.off || !off && level != tc.level) {
			t.Errorf("parseLogLevel(%q) = %v, %v, %v", tc.in, level, off, ok)
		}
	}
}

func TestHTTP2StreamsPerConnection(t *testing.T) {
	for requests, want := range map[int]int{1: 1, 64: 64, 100: 100, 512: 100} {
		if got := maxStreams(&Config{MaxConcurrentRequests: requests, MaxStreamsPerConnection: 100}); got != want {
			t.Errorf("max_concurrent_requests %d: %d streams, want %d", requests, got, want)
		}
	}
}

func TestFXSettings(t *testing.T) {
	load := func(extra map[string]string) (*Config, error) {
		return loadConfigEnv(func(k string) (string, bool) {
			if v, ok := extra[k]; ok {
				return v, true
			}
			if k == "DATABASE_URL" {
				return "postgres://u@localhost/db", true
			}
			return "", false
		})
	}
	cfg, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := fx.Settings{
		URL: "https://api.frankfurter.dev", ConnectTimeout: time.Second, AttemptTimeout: 2 * time.Second,
		Deadline: 3 * time.Second, QuotaPerSecond: 5, QuotaBurst: 10, MaxInFlight: 16, MaxAttempts: 3,
		RetryBudgetRatio: 0.2, BreakerFailureRate: 0.5, BreakerMinCalls: 10, BreakerWindow: 30 * time.Second,
		BreakerOpen: 10 * time.Second, CacheTTL: time.Hour, StaleLimit: 24 * time.Hour,
	}
	if cfg.FX != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", cfg.FX, want)
	}
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"OVERKILL_FX_URL", "", true}, // set but empty: off
		{"OVERKILL_FX_URL", "off", true},
		{"OVERKILL_FX_URL", "OFF", true},
		{"OVERKILL_FX_URL", "http://127.0.0.1:8089/", true},
		{"OVERKILL_FX_URL", "https://fx.example/api", true},
		{"OVERKILL_FX_URL", "ftp://fx.example", false},
		{"OVERKILL_FX_URL", "fx.example", false},
		{"OVERKILL_FX_URL", "http://", false},
		{"OVERKILL_FX_URL", "http://fx.example/?base=USD", false},
		{"OVERKILL_FX_CONNECT_TIMEOUT_MS", "0", false},
		{"OVERKILL_FX_CONNECT_TIMEOUT_MS", "60000", true},
		{"OVERKILL_FX_ATTEMPT_TIMEOUT_MS", "60001", false},
		{"OVERKILL_FX_DEADLINE_MS", "1", true},
		{"OVERKILL_FX_QUOTA_PER_SECOND", "0.001", true},
		{"OVERKILL_FX_QUOTA_PER_SECOND", "0.0009", false},
		{"OVERKILL_FX_QUOTA_PER_SECOND", "1e3", false},
		{"OVERKILL_FX_QUOTA_PER_SECOND", "-1", false},
		{"OVERKILL_FX_QUOTA_PER_SECOND", "100001", false},
		{"OVERKILL_FX_QUOTA_BURST", "0", false},
		{"OVERKILL_FX_MAX_IN_FLIGHT", "1025", false},
		{"OVERKILL_FX_MAX_ATTEMPTS", "10", true},
		{"OVERKILL_FX_MAX_ATTEMPTS", "11", false},
		{"OVERKILL_FX_RETRY_BUDGET_RATIO", "0", true},
		{"OVERKILL_FX_RETRY_BUDGET_RATIO", "1.5", false},
		{"OVERKILL_FX_BREAKER_FAILURE_RATE", "0.005", false},
		{"OVERKILL_FX_BREAKER_MIN_CALLS", "100000", true},
		{"OVERKILL_FX_BREAKER_WINDOW_SECS", "3601", false},
		{"OVERKILL_FX_BREAKER_OPEN_SECS", "0", false},
		{"OVERKILL_FX_CACHE_TTL_SECS", "0", true},
		{"OVERKILL_FX_CACHE_TTL_SECS", "86401", false},
		{"OVERKILL_FX_STALE_LIMIT_SECS", "604800", true},
		{"OVERKILL_FX_STALE_LIMIT_SECS", "604801", false},
	} {
		cfg, err := load(map[string]string{tc.name: tc.value})
		if tc.ok != (err == nil) {
			t.Errorf("%s=%q: err = %v", tc.name, tc.value, err)
		}
		if err != nil && !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%q: error does not name it: %v", tc.name, tc.value, err)
		}
		if tc.ok && tc.name == "OVERKILL_FX_URL" {
			off := tc.value == "" || strings.EqualFold(tc.value, "off")
			if off != (cfg.FX.URL == "") || strings.HasSuffix(cfg.FX.URL, "/") {
				t.Errorf("%s=%q: URL %q", tc.name, tc.value, cfg.FX.URL)
			}
		}
	}
}
