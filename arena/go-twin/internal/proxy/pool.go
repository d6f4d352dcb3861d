package proxy

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Passive ejection without active checks: the first probe after a backoff
// of minBackoff, doubling after each failed probe up to maxBackoff.
const (
	minBackoff = time.Second
	maxBackoff = 60 * time.Second
)

// upstream is one member of a pool and its health.
type upstream struct {
	Upstream
	index   int          // its bit in a request's tried set
	active  atomic.Int64 // requests in flight (least_requests, p2c, the gauge)
	healthy atomic.Bool

	mu       sync.Mutex   // guards the fields below
	fails    atomic.Int32 // consecutive failures (checks or proxied requests); written under mu
	passes   int          // consecutive passing checks while ejected
	backoff  time.Duration
	probeAt  time.Time // passive: when the next probe may go
	probing  bool      // passive: a probe request is in flight
	requests [numClasses]counter
}

// pool chooses upstreams and keeps their health (docs/design/proxy.md,
// "Health"). Every method is safe for concurrent use.
type pool struct {
	ups       []*upstream
	lb        Balancer
	next      atomic.Uint64 // round-robin position
	ejected   atomic.Int32  // upstreams out of rotation: only then is a probe looked for
	checked   bool          // active checks: only they bring an ejected upstream back
	unhealthy int           // consecutive failures that eject
	healthy   int           // consecutive passing checks that bring back
	now       func() time.Time
	onChange  func(u *upstream, healthy bool) // told of each ejection and return; may be nil
}

func newPool(rc *RouteConfig) *pool {
	p := &pool{lb: rc.LB, unhealthy: 3, healthy: 2, now: time.Now}
	if h := rc.Health; h != nil {
		p.unhealthy, p.healthy = h.UnhealthyThreshold, h.HealthyThreshold
		p.checked = h.Path != ""
	}
	for i, u := range rc.Upstreams {
		up := &upstream{Upstream: u, index: i}
		up.healthy.Store(true)
		p.ups = append(p.ups, up)
	}
	return p
}

// pick chooses an upstream not in tried (a bitmask of indexes), or nil when
// none is healthy. probe is set when the choice is an ejected upstream let
// through as the one probe of its backoff; the caller reports the outcome
// (succeeded, failed or released).
func (p *pool) pick(tried uint64) (u *upstream, probe bool) {
	if p.ejected.Load() > 0 && !p.checked {
		if u := p.claimProbe(tried); u != nil {
			return u, true
		}
	}
	n := len(p.ups)
	if n == 1 {
		if u := p.ups[0]; u.healthy.Load() && tried == 0 {
			return u, false
		}
		return nil, false
	}
	switch p.lb {
	case LeastRequests:
		return p.least(tried), false
	case P2C:
		return p.p2c(tried), false
	}
	start := p.start(tried)
	for k := range n {
		u := p.ups[(start+k)%n]
		if u.healthy.Load() && tried&(1<<u.index) == 0 {
			return u, false
		}
	}
	return nil, false
}

// start is where a scan of the pool begins: the next in turn for a first
// attempt; a retry (tried != 0) scans on from the current turn without
// taking one, so a dead upstream does not make every later request start
// on it.
func (p *pool) start(tried uint64) int {
	if tried != 0 {
		return int(p.next.Load() % uint64(len(p.ups)))
	}
	return int(p.next.Add(1) % uint64(len(p.ups)))
}

// least is the healthy upstream with the fewest requests in flight; ties go
// round-robin, so an idle pool is still spread evenly.
func (p *pool) least(tried uint64) *upstream {
	n := len(p.ups)
	start := p.start(tried)
	var best *upstream
	var bestActive int64
	for k := range n {
		u := p.ups[(start+k)%n]
		if !u.healthy.Load() || tried&(1<<u.index) != 0 {
			continue
		}
		if a := u.active.Load(); best == nil || a < bestActive {
			best, bestActive = u, a
		}
	}
	return best
}

// p2c draws two distinct eligible upstreams at random and takes the one
// with fewer requests in flight (power of two choices).
func (p *pool) p2c(tried uint64) *upstream {
	var buf [maxUpstreams]*upstream
	cands := buf[:0]
	for _, u := range p.ups {
		if u.healthy.Load() && tried&(1<<u.index) == 0 {
			cands = append(cands, u)
		}
	}
	switch len(cands) {
	case 0:
		return nil
	case 1:
		return cands[0]
	}
	i := rand.IntN(len(cands))
	j := rand.IntN(len(cands) - 1)
	if j >= i {
		j++
	}
	a, b := cands[i], cands[j]
	if b.active.Load() < a.active.Load() {
		return b
	}
	return a
}

// claimProbe lets one request through to an ejected upstream whose backoff
// has passed (no active checks).
func (p *pool) claimProbe(tried uint64) *upstream {
	now := p.now()
	for _, u := range p.ups {
		if u.healthy.Load() || tried&(1<<u.index) != 0 {
			continue
		}
		u.mu.Lock()
		ok := !u.healthy.Load() && !u.probing && !now.Before(u.probeAt)
		if ok {
			u.probing = true
		}
		u.mu.Unlock()
		if ok {
			return u
		}
	}
	return nil
}

// failed records a failure of u: a connect error, a reset, a response head
// timeout (the proxy's own 502–504) or a failed check.
func (p *pool) failed(u *upstream, probe bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fails := u.fails.Add(1)
	u.passes = 0
	switch {
	case probe:
		u.probing = false
		u.backoff = min(u.backoff*2, maxBackoff)
		u.probeAt = p.now().Add(u.backoff)
	case u.healthy.Load() && int(fails) >= p.unhealthy:
		u.healthy.Store(false)
		p.ejected.Add(1)
		u.backoff = minBackoff
		u.probeAt = p.now().Add(u.backoff)
		p.changed(u, false)
	}
}

// succeeded records a response head from u: the failure run ends, and a
// passing probe brings u back.
func (p *pool) succeeded(u *upstream, probe bool) {
	if !probe && u.fails.Load() == 0 {
		return // the hot path: no lock
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.fails.Store(0)
	if probe {
		u.probing = false
		if !u.healthy.Load() {
			u.healthy.Store(true)
			p.ejected.Add(-1)
			p.changed(u, true)
		}
	}
}

// released ends a probe that neither passed nor failed (the client went
// away): the next request may probe at once.
func (p *pool) released(u *upstream, probe bool) {
	if probe {
		u.mu.Lock()
		u.probing = false
		u.mu.Unlock()
	}
}

// check records an active check of u.
func (p *pool) check(u *upstream, pass bool) {
	if !pass {
		p.failed(u, false)
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.fails.Store(0)
	if !u.healthy.Load() {
		u.passes++
		if u.passes >= p.healthy {
			u.passes = 0
			u.healthy.Store(true)
			p.ejected.Add(-1)
			p.changed(u, true)
		}
	}
}

func (p *pool) changed(u *upstream, healthy bool) {
	if p.onChange != nil {
		p.onChange(u, healthy)
	}
}
