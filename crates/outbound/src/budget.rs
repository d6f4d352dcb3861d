//! A retry budget: retries may add at most a share of the calls made over
//! the last few seconds (plus a small floor, so a quiet client can still
//! retry), so an outage never multiplies the traffic a provider sees.
//!
//! tower's `retry::budget::TpsBudget` does this with the same idea; ours
//! uses tokio's clock (so tests can pause it) and sits outside tower, as the
//! rest of the policy does.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long calls and retries are remembered.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Retries allowed over the window whatever the calls: the floor.
pub const MIN_RETRIES: u32 = 3;

/// The budget.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    events: Mutex<Vec<(Instant, bool)>>,
}

/// Most events remembered: enough for any rate the quota allows; past it,
/// the oldest are forgotten first (the budget errs towards fewer retries).
const MAX_EVENTS: usize = 4096;

// === impl RetryBudget ===

impl RetryBudget {
    /// Retries ≤ `ratio` × calls over [`WINDOW`], at least [`MIN_RETRIES`].
    pub fn new(ratio: f64) -> Self {
        Self { ratio: ratio.clamp(0.0, 1.0), events: Mutex::new(Vec::new()) }
    }

    /// A first attempt was made.
    pub fn deposit(&self) {
        self.push(false);
    }

    /// May a retry go out? Counts it if so.
    pub fn withdraw(&self) -> bool {
        let now = Instant::now();
        let mut events = self.lock();
        events.retain(|(at, _)| now.saturating_duration_since(*at) < WINDOW);
        let retries = events.iter().filter(|(_, retry)| *retry).count() as f64;
        let calls = events.len() as f64 - retries;
        let allowed = (self.ratio * calls).max(f64::from(MIN_RETRIES));
        if retries + 1.0 > allowed {
            return false;
        }
        events.push((now, true));
        true
    }

    fn push(&self, retry: bool) {
        let now = Instant::now();
        let mut events = self.lock();
        if events.len() >= MAX_EVENTS {
            events.retain(|(at, _)| now.saturating_duration_since(*at) < WINDOW);
            if events.len() >= MAX_EVENTS {
                events.remove(0);
            }
        }
        events.push((now, retry));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Instant, bool)>> {
        self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_are_a_share_of_recent_calls() {
        let budget = RetryBudget::new(0.2);
        for _ in 0..50 {
            budget.deposit();
        }
        let granted = (0..100).filter(|_| budget.withdraw()).count();
        assert_eq!(granted, 10, "20 % of 50 calls");
        tokio::time::advance(WINDOW).await;
        let floor = (0..100).filter(|_| budget.withdraw()).count();
        assert_eq!(floor, MIN_RETRIES as usize, "the calls aged out: only the floor is left");
    }
}
