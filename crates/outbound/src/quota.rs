//! A client-side quota: one token bucket shared by every caller in the
//! process, so the provider never sees more than the configured rate
//! however many requests arrive at once. A provider that answers "wait"
//! (`Retry-After`, `RateLimit`) closes it until then.
//!
//! Written by hand: tower's `RateLimit` holds its state per service clone
//! (tokio-rs/axum#2634), so clones do not share a limit; governor shares
//! one but waits without a deadline and cannot be told "closed until". This
//! bucket takes a deadline and answers at once when a token would come too
//! late, so a caller never waits past its own deadline.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The shared bucket.
#[derive(Debug)]
pub struct Quota {
    per_second: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Tokens at `at`; negative when calls are booked ahead.
    tokens: f64,
    at: Instant,
    /// The provider said to wait until then.
    closed_until: Option<Instant>,
}

// === impl Quota ===

impl Quota {
    /// `per_second` calls on average (> 0), at most `burst` (≥ 1) at once.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        let state = State { tokens: burst, at: Instant::now(), closed_until: None };
        Self { per_second: per_second.max(f64::MIN_POSITIVE), burst, state: Mutex::new(state) }
    }

    /// Takes a token, waiting until it comes if that is by `deadline`;
    /// `Ok(true)` when it had to wait. `Err(when)` when the next token (or
    /// the provider's reopening) comes after `deadline`: nothing is taken
    /// then. A caller dropped while it waits has spent its token: the error
    /// is on the side of fewer calls.
    pub async fn acquire(&self, deadline: Instant) -> Result<bool, Instant> {
        let now = Instant::now();
        let ready = self.book(now, deadline)?;
        if ready <= now {
            return Ok(false);
        }
        tokio::time::sleep_until(ready).await;
        Ok(true)
    }

    /// Closes the bucket until `until` (the provider said so).
    pub fn close_until(&self, until: Instant) {
        let mut state = self.lock();
        state.closed_until = Some(state.closed_until.map_or(until, |closed| closed.max(until)));
    }

    /// Until when the bucket is closed, if it is.
    pub fn closed_until(&self) -> Option<Instant> {
        self.lock().closed_until.filter(|until| *until > Instant::now())
    }

    /// Books the next token: when it may be used, if that is by `deadline`.
    fn book(&self, now: Instant, deadline: Instant) -> Result<Instant, Instant> {
        let mut state = self.lock();
        let elapsed = now.saturating_duration_since(state.at).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.per_second).min(self.burst);
        state.at = now;
        let token_at = if state.tokens >= 1.0 {
            now
        } else {
            now + Duration::from_secs_f64((1.0 - state.tokens) / self.per_second)
        };
        let ready = state.closed_until.map_or(token_at, |closed| closed.max(token_at));
        if ready > deadline {
            return Err(ready);
        }
        state.tokens -= 1.0;
        Ok(ready)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_rate_after_the_burst() {
        let quota = Quota::new(10.0, 5);
        let start = Instant::now();
        let far = start + Duration::from_secs(60);
        let mut times = Vec::new();
        for _ in 0..25 {
            quota.acquire(far).await.unwrap();
            times.push(start.elapsed());
        }
        assert!(times[..5].iter().all(|t| t.is_zero()), "the burst goes at once: {times:?}");
        // 20 more at 10 per second: the last one 2 s in.
        assert_eq!(times[24], Duration::from_secs(2));
        for pair in times[5..].windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(100));
        }
    }

    /// Only a call that really waited counts as a quota wait (the metric
    /// once counted every call: any call takes some time).
    #[tokio::test(start_paused = true)]
    async fn only_a_call_that_waited_says_so() {
        let quota = Quota::new(10.0, 2);
        let far = Instant::now() + Duration::from_secs(60);
        assert_eq!(quota.acquire(far).await, Ok(false));
        assert_eq!(quota.acquire(far).await, Ok(false));
        assert_eq!(quota.acquire(far).await, Ok(true), "the burst is spent: this one waited");
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_past_the_deadline_is_refused_at_once_and_not_taken() {
        let quota = Quota::new(1.0, 1);
        let now = Instant::now();
        quota.acquire(now).await.unwrap();
        let refused = quota.acquire(now + Duration::from_millis(500)).await.unwrap_err();
        assert_eq!(refused, now + Duration::from_secs(1));
        assert_eq!(Instant::now(), now, "no waiting");
        quota.acquire(now + Duration::from_secs(1)).await.unwrap();
        assert_eq!(Instant::now(), now + Duration::from_secs(1), "the refused call took nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_bucket_waits_for_the_provider() {
        let quota = Quota::new(100.0, 10);
        let now = Instant::now();
        quota.close_until(now + Duration::from_secs(30));
        assert_eq!(quota.acquire(now + Duration::from_secs(5)).await, Err(now + Duration::from_secs(30)));
        quota.acquire(now + Duration::from_secs(31)).await.unwrap();
        assert_eq!(Instant::now(), now + Duration::from_secs(30));
        assert_eq!(quota.closed_until(), None);
    }
}
