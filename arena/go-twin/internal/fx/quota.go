package fx

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// quota is the client-side limit on provider calls: one token bucket
// (x/time/rate) shared by every caller in the process, and a gate the
// provider can close ("wait 30 s": Retry-After, RateLimit) for everyone.
type quota struct {
	// mu orders reservations by time: rate.Limiter sets its clock to the
	// instant each reservation gives, even an earlier one than the last,
	// and then counts the refill between the two twice. Reading time.Now
	// and reserving under one lock keeps the instants increasing.
	mu     sync.Mutex
	bucket *rate.Limiter
	// closedUntil is when the provider said it may be asked again, as
	// nanoseconds on the monotonic clock (see clock); 0 when it has not.
	closedUntil atomic.Int64
}

func newQuota(perSecond float64, burst int) *quota {
	return &quota{bucket: rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))}
}

// acquire takes a token, waiting for it if it comes by deadline. When the
// token (or the provider's reopening) would come later, it refuses at once,
// takes nothing, and says when: a caller never waits past its deadline.
// (rate.Limiter.Wait refuses such waits too, but neither says when nor
// knows the provider's gate.) waited reports a wait for the token.
func (q *quota) acquire(ctx context.Context, deadline time.Time) (until time.Time, waited bool, ok bool) {
	q.mu.Lock()
	now := time.Now()
	r := q.bucket.ReserveN(now, 1)
	ready := now.Add(r.DelayFrom(now))
	if closed := q.closed(); closed.After(ready) {
		ready = closed
	}
	if !r.OK() || ready.After(deadline) {
		r.CancelAt(now)
		q.mu.Unlock()
		return ready, false, false
	}
	q.mu.Unlock()
	if !ready.After(now) {
		return ready, false, true
	}
	t := time.NewTimer(ready.Sub(now))
	defer t.Stop()
	select {
	case <-t.C:
		return ready, true, true
	case <-ctx.Done(): // the token is spent: errs on the side of fewer calls
		return ready, true, false
	}
}

// closeUntil closes the gate until at, or later if already so.
func (q *quota) closeUntil(at time.Time) {
	n := clock.from(at)
	for {
		cur := q.closedUntil.Load()
		if cur >= n || q.closedUntil.CompareAndSwap(cur, n) {
			return
		}
	}
}

// closed is when the gate reopens (the zero Time when it never closed).
func (q *quota) closed() time.Time {
	n := q.closedUntil.Load()
	if n == 0 {
		return time.Time{}
	}
	return clock.at(n)
}

// monotonic converts instants to int64 nanoseconds since the process
// started and back, on the monotonic clock, for atomics.
type monotonic struct{ epoch time.Time }

var clock = monotonic{epoch: time.Now()}

func (m monotonic) from(t time.Time) int64 { return max(int64(t.Sub(m.epoch)), 1) }
func (m monotonic) at(n int64) time.Time   { return m.epoch.Add(time.Duration(n)) }
