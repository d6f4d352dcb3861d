package fx

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sony/gobreaker/v2"

	"overkill/arena/go-twin/internal/currency"
)

// fakeProvider answers /v2/rates with answer(n) for its n-th call (from 1).
type fakeProvider struct {
	calls  atomic.Int64
	answer func(n int64, w http.ResponseWriter, r *http.Request)
	srv    *httptest.Server
}

func newFake(t *testing.T, answer func(n int64, w http.ResponseWriter, r *http.Request)) *fakeProvider {
	f := &fakeProvider{answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.calls.Add(1)
		f.answer(n, w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// table writes a good answer for the request's base: EUR 0.9234, JPY 156.45.
func table(w http.ResponseWriter, r *http.Request) {
	base := r.URL.Query().Get("base")
	fmt.Fprintf(w, `[{"date":"2026-11-27","base":"%s","quote":"EUR","rate":0.9234},`+
		`{"date":"2026-11-27","base":"%s","quote":"JPY","rate":156.45}]`, base, base)
}

func status(code int, headers ...string) func(int64, http.ResponseWriter, *http.Request) {
	return func(_ int64, w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
	}
}

func settings(url string) Settings {
	return Settings{
		URL: url, ConnectTimeout: time.Second, AttemptTimeout: time.Second, Deadline: 3 * time.Second,
		QuotaPerSecond: 1000, QuotaBurst: 1000, MaxInFlight: 16, MaxAttempts: 3, RetryBudgetRatio: 0.2,
		BreakerFailureRate: 0.5, BreakerMinCalls: 4, BreakerWindow: 10 * time.Second, BreakerOpen: time.Second,
		CacheTTL: time.Hour, StaleLimit: time.Hour,
	}
}

func client(t *testing.T, s Settings) *Client {
	t.Helper()
	return New(s, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
}

func mustCode(s string) currency.Currency {
	c, ok := currency.Parse(s)
	if !ok {
		panic(s)
	}
	return c
}

var usd, eur, jpy, gbp = mustCode("USD"), mustCode("EUR"), mustCode("JPY"), mustCode("GBP")

func TestALookupIsCachedAndTheSameCurrencyNeedsNoCall(t *testing.T) {
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) { table(w, r) })
	c := client(t, settings(f.srv.URL))
	q, err := c.Rate(context.Background(), usd, eur)
	if err != nil || q.Text != "0.9234" || q.Date != "2026-11-27" || q.Source != Live {
		t.Fatalf("first: %+v %v", q, err)
	}
	q, err = c.Rate(context.Background(), usd, jpy)
	if err != nil || q.Text != "156.45" || q.Source != Cached {
		t.Fatalf("second: %+v %v", q, err)
	}
	q, err = c.Rate(context.Background(), eur, eur)
	if err != nil || q.Text != "1" || q.Date != time.Now().UTC().Format(time.DateOnly) || q.Source != Live {
		t.Fatalf("same: %+v %v", q, err)
	}
	if _, err = c.Rate(context.Background(), usd, gbp); err == nil || err.problem.Slug != "fx-unsupported-currency" ||
		!strings.Contains(err.problem.Detail, "GBP") {
		t.Fatalf("GBP: %v", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d provider calls, want 1", n)
	}
	if got := count(c.policy.metrics.hit); got != 2 {
		t.Errorf("%v hits", got)
	}
}

func TestTheCacheHitDoesNotAllocate(t *testing.T) {
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) { table(w, r) })
	c := client(t, settings(f.srv.URL))
	ctx := context.Background()
	if _, err := c.Rate(ctx, usd, eur); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = c.Rate(ctx, usd, eur) }); n != 0 {
		t.Errorf("%v allocations per hit", n)
	}
}

func TestAProvider422IsCachedAsUnsupported(t *testing.T) {
	f := newFake(t, status(422))
	c := client(t, settings(f.srv.URL))
	for range 3 {
		_, err := c.Rate(context.Background(), usd, eur)
		if err == nil || err.problem.Slug != "fx-unsupported-currency" || !strings.Contains(err.problem.Detail, "USD") {
			t.Fatalf("got %v", err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d provider calls, want 1", n)
	}
}

func TestConcurrentMissesMakeOneCall(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) { <-release; table(w, r) })
	c := client(t, settings(f.srv.URL))
	var wg sync.WaitGroup
	var live atomic.Int64
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q, err := c.Rate(context.Background(), usd, eur)
			if err == nil && q.Source == Live && q.Text == "0.9234" {
				live.Add(1)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // let them all join the one call
	close(release)
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d provider calls for 100 concurrent misses", n)
	}
	if live.Load() != 100 {
		t.Errorf("%d of 100 got the live rate", live.Load())
	}
}

func TestRetriesOnlyRetryableFaults(t *testing.T) {
	f := newFake(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n < 3 {
			w.WriteHeader(503)
			return
		}
		table(w, r)
	})
	c := client(t, settings(f.srv.URL))
	if _, err := c.Rate(context.Background(), usd, eur); err != nil || f.calls.Load() != 3 {
		t.Fatalf("503, 503, 200: %v after %d calls", err, f.calls.Load())
	}
	if got := count(c.policy.metrics.retries); got != 2 {
		t.Errorf("%v retries counted", got)
	}
	for _, answer := range []func(int64, http.ResponseWriter, *http.Request){
		status(500),
		status(404),
		func(_ int64, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `[{"date":"x"}]`) },
		func(_ int64, w http.ResponseWriter, _ *http.Request) { w.Write(make([]byte, maxAnswerBytes+1)) },
	} {
		f := newFake(t, answer)
		c := client(t, settings(f.srv.URL))
		_, err := c.Rate(context.Background(), usd, eur)
		if err == nil || err.problem.Status != 503 || err.problem.Slug != "fx-unavailable" || err.problem.RetryAfter != 1 {
			t.Errorf("got %+v", err)
		}
		if n := f.calls.Load(); n != 1 {
			t.Errorf("%d calls: a 500, a 404 or a malformed answer is never retried", n)
		}
	}
}

func TestAProviderThatSaysWaitClosesTheQuotaForEveryone(t *testing.T) {
	f := newFake(t, status(429, "Retry-After", "30", "RateLimit", `"default";r=0;t=30`))
	c := client(t, settings(f.srv.URL))
	_, err := c.Rate(context.Background(), usd, eur)
	if err == nil || err.problem.RetryAfter < 29 || err.problem.RetryAfter > 30 {
		t.Fatalf("got %+v", err)
	}
	started := time.Now()
	_, err = c.Rate(context.Background(), gbp, eur)
	if err == nil || err.problem.RetryAfter < 29 || time.Since(started) > 100*time.Millisecond {
		t.Fatalf("another base: %+v after %v", err, time.Since(started))
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d calls: nobody calls before the provider said", n)
	}
	if got := count(c.policy.metrics.calls["rejected_quota"]); got != 1 {
		t.Errorf("rejected_quota = %v", got)
	}
}

func TestTheQuotaIsNeverExceededAndRefusesAtOnce(t *testing.T) {
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) { table(w, r) })
	s := settings(f.srv.URL)
	s.QuotaPerSecond, s.QuotaBurst, s.CacheTTL, s.Deadline = 10, 3, 0, 200*time.Millisecond
	c := client(t, s)
	started := time.Now()
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(started) < time.Second {
				t0 := time.Now()
				c.Rate(context.Background(), usd, eur)
				slowest.Store(max(slowest.Load(), int64(time.Since(t0))))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(started).Seconds()
	if n := f.calls.Load(); float64(n) > 3+10*elapsed+1 {
		t.Errorf("%d calls in %.2f s: over the quota of 10/s, burst 3", n, elapsed)
	}
	if d := time.Duration(slowest.Load()); d > 300*time.Millisecond {
		t.Errorf("a lookup took %v, past its 200 ms deadline", d)
	}
}

func TestTheBreakerOpensAndRecovers(t *testing.T) {
	var healthy atomic.Bool
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if healthy.Load() {
			table(w, r)
			return
		}
		w.WriteHeader(500)
	})
	s := settings(f.srv.URL)
	s.CacheTTL, s.MaxAttempts = 0, 1
	c := client(t, s)
	for range 4 {
		c.Rate(context.Background(), usd, eur)
	}
	if c.BreakerState() != "open" || f.calls.Load() != 4 {
		t.Fatalf("breaker %s after %d calls", c.BreakerState(), f.calls.Load())
	}
	_, err := c.Rate(context.Background(), usd, eur)
	if err == nil || err.problem.RetryAfter != 1 || f.calls.Load() != 4 {
		t.Fatalf("open: %+v, %d calls", err, f.calls.Load())
	}
	healthy.Store(true)
	time.Sleep(s.BreakerOpen + 50*time.Millisecond)
	if c.BreakerState() != "half_open" {
		t.Errorf("breaker %s after the open time", c.BreakerState())
	}
	if _, err := c.Rate(context.Background(), usd, eur); err != nil || c.BreakerState() != "closed" {
		t.Fatalf("probe: %v, breaker %s", err, c.BreakerState())
	}
}

func TestAHungProviderTimesOutWithinTheDeadlineAndACutShortAttemptIsNotAFailure(t *testing.T) {
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	s := settings(f.srv.URL)
	s.AttemptTimeout, s.Deadline, s.BreakerMinCalls = time.Second, 300*time.Millisecond, 1
	c := client(t, s)
	started := time.Now()
	_, err := c.Rate(context.Background(), usd, eur)
	if err == nil || err.problem.Status != 503 || time.Since(started) > 400*time.Millisecond {
		t.Fatalf("%+v after %v", err, time.Since(started))
	}
	if counts := c.policy.breaker.Counts(); counts.TotalFailures != 0 || c.BreakerState() != "closed" {
		t.Errorf("the caller's deadline cut the attempt short, yet the breaker counted %+v", counts)
	}
	// With its whole attempt time, a hung attempt is a failure.
	s.AttemptTimeout, s.Deadline = 100*time.Millisecond, time.Second
	c = client(t, s)
	c.Rate(context.Background(), usd, eur)
	if c.policy.breaker.State() != gobreaker.StateOpen {
		t.Errorf("breaker %v after timed-out attempts", c.policy.breaker.State())
	}
}

func TestTheRequestsOwnDeadlineBoundsTheLookup(t *testing.T) {
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := client(t, settings(f.srv.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err := c.Rate(ctx, usd, eur)
	if err == nil || err.problem.Slug != "fx-unavailable" || time.Since(started) > 150*time.Millisecond {
		t.Fatalf("%+v after %v", err, time.Since(started))
	}
}

func TestAFailedLookupServesStaleWithinTheLimitOnly(t *testing.T) {
	var down atomic.Bool
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(500)
			return
		}
		table(w, r)
	})
	s := settings(f.srv.URL)
	s.CacheTTL, s.StaleLimit, s.MaxAttempts = 50*time.Millisecond, 100*time.Millisecond, 1
	c := client(t, s)
	if _, err := c.Rate(context.Background(), usd, eur); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	time.Sleep(60 * time.Millisecond)
	q, err := c.Rate(context.Background(), usd, eur)
	if err != nil || q.Source != Stale || q.Text != "0.9234" {
		t.Fatalf("past the TTL: %+v %v", q, err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := c.Rate(context.Background(), usd, eur); err == nil {
		t.Fatal("past the stale limit, still served")
	}
	if got := count(c.policy.metrics.stale); got != 1 {
		t.Errorf("%v stale lookups", got)
	}
}

func TestTheBulkheadWaitsUntilTheDeadlineOnly(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) { <-release; table(w, r) })
	s := settings(f.srv.URL)
	s.MaxInFlight = 1
	c := client(t, s)
	done := make(chan struct{})
	go func() { c.Rate(context.Background(), usd, eur); close(done) }()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err := c.Rate(ctx, gbp, eur)
	if elapsed := time.Since(started); elapsed < 150*time.Millisecond || elapsed > 250*time.Millisecond {
		t.Errorf("waited %v for a slot; the deadline was 180 ms away", elapsed)
	}
	time.Sleep(20 * time.Millisecond) // the call records its rejection just after its caller left
	if err == nil || count(c.policy.metrics.calls["rejected_bulkhead"]) != 1 {
		t.Errorf("a second base while the one slot is taken: %v", err)
	}
	close(release)
	<-done
}

// A caller that leaves does not cancel the call others share, and nothing
// is left running once the call ends.
func TestNoGoroutineOutlivesItsCall(t *testing.T) {
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		table(w, r)
	})
	c := client(t, settings(f.srv.URL))
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel) // the client goes away
	if _, err := c.Rate(ctx, usd, eur); err == nil {
		t.Fatal("the caller left; no rate expected")
	}
	// The call went on without its first caller and filled the cache.
	time.Sleep(200 * time.Millisecond)
	if q, err := c.Rate(context.Background(), usd, eur); err != nil || q.Source != Cached {
		t.Fatalf("after: %+v %v", q, err)
	}
	c.provider.client.CloseIdleConnections()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines, %d before", n, before)
	}
}

func TestOffIsDisabled(t *testing.T) {
	var c *Client
	if _, err := c.Rate(context.Background(), usd, usd); err == nil || err.problem.Slug != "fx-disabled" {
		t.Fatalf("got %v", err)
	}
	if c.Enabled() || c.BreakerState() != "" || New(Settings{}, nil, nil) != nil {
		t.Fatal("off is nil")
	}
}

func count(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// Many goroutines reserving at once get no more than burst + rate × time.
func TestConcurrentReservationsStayWithinTheQuota(t *testing.T) {
	q := newQuota(50, 5)
	started := time.Now()
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(started) < 500*time.Millisecond {
				if _, _, ok := q.acquire(context.Background(), time.Now().Add(20*time.Millisecond)); ok {
					granted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if max := 5 + 50*time.Since(started).Seconds(); float64(granted.Load()) > max {
		t.Errorf("%d tokens granted, at most %.1f allowed", granted.Load(), max)
	}
}
