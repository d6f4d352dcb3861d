package fx

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxWait caps how long a provider can ask to be left alone: it cannot park
// the client for a day.
const maxWait = time.Hour

// requestedWait is how long the provider's headers ask us to wait, if they
// do: the longest of Retry-After (RFC 9110 §10.2.3: seconds or an
// HTTP-date), the IETF RateLimit field (`"policy";r=0;t=30`: remaining r,
// seconds to reset t, per policy) and the older RateLimit-Remaining: 0 with
// RateLimit-Reset, capped at maxWait. The Rust service's outbound::wait.
func requestedWait(h http.Header, now time.Time) (time.Duration, bool) {
	var wait time.Duration
	found := false
	take := func(d time.Duration, ok bool) {
		if ok && (!found || d > wait) {
			wait, found = d, true
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		take(retryAfter(v, now))
	}
	for _, v := range h.Values("RateLimit") {
		take(rateLimit(v))
	}
	if remaining, ok := headerNumber(h, "RateLimit-Remaining"); ok && remaining == 0 {
		if reset, ok := headerNumber(h, "RateLimit-Reset"); ok {
			take(seconds(reset), true)
		}
	}
	return min(wait, maxWait), found
}

// retryAfter reads delta-seconds or an HTTP-date (a date past is no wait).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v != "" && allDigits(v) {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil { // more digits than a uint64: the cap
			return maxWait, true
		}
		return seconds(n), true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(at.Sub(now), 0), maxWait), true
}

// rateLimit reads a RateLimit field: the longest t among the policies with
// nothing remaining (r=0).
func rateLimit(v string) (time.Duration, bool) {
	var wait time.Duration
	found := false
	for _, item := range strings.Split(v, ",") {
		params := strings.Split(item, ";")
		var remaining, reset uint64
		hasR, hasT := false, false
		for _, p := range params[1:] {
			name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
			switch {
			case name == "r":
				remaining, hasR = n, err == nil
			case name == "t":
				reset, hasT = n, err == nil
			}
		}
		if hasR && remaining == 0 && hasT && (!found || seconds(reset) > wait) {
			wait, found = seconds(reset), true
		}
	}
	return wait, found
}

func headerNumber(h http.Header, name string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(h.Get(name)), 10, 64)
	return n, err == nil
}

// seconds is n seconds, capped at maxWait (no overflow).
func seconds(n uint64) time.Duration {
	if n > uint64(maxWait/time.Second) {
		return maxWait
	}
	return time.Duration(n) * time.Second
}
