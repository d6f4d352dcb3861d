package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"
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
		if got := maxStreams(&Config{MaxConcurrentRequests: requests}); got != want {
			t.Errorf("max_concurrent_requests %d: %d streams, want %d", requests, got, want)
		}
	}
}
