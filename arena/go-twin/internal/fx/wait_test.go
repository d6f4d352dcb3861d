package fx

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfterTakesSecondsOrADate(t *testing.T) {
	now, _ := http.ParseTime("Sun, 29 Nov 2026 03:00:00 GMT")
	for v, want := range map[string]time.Duration{
		"120": 120 * time.Second, "Sun, 29 Nov 2026 03:00:30 GMT": 30 * time.Second,
		"Sun, 29 Nov 2026 02:00:00 GMT": 0, "99999999999999999999": maxWait, "7200": maxWait,
	} {
		if got, ok := retryAfter(v, now); !ok || got != want {
			t.Errorf("%q: %v, %v; want %v", v, got, ok, want)
		}
	}
	for _, bad := range []string{"", "soon", "-1", "1.5"} {
		if got, ok := retryAfter(bad, now); ok {
			t.Errorf("%q: %v", bad, got)
		}
	}
}

func TestRateLimitWaitsForExhaustedPoliciesOnly(t *testing.T) {
	for v, want := range map[string]time.Duration{
		`"default";r=0;t=30`: 30 * time.Second, `"burst";r=5;t=1, "day";r=0;t=600`: 600 * time.Second,
		`"default";r=0;t=999999`: maxWait,
	} {
		if got, ok := rateLimit(v); !ok || got != want {
			t.Errorf("%q: %v, %v; want %v", v, got, ok, want)
		}
	}
	for _, bad := range []string{`"default";r=3;t=30`, "garbage", `"d";r=0`, `"d";t=5`} {
		if got, ok := rateLimit(bad); ok {
			t.Errorf("%q: %v", bad, got)
		}
	}
}

func TestTheLongestRequestWinsAndIsCapped(t *testing.T) {
	h := http.Header{}
	h.Set("Retry-After", "2")
	h.Set("RateLimit", `"default";r=0;t=7`)
	if got, _ := requestedWait(h, time.Now()); got != 7*time.Second {
		t.Errorf("got %v", got)
	}
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", "86400")
	if got, _ := requestedWait(h, time.Now()); got != maxWait {
		t.Errorf("got %v", got)
	}
	if _, ok := requestedWait(http.Header{}, time.Now()); ok {
		t.Error("no headers, no wait")
	}
}
