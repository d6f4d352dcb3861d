// Package fx prices products in any currency: exchange rates from a
// Frankfurter v2 provider, cached per base currency (request coalescing
// with x/sync/singleflight, stale-if-error), fetched under the outbound
// policy (bulkhead, sony/gobreaker, an x/time/rate quota the provider can
// close, retries within a budget) and read strictly. docs/design/fx.md is
// the contract; the Rust service's crates/outbound and src/fx the twin.
package fx

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"overkill/arena/go-twin/internal/currency"
)

// Settings are the [fx] settings (config.go states their bounds).
type Settings struct {
	URL                string // the provider's base URL; "" turns conversion off
	ConnectTimeout     time.Duration
	AttemptTimeout     time.Duration
	Deadline           time.Duration // all attempts and waits of one lookup
	QuotaPerSecond     float64
	QuotaBurst         int
	MaxInFlight        int
	MaxAttempts        int
	RetryBudgetRatio   float64
	BreakerFailureRate float64
	BreakerMinCalls    int
	BreakerWindow      time.Duration
	BreakerOpen        time.Duration
	CacheTTL           time.Duration
	StaleLimit         time.Duration
}

// deadlineMargin is kept back from the request's own deadline, so a late
// provider becomes fx-unavailable rather than the generic timeout.
const deadlineMargin = 20 * time.Millisecond

// Client gives exchange rates. A nil *Client is conversion turned off:
// every method answers Disabled.
type Client struct {
	provider   *provider
	policy     *policy
	deadline   time.Duration
	ttl        time.Duration
	staleLimit time.Duration
	// entries[c.Index()] is the cached table of base currency c: one slot
	// per listed currency, so the cache is bounded by the list (a key is
	// never client text) and a hit is one atomic load.
	entries []atomic.Pointer[entry]
	flights singleflight.Group // keyed by the base's code: concurrent misses make one call
	today   atomic.Pointer[day]
}

type entry struct {
	table *Table
	at    time.Time // when it was fetched (monotonic)
}

// Source says how fresh a rate is.
type Source uint8

const (
	Live   Source = iota // fetched for this request, or one it waited on
	Cached               // from the cache, within its TTL
	Stale                // past the TTL, served because the provider failed
)

func (s Source) String() string { return [...]string{"live", "cached", "stale"}[s] }

// Quote is a rate from one currency to another, and how fresh it is.
type Quote struct {
	Rate   Rate
	Text   string // Rate in plain decimal notation
	Date   string // the provider's date for it, YYYY-MM-DD
	Source Source
}

// New returns the client s describes, or nil (conversion off) when s.URL
// is empty. Its metrics are registered with reg.
func New(s Settings, reg prometheus.Registerer, log *slog.Logger) *Client {
	if s.URL == "" {
		return nil
	}
	c := &Client{
		provider:   newProvider(s.URL, s.ConnectTimeout, s.MaxInFlight),
		policy:     newPolicy(s, log),
		deadline:   s.Deadline,
		ttl:        s.CacheTTL,
		staleLimit: s.StaleLimit,
		entries:    make([]atomic.Pointer[entry], currency.Count),
	}
	if reg != nil {
		reg.MustRegister(c.policy.metrics.collectors...)
	}
	return c
}

// Enabled reports whether conversion is on.
func (c *Client) Enabled() bool { return c != nil }

// BreakerState is the breaker's state for /readyz: closed, open or
// half_open ("" when conversion is off).
func (c *Client) BreakerState() string {
	if c == nil {
		return ""
	}
	switch breakerGauge(c.policy.breaker.State()) {
	case 1:
		return "half_open"
	case 2:
		return "open"
	}
	return "closed"
}

// Rate is the rate from from to to, looked up within the FX deadline and
// before ctx's own deadline (less a margin).
func (c *Client) Rate(ctx context.Context, from, to currency.Currency) (Quote, *Error) {
	if c == nil {
		return Quote{}, errDisabled
	}
	if from == to {
		return Quote{Rate: one, Text: "1", Date: c.todayUTC(), Source: Live}, nil
	}
	table, source, err := c.lookup(ctx, from)
	if err != nil {
		return Quote{}, err
	}
	if table.unsupported {
		return Quote{}, unsupported(from)
	}
	q, ok := table.lookup(to)
	if !ok {
		return Quote{}, unsupported(to)
	}
	return Quote{Rate: q.rate, Text: q.text, Date: q.date, Source: source}, nil
}

// lookup is base's table: fresh from the cache, or fetched under the policy
// (one call however many ask at once), or stale when that fails.
func (c *Client) lookup(ctx context.Context, base currency.Currency) (*Table, Source, *Error) {
	slot := &c.entries[base.Index()]
	now := time.Now()
	if e := slot.Load(); e != nil && now.Sub(e.at) < c.ttl {
		c.policy.metrics.hit.Inc()
		return e.table, Cached, nil
	}
	deadline := now.Add(c.deadline)
	if d, ok := ctx.Deadline(); ok && d.Add(-deadlineMargin).Before(deadline) {
		deadline = d.Add(-deadlineMargin)
	}
	if !deadline.After(now) { // no time left to ask: a stale rate or nothing
		return c.fallback(slot, nil)
	}
	// The call runs on its own goroutine under the first caller's deadline,
	// not its cancellation: one caller leaving does not fail the others.
	// Every caller leaves by its own deadline (the result channel is
	// buffered: a call nobody waits for any more still ends, by its deadline).
	calls := c.flights.DoChan(base.Code(), func() (any, error) {
		fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		return c.fetch(fctx, base, deadline)
	})
	var failure *callError
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case res := <-calls:
		if res.Err == nil {
			c.policy.metrics.miss.Inc()
			return res.Val.(*Table), Live, nil
		}
		failure = res.Err.(*callError)
	case <-t.C:
	case <-ctx.Done():
	}
	return c.fallback(slot, failure)
}

// fallback answers a lookup whose call failed (failure nil: it could not
// wait for one): the entry if it is within the stale limit, else
// fx-unavailable with the time the provider may be asked again.
func (c *Client) fallback(slot *atomic.Pointer[entry], failure *callError) (*Table, Source, *Error) {
	if e := slot.Load(); e != nil && time.Since(e.at) < c.ttl+c.staleLimit {
		c.policy.metrics.stale.Inc()
		return e.table, Stale, nil
	}
	c.policy.metrics.miss.Inc()
	var retryAt time.Time
	if failure != nil {
		retryAt = failure.retryAt
	}
	return nil, 0, unavailable(retryAt)
}

// fetch asks the provider for base's table and caches the answer (a 422
// too: the base is not quoted, which is an answer).
func (c *Client) fetch(ctx context.Context, base currency.Currency, deadline time.Time) (*Table, error) {
	slot := &c.entries[base.Index()]
	if e := slot.Load(); e != nil && time.Since(e.at) < c.ttl { // a call that just ended filled it
		return e.table, nil
	}
	table, err := c.policy.call(ctx, deadline, func(actx context.Context) (*Table, *attemptError) {
		return c.provider.rates(actx, base)
	})
	if err != nil {
		return nil, err
	}
	slot.Store(&entry{table: table, at: time.Now()})
	return table, nil
}

type day struct {
	yday int64 // days since the Unix epoch
	text string
}

// todayUTC is today's UTC date, YYYY-MM-DD, formatted once a day.
func (c *Client) todayUTC() string {
	now := time.Now().UTC()
	n := now.Unix() / 86400
	if d := c.today.Load(); d != nil && d.yday == n {
		return d.text
	}
	d := &day{yday: n, text: now.Format(time.DateOnly)}
	c.today.Store(d)
	return d.text
}

// AppendConverted appends the "converted" member's object:
// {"currency":…,"amount_minor":…,"rate":…,"rate_date":…,"source":…}.
func AppendConverted(b []byte, to currency.Currency, amountMinor int64, q *Quote) []byte {
	b = append(b, `{"currency":"`...)
	b = append(b, to.Code()...)
	b = append(b, `","amount_minor":`...)
	b = strconv.AppendInt(b, amountMinor, 10)
	b = appendRate(b, q)
	return append(b, '}')
}

// appendRate appends `,"rate":"…","rate_date":"…","source":"…"` (every
// value is ASCII digits, '.', '-' or a fixed word: nothing to escape).
func appendRate(b []byte, q *Quote) []byte {
	b = append(b, `,"rate":"`...)
	b = append(b, q.Text...)
	b = append(b, `","rate_date":"`...)
	b = append(b, q.Date...)
	b = append(b, `","source":"`...)
	b = append(b, q.Source.String()...)
	return append(b, '"')
}
