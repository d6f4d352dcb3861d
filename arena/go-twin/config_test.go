package main

import (
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
