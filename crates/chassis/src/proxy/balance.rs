//! A route's upstreams: which one takes the next request (round robin,
//! least requests, or the better of two drawn at random), and which are
//! out of rotation because they failed.
//!
//! Passive ejection: `unhealthy_threshold` consecutive failures (no
//! connection, a reset, a timeout) take an upstream out for a backoff that
//! starts at 1 s and doubles to 60 s; when it ends, one request goes to it
//! as a probe, and its outcome brings it back or doubles the backoff.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How the next upstream is chosen among those in rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    LeastRequests,
    /// Power of two choices: two drawn at random, the one with fewer
    /// requests in flight.
    PowerOfTwo,
}

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One upstream and its state.
#[derive(Debug)]
pub struct Upstream {
    /// As configured (`127.0.0.1:9001`): a metric label and a log field.
    pub name: std::sync::Arc<str>,
    /// `host:port`, the request target's authority.
    pub authority: http::uri::Authority,
    /// The same, as the `Host` field sent to it.
    pub host: http::HeaderValue,
    in_flight: AtomicUsize,
    health: Mutex<Health>,
}

#[derive(Debug)]
struct Health {
    /// Consecutive failures (requests or checks).
    failures: u32,
    /// Consecutive passing checks (active checks only).
    passes: u32,
    /// Out of rotation.
    ejected: bool,
    /// Without active checks: when an ejected upstream may take a probe.
    probe_at: Option<Instant>,
    backoff: Duration,
}

impl Health {
    fn fresh() -> Self {
        Self { failures: 0, passes: 0, ejected: false, probe_at: None, backoff: FIRST_BACKOFF }
    }
}

/// The upstreams of one route.
#[derive(Debug)]
pub struct Pool {
    upstreams: Vec<Upstream>,
    balance: Balance,
    unhealthy_threshold: u32,
    /// Active checks decide when an ejected upstream returns (no probes).
    active_checks: bool,
    next: AtomicUsize,
    seed: AtomicU64,
}

/// A chosen upstream: counted in flight until dropped.
#[derive(Debug)]
pub struct Picked<'a> {
    pub index: usize,
    pub upstream: &'a Upstream,
}

// === impl Pool ===

impl Pool {
    /// A pool of `upstreams`. With `active_checks`, an ejected upstream
    /// returns only through [`Pool::check_result`]; without, through a probe.
    pub fn new(
        upstreams: Vec<(String, http::uri::Authority)>,
        balance: Balance,
        unhealthy_threshold: u32,
        active_checks: bool,
    ) -> Self {
        let upstreams = upstreams
            .into_iter()
            .map(|(name, authority)| Upstream {
                name: name.into(),
                host: http::HeaderValue::from_str(authority.as_str())
                    .unwrap_or_else(|_| http::HeaderValue::from_static("localhost")),
                authority,
                in_flight: AtomicUsize::new(0),
                health: Mutex::new(Health::fresh()),
            })
            .collect();
        let seed = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
        let unhealthy_threshold = unhealthy_threshold.max(1);
        Self { upstreams, balance, unhealthy_threshold, active_checks, next: AtomicUsize::new(0), seed }
    }

    pub fn upstreams(&self) -> &[Upstream] {
        &self.upstreams
    }

    /// The upstream for the next request, skipping `tried`; `None` when no
    /// other is in rotation (or due a probe).
    pub fn choose(&self, tried: &[usize]) -> Option<Picked<'_>> {
        let now = Instant::now();
        let eligible: Vec<usize> =
            (0..self.upstreams.len()).filter(|i| !tried.contains(i) && self.upstreams[*i].in_rotation(now)).collect();
        let index = match (eligible.len(), self.balance) {
            (0, _) => return None,
            (1, _) => eligible[0],
            (n, Balance::RoundRobin) => eligible[self.next.fetch_add(1, Ordering::Relaxed) % n],
            (_, Balance::LeastRequests) => {
                // Ties go round robin, so an idle pool still spreads.
                let start = self.next.fetch_add(1, Ordering::Relaxed);
                let rotated = eligible.iter().cycle().skip(start % eligible.len()).take(eligible.len());
                *rotated.min_by_key(|i| self.upstreams[**i].in_flight()).unwrap_or(&eligible[0])
            }
            (n, Balance::PowerOfTwo) => {
                let draw = self.random();
                let a = eligible[(draw % n as u64) as usize];
                let mut b = eligible[((draw >> 32) % n as u64) as usize];
                if a == b {
                    b = eligible[(eligible.iter().position(|i| *i == a).unwrap_or(0) + 1) % n];
                }
                if self.upstreams[b].in_flight() < self.upstreams[a].in_flight() { b } else { a }
            }
        };
        let upstream = &self.upstreams[index];
        upstream.start_probe_if_due(now);
        upstream.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(Picked { index, upstream })
    }

    /// Records how an exchange with upstream `index` went.
    pub fn report(&self, index: usize, ok: bool) {
        if let Some(upstream) = self.upstreams.get(index) {
            upstream.report(ok, self.unhealthy_threshold, self.active_checks);
        }
    }

    /// Records an active check of upstream `index`: `healthy_threshold`
    /// passes in a row bring an ejected upstream back; failures count as
    /// for requests.
    pub fn check_result(&self, index: usize, ok: bool, healthy_threshold: u32) {
        let Some(upstream) = self.upstreams.get(index) else { return };
        if !ok {
            return upstream.report(false, self.unhealthy_threshold, true);
        }
        let mut health = upstream.lock();
        health.passes = health.passes.saturating_add(1);
        health.failures = 0;
        if health.ejected && health.passes >= healthy_threshold.max(1) {
            *health = Health::fresh();
            tracing::info!(upstream = %upstream.name, "upstream back in rotation");
        }
    }

    /// Whether any upstream is in rotation now.
    pub fn any_in_rotation(&self) -> bool {
        let now = Instant::now();
        self.upstreams.iter().any(|u| u.in_rotation(now))
    }

    /// splitmix64 over a shared counter: cheap, and plenty for drawing two.
    fn random(&self) -> u64 {
        let mut z = self.seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

// === impl Upstream ===

impl Upstream {
    /// Requests in flight to it now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether it is in rotation (or, ejected without active checks, its
    /// backoff is over: due a probe).
    pub fn in_rotation(&self, now: Instant) -> bool {
        let health = self.lock();
        !health.ejected || health.probe_at.is_some_and(|at| at <= now)
    }

    /// Whether it is healthy now (not ejected).
    pub fn healthy(&self) -> bool {
        !self.lock().ejected
    }

    /// An ejected upstream whose backoff is over takes one probe: the next
    /// probe waits for another backoff unless this one succeeds.
    fn start_probe_if_due(&self, now: Instant) {
        let mut health = self.lock();
        if health.ejected && health.probe_at.is_some_and(|at| at <= now) {
            health.probe_at = Some(now + health.backoff);
        }
    }

    fn report(&self, ok: bool, threshold: u32, active_checks: bool) {
        let mut health = self.lock();
        if ok {
            // With active checks, only checks bring an ejected one back.
            if !(active_checks && health.ejected) {
                *health = Health::fresh();
            }
            return;
        }
        health.failures = health.failures.saturating_add(1);
        health.passes = 0;
        if health.ejected {
            if !active_checks {
                // A failed probe: out again, for twice as long.
                health.backoff = (health.backoff * 2).min(MAX_BACKOFF);
                health.probe_at = Some(Instant::now() + health.backoff);
            }
        } else if health.failures >= threshold {
            health.ejected = true;
            health.probe_at = (!active_checks).then(|| Instant::now() + health.backoff);
            tracing::warn!(upstream = %self.name, failures = health.failures, "upstream ejected");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

// === impl Picked ===

impl Drop for Picked<'_> {
    fn drop(&mut self) {
        self.upstream.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize, balance: Balance) -> Pool {
        let upstreams = (0..n)
            .map(|i| {
                (
                    format!("127.0.0.1:{}", 9000 + i),
                    format!("127.0.0.1:{}", 9000 + i).parse().unwrap_or_else(|_| unreachable!()),
                )
            })
            .collect();
        Pool::new(upstreams, balance, 2, false)
    }

    #[test]
    fn round_robin_takes_turns_and_skips_what_was_tried() {
        let pool = pool(3, Balance::RoundRobin);
        let order: Vec<usize> = (0..6).map(|_| pool.choose(&[]).map(|p| p.index).unwrap_or(99)).collect();
        assert_eq!(order, [0, 1, 2, 0, 1, 2]);
        assert_ne!(pool.choose(&[0, 1]).map(|p| p.index), Some(0));
        assert!(pool.choose(&[0, 1, 2]).is_none());
    }

    #[test]
    fn least_requests_and_p2c_prefer_the_idle_upstream() {
        for balance in [Balance::LeastRequests, Balance::PowerOfTwo] {
            let pool = pool(2, balance);
            let busy = pool.choose(&[]).unwrap_or_else(|| unreachable!());
            let busy_index = busy.index;
            for _ in 0..20 {
                let next = pool.choose(&[]).map(|p| p.index);
                assert_eq!(next, Some(1 - busy_index), "{balance:?}");
            }
            drop(busy);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failures_eject_and_a_probe_brings_back() {
        let pool = pool(2, Balance::RoundRobin);
        pool.report(0, false);
        assert!(pool.upstreams()[0].healthy(), "one failure is not enough");
        pool.report(0, false);
        assert!(!pool.upstreams()[0].healthy());
        assert!((0..4).all(|_| pool.choose(&[]).map(|p| p.index) == Some(1)));
        tokio::time::advance(Duration::from_millis(1001)).await;
        // The probe goes out once; a failed probe doubles the backoff.
        let probes = (0..4).filter(|_| pool.choose(&[]).map(|p| p.index) == Some(0)).count();
        assert_eq!(probes, 1);
        pool.report(0, false);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(!pool.upstreams()[0].in_rotation(Instant::now()));
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(pool.choose(&[1]).is_some_and(|p| p.index == 0));
        pool.report(0, true);
        assert!(pool.upstreams()[0].healthy());
    }

    #[test]
    fn with_active_checks_only_passing_checks_bring_an_upstream_back() {
        let upstreams = vec![("a".to_owned(), "127.0.0.1:9000".parse().unwrap_or_else(|_| unreachable!()))];
        let pool = Pool::new(upstreams, Balance::RoundRobin, 2, true);
        pool.check_result(0, false, 2);
        pool.check_result(0, false, 2);
        assert!(!pool.upstreams()[0].healthy() && pool.choose(&[]).is_none());
        pool.report(0, true);
        assert!(!pool.upstreams()[0].healthy(), "a request's success does not override the checks");
        pool.check_result(0, true, 2);
        assert!(!pool.upstreams()[0].healthy());
        pool.check_result(0, true, 2);
        assert!(pool.upstreams()[0].healthy());
    }
}
