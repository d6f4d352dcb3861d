//! The provider's quota: one token bucket shared by every caller.
//!
//! Tokens are counted in integer units of a billionth of a token, refilled
//! per elapsed nanosecond, so the bucket is exact: with `rate` tokens per
//! second and `burst` capacity, any span of `s` seconds admits at most
//! `burst + rate × s` calls, and a test under tokio's paused clock can count
//! them to the call. Time is tokio's, so that clock drives it.

use std::time::Duration;

use tokio::time::Instant;

/// Units in one token (one per nanosecond of refill at one token a second).
const UNITS: u128 = 1_000_000_000;

/// The name of the one policy in the `RateLimit` headers.
pub const POLICY: &str = "fx-sim";

/// A token bucket; `rate == 0` means no quota.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens added per second.
    rate: u32,
    /// Capacity in tokens (at least 1 when `rate > 0`).
    burst: u32,
    /// Tokens held, in [`UNITS`].
    units: u128,
    /// When `units` was last brought up to date.
    last: Instant,
}

/// The bucket's answer to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No quota is configured.
    Unlimited,
    /// Admitted: `remaining` whole tokens are left, and the next one is
    /// added in `reset_secs` (0 when the bucket is full).
    Allowed { remaining: u64, reset_secs: u64 },
    /// Refused: a token is available again in `retry_after_secs` (≥ 1).
    Refused { retry_after_secs: u64 },
}

// === impl TokenBucket ===

impl TokenBucket {
    /// A full bucket. `burst == 0` means a burst of one second's rate.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = if burst == 0 { rate.max(1) } else { burst };
        Self { rate, burst, units: u128::from(burst) * UNITS, last: now }
    }

    /// Takes one token at `now` if there is one.
    pub fn take(&mut self, now: Instant) -> Decision {
        if self.rate == 0 {
            return Decision::Unlimited;
        }
        self.refill(now);
        if self.units >= UNITS {
            self.units -= UNITS;
            let missing = self.capacity() - self.units;
            let reset_secs = if missing == 0 { 0 } else { self.secs_until(UNITS - self.units % UNITS) };
            Decision::Allowed { remaining: u64::try_from(self.units / UNITS).unwrap_or(u64::MAX), reset_secs }
        } else {
            Decision::Refused { retry_after_secs: self.secs_until(UNITS - self.units) }
        }
    }

    /// The `RateLimit-Policy` field value, or `None` without a quota: a
    /// sustained `q` calls per `w` = 1 second, and the burst as a
    /// vendor-prefixed parameter (draft-ietf-httpapi-ratelimit-headers-10,
    /// which allows such parameters and has clients ignore them).
    pub fn policy(&self) -> Option<String> {
        (self.rate > 0).then(|| format!("\"{POLICY}\";q={};w=1;fx-sim-burst={}", self.rate, self.burst))
    }

    fn capacity(&self) -> u128 {
        u128::from(self.burst) * UNITS
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        self.units = self.units.saturating_add(elapsed.saturating_mul(u128::from(self.rate))).min(self.capacity());
        self.last = now;
    }

    /// Whole seconds (rounded up, at least 1) until `units` more are added.
    fn secs_until(&self, units: u128) -> u64 {
        let nanos = units.div_ceil(u128::from(self.rate));
        let secs = nanos.div_ceil(Duration::from_secs(1).as_nanos());
        u64::try_from(secs).unwrap_or(u64::MAX).max(1)
    }
}

/// The `RateLimit` field value for a decision, if it has one.
pub fn service_limit(decision: Decision) -> Option<String> {
    match decision {
        Decision::Unlimited => None,
        Decision::Allowed { remaining, reset_secs } => Some(format!("\"{POLICY}\";r={remaining};t={reset_secs}")),
        Decision::Refused { retry_after_secs } => Some(format!("\"{POLICY}\";r=0;t={retry_after_secs}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_admits_the_burst_then_refuses_with_the_wait() {
        let mut bucket = TokenBucket::new(2, 3, Instant::now());
        let now = Instant::now();
        assert_eq!(bucket.take(now), Decision::Allowed { remaining: 2, reset_secs: 1 });
        bucket.take(now);
        assert_eq!(bucket.take(now), Decision::Allowed { remaining: 0, reset_secs: 1 });
        assert_eq!(bucket.take(now), Decision::Refused { retry_after_secs: 1 });
        // Half a second later, one token (2/s) is back, and only one.
        let later = now + Duration::from_millis(500);
        assert!(matches!(bucket.take(later), Decision::Allowed { .. }));
        assert!(matches!(bucket.take(later), Decision::Refused { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn admits_exactly_burst_plus_rate_times_elapsed() {
        // 5/s, burst 10, a call every 10 ms for 10 s (1000 calls): the first
        // 10 from the burst, then exactly 5 a second.
        let start = Instant::now();
        let mut bucket = TokenBucket::new(5, 10, start);
        let admitted = (0..1_000u64)
            .filter(|i| {
                let at = start + Duration::from_millis(i * 10);
                matches!(bucket.take(at), Decision::Allowed { .. })
            })
            .count();
        // Time runs 0 … 9.99 s: 10 + floor(9.99 × 5) = 59 tokens.
        assert_eq!(admitted, 59);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_rate_reports_a_long_wait() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1, 1, start);
        assert!(matches!(bucket.take(start), Decision::Allowed { .. }));
        assert_eq!(bucket.take(start + Duration::from_millis(100)), Decision::Refused { retry_after_secs: 1 });
        // With a burst of 1, the bucket is full again after one second and
        // the reset is 0 only when full.
        assert_eq!(bucket.take(start + Duration::from_secs(5)), Decision::Allowed { remaining: 0, reset_secs: 1 });
    }

    #[tokio::test(start_paused = true)]
    async fn no_rate_means_no_quota_and_no_headers() {
        let mut bucket = TokenBucket::new(0, 0, Instant::now());
        for _ in 0..1_000 {
            assert_eq!(bucket.take(Instant::now()), Decision::Unlimited);
        }
        assert_eq!(bucket.policy(), None);
        assert_eq!(service_limit(Decision::Unlimited), None);
    }

    #[test]
    fn headers_use_the_structured_field_syntax() {
        let bucket = TokenBucket::new(5, 10, Instant::now());
        assert_eq!(bucket.policy().as_deref(), Some("\"fx-sim\";q=5;w=1;fx-sim-burst=10"));
        assert_eq!(service_limit(Decision::Refused { retry_after_secs: 2 }).as_deref(), Some("\"fx-sim\";r=0;t=2"));
        assert_eq!(
            TokenBucket::new(3, 0, Instant::now()).policy().as_deref(),
            Some("\"fx-sim\";q=3;w=1;fx-sim-burst=3")
        );
    }
}
