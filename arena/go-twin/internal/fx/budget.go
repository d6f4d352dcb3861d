package fx

import (
	"sync"
	"time"
)

const (
	// budgetWindow: how long calls and retries are remembered.
	budgetWindow = 10 * time.Second
	// minRetries: retries allowed over the window whatever the calls.
	minRetries = 3
	// maxBudgetEvents: enough for any rate the quota allows; past it the
	// oldest are forgotten first (the budget errs towards fewer retries).
	maxBudgetEvents = 4096
)

// retryBudget lets retries add at most a share of the calls made over the
// last 10 s (plus a floor of 3, so a quiet client can still retry): an
// outage never multiplies the traffic the provider sees. A deposit per
// first attempt, a withdrawal per retry (the Rust service's
// outbound::budget; tower's TpsBudget and Finagle's RetryBudget are the
// same idea).
type retryBudget struct {
	ratio  float64
	mu     sync.Mutex
	events []budgetEvent // oldest first
}

type budgetEvent struct {
	at    time.Time
	retry bool
}

func newRetryBudget(ratio float64) *retryBudget {
	return &retryBudget{ratio: min(max(ratio, 0), 1)}
}

// deposit records a first attempt.
func (b *retryBudget) deposit() {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) >= maxBudgetEvents {
		b.forget(now)
		if len(b.events) >= maxBudgetEvents {
			b.events = b.events[1:]
		}
	}
	b.events = append(b.events, budgetEvent{now, false})
}

// withdraw reports whether a retry may go out, and counts it if so.
func (b *retryBudget) withdraw() bool {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.forget(now)
	retries := 0
	for _, e := range b.events {
		if e.retry {
			retries++
		}
	}
	calls := len(b.events) - retries
	allowed := max(b.ratio*float64(calls), minRetries)
	if float64(retries+1) > allowed {
		return false
	}
	b.events = append(b.events, budgetEvent{now, true})
	return true
}

// forget drops the events older than the window.
func (b *retryBudget) forget(now time.Time) {
	i := 0
	for i < len(b.events) && now.Sub(b.events[i].at) >= budgetWindow {
		i++
	}
	if i > 0 {
		b.events = append(b.events[:0], b.events[i:]...)
	}
}
