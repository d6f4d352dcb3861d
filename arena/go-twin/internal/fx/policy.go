package fx

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// policy runs one provider call under every rule at once, in this order:
// bulkhead (a slot among max_in_flight, waited for until the deadline) →
// breaker (gobreaker) → quota (x/time/rate, plus the provider's "wait") →
// attempt (its own timeout) → classify → maybe retry (retryable faults
// only, within the retry budget, after full-jitter backoff or the
// provider's wait) — never past the deadline. The Rust service's
// outbound::Policy, rule for rule.
type policy struct {
	attemptTimeout time.Duration
	maxAttempts    int
	backoffBase    time.Duration // the first retry waits up to twice this …
	backoffMax     time.Duration // … each next twice as long, up to this
	openFor        time.Duration

	slots   chan struct{} // the bulkhead: a token per call in flight
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
	// breakerMoved is when the breaker last changed state (clock
	// nanoseconds): open or half-open, it next admits a call openFor later.
	breakerMoved atomic.Int64
	quota        *quota
	budget       *retryBudget
	metrics      *metrics
	log          *slog.Logger
}

// errNotCounted reports an admitted call to the breaker that says nothing
// about the provider: it never went (the quota refused it), or the caller's
// own deadline cut its attempt short. gobreaker's IsExcluded leaves it out
// of the counts, and a half-open probe's turn passes to the next caller.
var errNotCounted = errors.New("not counted")

func newPolicy(s Settings, log *slog.Logger) *policy {
	p := &policy{
		attemptTimeout: s.AttemptTimeout,
		maxAttempts:    max(s.MaxAttempts, 1),
		backoffBase:    50 * time.Millisecond,
		backoffMax:     time.Second,
		openFor:        s.BreakerOpen,
		slots:          make(chan struct{}, max(s.MaxInFlight, 1)),
		quota:          newQuota(s.QuotaPerSecond, s.QuotaBurst),
		budget:         newRetryBudget(s.RetryBudgetRatio),
		log:            log,
	}
	rate, minCalls := s.BreakerFailureRate, uint32(max(s.BreakerMinCalls, 1))
	p.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        providerName,
		MaxRequests: 1, // half-open: one probe call
		// A rolling window: Interval split into ten buckets of BucketPeriod
		// that expire one by one, so the counts ReadyToTrip sees are the
		// calls of (about) the last window, as the Rust breaker's ten
		// buckets. One difference: gobreaker asks ReadyToTrip only after a
		// failure, the Rust breaker after every call; the failure share can
		// only reach the rate on a failure unless min_calls is reached on a
		// success, so the Go breaker may open one call later in that case.
		Interval:     s.BreakerWindow,
		BucketPeriod: max(s.BreakerWindow/10, time.Millisecond),
		Timeout:      s.BreakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			calls := c.TotalSuccesses + c.TotalFailures
			return calls >= minCalls && float64(c.TotalFailures) >= rate*float64(calls)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errNotCounted) },
		OnStateChange: func(_ string, _, _ gobreaker.State) {
			p.breakerMoved.Store(clock.from(time.Now()))
		},
	})
	p.metrics = newMetrics(p.breaker.State)
	return p
}

// fault is why an attempt failed: the provider's fault or the way to it.
type fault struct {
	kind   faultKind
	status int    // faultStatus: the HTTP status
	reason string // for the log: what was wrong
}

type faultKind uint8

const (
	faultConnect   faultKind = iota // no connection, or one that broke
	faultTimeout                    // no whole answer within the attempt's time
	faultStatus                     // an error status
	faultMalformed                  // an answer that does not parse: never retried, never a value
)

// retryable: connects, timeouts, 429, 502, 503, 504; not 500, not malformed.
func (f fault) retryable() bool {
	switch f.kind {
	case faultConnect, faultTimeout:
		return true
	case faultStatus:
		return f.status == 429 || f.status == 502 || f.status == 503 || f.status == 504
	}
	return false
}

// label is the outcome label of outbound_calls_total.
func (f fault) label() string {
	switch {
	case f.kind == faultConnect:
		return "error_connect"
	case f.kind == faultTimeout:
		return "error_timeout"
	case f.kind == faultStatus && f.status == 429:
		return "error_rate_limited"
	case f.kind == faultStatus:
		return "error_status"
	}
	return "error_malformed"
}

func (f fault) String() string {
	switch f.kind {
	case faultStatus:
		return "status " + strconv.Itoa(f.status)
	case faultMalformed:
		return "malformed: " + f.reason
	}
	return f.label()[len("error_"):] + ": " + f.reason
}

// attemptError is a failed attempt, and how long the provider asked to
// wait, if it did (wait > 0 or asked).
type attemptError struct {
	fault fault
	wait  time.Duration
	asked bool
}

// callError is why a call gave no value; retryAt says when trying again
// makes sense (zero when nobody knows).
type callError struct {
	outcome string // the rejection or the last attempt's label
	retryAt time.Time
}

func (e *callError) Error() string { return "fx provider: " + e.outcome }

// call runs attempt under the rules, all before deadline. ctx carries no
// cancellation of its own beyond the deadline (see Client.fetch).
func (p *policy) call(ctx context.Context, deadline time.Time, attempt func(context.Context) (*Table, *attemptError)) (*Table, *callError) {
	if !p.enterBulkhead(ctx, deadline) {
		return nil, p.rejected("rejected_bulkhead", time.Time{})
	}
	defer func() { <-p.slots }()
	for attempts := 1; ; attempts++ {
		done, err := p.breaker.Allow()
		if err != nil {
			return nil, p.rejected("rejected_breaker", p.breakerReopens())
		}
		until, waited, ok := p.quota.acquire(ctx, deadline)
		if !ok {
			done(errNotCounted) // it never went: it says nothing
			return nil, p.rejected("rejected_quota", until)
		}
		if waited {
			p.metrics.quotaWaits.Inc()
		}
		if attempts == 1 {
			p.budget.deposit()
		} else {
			p.metrics.retries.Inc()
		}
		started := time.Now()
		attemptDeadline := started.Add(p.attemptTimeout)
		cutShort := deadline.Before(attemptDeadline)
		if cutShort {
			attemptDeadline = deadline
		}
		actx, cancel := context.WithDeadline(ctx, attemptDeadline)
		table, aerr := attempt(actx)
		cancel()
		p.metrics.duration.Observe(time.Since(started).Seconds())
		if aerr == nil {
			done(nil)
			p.metrics.calls["ok"].Inc()
			return table, nil
		}
		// A timeout the caller's own deadline cut short says nothing about
		// the provider: it did not have its whole attempt time.
		if aerr.fault.kind == faultTimeout && cutShort {
			done(errNotCounted)
		} else {
			done(errors.New(aerr.fault.label()))
		}
		p.metrics.calls[aerr.fault.label()].Inc()
		now := time.Now()
		var asked time.Time
		if aerr.asked {
			asked = now.Add(aerr.wait)
			if aerr.fault.kind == faultStatus && (aerr.fault.status == 429 || aerr.fault.status == 503) {
				p.quota.closeUntil(asked) // for everyone: nobody asks before the provider said
			}
		}
		retryAt := now.Add(p.backoff(attempts))
		if asked.After(retryAt) {
			retryAt = asked
		}
		if !aerr.fault.retryable() || attempts >= p.maxAttempts || !retryAt.Before(deadline) || !p.budget.withdraw() {
			p.log.Warn("outbound call failed", "provider", providerName, "fault", aerr.fault.String(), "attempts", attempts)
			return nil, &callError{outcome: aerr.fault.label(), retryAt: asked}
		}
		if !sleepUntil(ctx, retryAt) {
			return nil, &callError{outcome: aerr.fault.label(), retryAt: asked}
		}
	}
}

// enterBulkhead takes a slot, waiting for one until deadline.
func (p *policy) enterBulkhead(ctx context.Context, deadline time.Time) bool {
	select {
	case p.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// backoff is a full-jitter wait before retry number attempts: uniform in
// [0, min(base × 2^attempts, max)).
func (p *policy) backoff(attempts int) time.Duration {
	ceiling := min(p.backoffBase<<min(attempts, 16), p.backoffMax)
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

// breakerReopens is when a rejecting breaker next admits a call: openFor
// after it opened, or after its half-open probe went out.
func (p *policy) breakerReopens() time.Time {
	if moved := p.breakerMoved.Load(); moved != 0 {
		return clock.at(moved).Add(p.openFor)
	}
	return time.Time{}
}

func (p *policy) rejected(outcome string, retryAt time.Time) *callError {
	p.metrics.calls[outcome].Inc()
	return &callError{outcome: outcome, retryAt: retryAt}
}

// sleepUntil waits until t, or reports false if ctx ends first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
